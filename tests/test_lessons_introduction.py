"""cnncourse.lessons.introduction: the compute functions behind chapter 01, checked against PyTorch."""
import pytest
import torch
from torch import nn

from cnncourse import models
from cnncourse.lessons import introduction as intro


@pytest.fixture(scope="module")
def digits():
    from cnncourse import data

    ds = data.load_dataset("mnist-offline")
    return ds.images[:40], ds.labels[:40]


def test_milestones_are_dated_in_order():
    years = [m.year for m in intro.MILESTONES]
    assert years == sorted(years)
    names = " ".join(m.name for m in intro.MILESTONES)
    for key in ("Hubel", "Neocognitron", "LeNet-5", "ImageNet", "AlexNet", "ResNet"):
        assert key in names
    assert {m.kind for m in intro.MILESTONES} <= {"neuroscience", "model", "data & compute"}
    assert all(m.reference for m in intro.MILESTONES)


def test_layer_shapes_of_lenet5_and_model_left_alone():
    model = models.LeNet5().train()
    rows = intro.layer_shapes(model, torch.zeros(2, 1, 28, 28))
    shapes = {r.name: r.shape for r in rows}
    assert shapes["features.conv1"] == (2, 6, 28, 28)
    assert shapes["features.pool1"] == (2, 6, 14, 14)
    assert shapes["features.conv2"] == (2, 16, 10, 10)
    assert shapes["features.pool2"] == (2, 16, 5, 5)
    assert shapes["classifier.flatten"] == (2, 400)
    assert shapes["classifier.fc3"] == (2, 10)
    assert sum(r.parameters for r in rows) == models.count_parameters(model) == 61_706
    assert not any(name.startswith(("features.norm", "classifier.drop")) for name in shapes)  # do-nothing layers
    assert {r.kind for r in rows} == {"convolution", "activation", "pooling", "flatten", "fully connected"}
    assert model.training
    assert not any(m._forward_hooks for m in model.modules())
    text = intro.format_layer_shapes(rows, (2, 1, 28, 28))
    assert "61,706" in text and "(2, 1, 28, 28)" in text


def test_weight_sharing_counts_match_the_formulas():
    rows = intro.weight_sharing_rows(torch.rand(1, 28, 28), out_channels=6, kernel_size=5)
    counts = {r.layer: r.parameters for r in rows}
    assert counts["fully connected"] == 784 * 4704 + 4704
    assert counts["locally connected"] == 784 * 6 * 25 + 4704
    assert counts["convolution (shared)"] == 6 * 25 + 6
    assert all(r.output_shape == (1, 6, 28, 28) for r in rows)
    assert "23,671x" in intro.format_param_rows(rows)
    assert models.count_parameters(intro.mlp_300_100()) == 266_610


def test_locally_connected_with_tied_kernels_is_conv2d():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    local = intro.LocallyConnected2d(3, 4, 3, input_size=7, padding=1)
    with torch.no_grad():
        local.weight.copy_(conv.weight.reshape(1, 4, 27).expand(49, 4, 27))
        local.bias.copy_(conv.bias.view(4, 1, 1).expand(4, 7, 7))
    x = torch.randn(2, 3, 7, 7)
    torch.testing.assert_close(local(x), conv(x))
    # untied, no padding: the output shrinks as for a convolution, and each position has its own kernel
    local = intro.LocallyConnected2d(1, 2, 3, input_size=5)
    assert local(torch.randn(1, 1, 5, 5)).shape == (1, 2, 3, 3)
    with pytest.raises(ValueError, match="does not fit"):
        intro.LocallyConnected2d(1, 2, 7, input_size=5)


def test_translate_zero_fills_keeps_shape_and_input():
    x = torch.arange(1, 17, dtype=torch.float32).view(1, 1, 4, 4)
    before = x.clone()
    y = intro._translate(x, 1, 0)
    assert torch.equal(x, before)
    assert torch.equal(y[..., :, 0], torch.zeros(1, 1, 4))
    assert torch.equal(y[..., :, 1:], x[..., :, :3])
    assert torch.equal(intro._translate(x, 0, -2)[..., :2, :], x[..., 2:, :])
    assert torch.equal(intro._translate(x, 0, -2)[..., 2:, :], torch.zeros(1, 1, 2, 4))
    assert torch.equal(intro._translate(x, 4, 0), torch.zeros_like(x))
    assert torch.equal(intro._translate(x, 0, 0), x)
    assert intro._translate(x.double(), 1, 1).dtype == torch.float64
    # round trip: shifting back recovers the interior
    assert torch.equal(intro._translate(intro._translate(x, 1, 1), -1, -1)[..., :3, :3], x[..., :3, :3])


def test_conv_is_equivariant_and_not_invariant(digits):
    images, _ = digits
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 6, 5, padding=2)
    for dx, dy in [(1, 0), (0, 3), (-2, 2)]:
        assert intro.equivariance_error(conv, images, dx, dy, margin=max(abs(dx), abs(dy)) + 2) < 1e-5
    with torch.no_grad():
        moved = conv(intro._translate(images, 2, 0))
        assert (moved - conv(images)).abs().max() > 0.1  # the map moves: not invariant
    with pytest.raises(ValueError, match="changes the map size"):
        intro.equivariance_error(nn.MaxPool2d(2), images, 2, 0, margin=3)
    with pytest.raises(ValueError, match="leaves nothing"):
        intro.equivariance_error(conv, images, 1, 0, margin=14)


def test_invariance_profile_shapes_and_zero_shift(digits):
    images, labels = digits
    torch.manual_seed(0)
    model = models.LeNet5()
    profile = intro.invariance_profile(model, images, labels, shifts=(0, 1, 3))
    assert list(profile.change) == ["pixels", "features.act1", "features.pool1", "features.pool2", "classifier.fc3"]
    assert all(values[0] == 0 for values in profile.change.values())
    assert profile.agreement[0] == 1.0
    assert all(v > 0 for v in profile.change["pixels"][1:])
    assert len(profile.accuracy) == 3 and all(0 <= a <= 1 for a in profile.accuracy)
    assert "same class" in profile.table()


def test_nearest_centroid_and_separability(digits):
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    y = torch.arange(40) % 2
    x = centres[y] + 0.1 * torch.randn(40, 2, generator=g)
    assert intro.nearest_centroid_accuracy(x, y, x, y, num_classes=2) == 1.0
    import numpy as np

    from cnncourse import data

    few = data.stratified_subset(data.load_dataset("mnist-offline"), 200, seed=0)  # 20 of each digit
    tr, te = slice(0, None, 2), slice(1, None, 2)
    model = models.LeNet5().eval()
    result = intro.layer_separability(model, few.images[tr], few.labels[tr], few.images[te], few.labels[te],
                                      stages=("features.pool2",))
    assert list(result) == ["pixels", "features.pool2"]
    # the same probe computed independently, in numpy, on the pixels and on a forward hook's output
    seen = {}
    model.features.pool2.register_forward_hook(lambda _m, _i, out: seen.update(pool2=out.flatten(1)))
    with torch.no_grad():
        model(few.images[tr])
        train_features = seen["pool2"]
        model(few.images[te])
        test_features = seen["pool2"]
    for key, (a, b) in {"pixels": (few.images[tr].flatten(1), few.images[te].flatten(1)),
                        "features.pool2": (train_features, test_features)}.items():
        a, b, ya, yb = a.double().numpy(), b.double().numpy(), few.labels[tr].numpy(), few.labels[te].numpy()
        means = np.stack([a[ya == c].mean(0) for c in range(10)])
        expected = (((b[:, None, :] - means[None]) ** 2).sum(-1).argmin(1) == yb).mean()
        assert result[key] == pytest.approx(expected), key
    assert 0.3 < result["pixels"] < 1  # real digits: far above chance (0.1), not trivially perfect


def test_misclassified_most_confident_first():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    labels = torch.tensor([1, 1, 0, 0])
    assert intro.misclassified(probs, labels).tolist() == [0, 3, 2]
    assert intro.misclassified(probs, labels, limit=1).tolist() == [0]
    assert intro.misclassified(probs, torch.tensor([0, 1, 1, 1])).numel() == 0


def test_tile_maps_layout():
    maps = torch.rand(6, 4, 5)
    mosaic = intro.tile_maps(maps, ncols=3)
    assert mosaic.shape == (2 * 4 + 1, 3 * 5 + 2)
    assert torch.isnan(mosaic[4]).all()  # the gap row
    body = mosaic[~torch.isnan(mosaic)]
    assert body.min() >= 0 and body.max() <= 1
    assert intro.tile_maps(torch.zeros(2, 3, 3)).nan_to_num().abs().max() == 0  # blank maps stay blank


def test_digit_view(digits):
    images, labels = digits
    model = models.LeNet5().train()
    view = intro.digit_view(model, images, labels, 3)
    assert model.training
    assert view.maps["features.act1"].shape == (6, 28, 28) and view.maps["features.act2"].shape == (16, 10, 10)
    assert torch.isclose(view.probabilities.sum(), torch.tensor(1.0))
    with torch.no_grad():
        expected = model.eval()(images[3:4]).softmax(1)[0]
    torch.testing.assert_close(view.probabilities, expected)
    assert view.label == int(labels[3]) and view.prediction == int(expected.argmax())
    assert "image 3" in intro.summarize_digit_view(view)
    with pytest.raises(IndexError):
        intro.digit_view(model, images, labels, 40)


def test_count_multiply_adds_from_the_formulas():
    x = torch.zeros(1, 1, 28, 28)
    lenet_macs = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    model = models.LeNet5().train()
    assert intro.count_multiply_adds(model, torch.zeros(3, 1, 28, 28)) == lenet_macs == 416_520
    assert model.training and not any(m._forward_hooks for m in model.modules())
    assert intro.count_multiply_adds(intro.mlp_300_100(), x) == 784 * 300 + 300 * 100 + 100 * 10
    grouped = nn.Conv2d(4, 8, 3, groups=2)
    assert intro.count_multiply_adds(grouped, torch.zeros(1, 4, 5, 5)) == 8 * 3 * 3 * 2 * 9


def test_layer_shapes_of_a_single_layer():
    rows = intro.layer_shapes(nn.Conv2d(3, 8, 3), torch.zeros(1, 3, 10, 10))
    assert [(r.name, r.kind, r.shape, r.parameters) for r in rows] == [("Conv2d", "convolution", (1, 8, 8, 8), 224)]


def _hog_by_loops(image, cell, bins, block):
    """HOG of one (H, W) image, pixel by pixel in plain Python: the reference for hog_features."""
    import math

    import numpy as np

    h, w = image.shape
    padded = np.pad(image, 1)
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
    cells = np.zeros((h // cell, w // cell, bins))
    for r in range(h):
        for c in range(w):
            patch = padded[r:r + 3, c:c + 3]
            gx, gy = (patch * sx).sum(), (patch * sx.T).sum()
            magnitude, angle = math.hypot(gx, gy), math.atan2(gy, gx) % math.pi
            position = angle / math.pi * bins - 0.5
            low = math.floor(position)
            share = position - low
            cells[r // cell, c // cell, low % bins] += magnitude * (1 - share)
            cells[r // cell, c // cell, (low + 1) % bins] += magnitude * share
    out = []
    for br in range(h // cell - block + 1):
        for bc in range(w // cell - block + 1):
            v = np.array([cells[br + i, bc + j, b] for b in range(bins) for i in range(block) for j in range(block)])
            out.append(v / (np.linalg.norm(v) + 1e-6))
    return np.concatenate(out)


def test_hog_features_match_a_pixel_by_pixel_reference():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(3, 1, 12, 8, generator=g, dtype=torch.float64)
    before = images.clone()
    feats = intro.hog_features(images, cell_size=4, bins=6, block=2)
    assert torch.equal(images, before) and feats.dtype == torch.float64
    assert feats.shape == (3, 6 * 2 * 2 * 2 * 1)  # 3x2 cells -> 2x1 blocks of 2x2 cells x 6 bins
    for n in range(3):
        torch.testing.assert_close(feats[n], torch.from_numpy(_hog_by_loops(images[n, 0].numpy(), 4, 6, 2)))
    digits = torch.zeros(2, 1, 28, 28)
    assert intro.hog_features(digits).shape == (2, 1296) and intro.hog_features(digits, cell_size=7).shape == (2, 324)
    assert intro.hog_features(digits).abs().max() == 0  # a blank image: no gradients, zeros (no NaN)


def test_hog_features_see_orientation_not_contrast_or_polarity():
    horizontal = torch.zeros(1, 1, 16, 16)
    horizontal[..., 8:, :] = 1.0  # dark above, bright below: a horizontal edge, vertical gradient (90 degrees)
    cells = intro.hog_features(horizontal, cell_size=4, bins=9, block=1).view(4, 4, 9)  # block 1: one cell per block
    edge = cells[1:3, 1:3]  # the cells on the edge, away from the image border (zero padding makes edges there)
    assert edge[..., 4].gt(0.99).all()  # they vote into the 80-100 degree bin only
    assert edge.sum(-1).sub(edge[..., 4]).abs().max() < 1e-6
    assert cells[0].abs().max() == 0  # cells away from every edge see nothing
    vertical = horizontal.transpose(-1, -2).contiguous()  # gradient along x (0 degrees): split between 0-20 and 160-180
    vedge = intro.hog_features(vertical, cell_size=4, bins=9, block=1).view(4, 4, 9)[1:3, 1:3]
    torch.testing.assert_close(vedge[..., 0], vedge[..., 8])
    assert vedge[..., 0].gt(0.7).all() and vedge[..., 1:8].abs().max() < 1e-6
    reference = intro.hog_features(horizontal)
    torch.testing.assert_close(intro.hog_features(3.0 * horizontal), reference)  # contrast does not matter
    flipped = intro.hog_features(1.0 - horizontal, cell_size=4, bins=9, block=1).view(4, 4, 9)[1:3, 1:3]
    torch.testing.assert_close(flipped, edge)  # nor which side of the edge is bright (unsigned orientation)


def test_hog_features_reject_bad_input():
    with pytest.raises(ValueError, match=r"gray images \(N, 1, H, W\)"):
        intro.hog_features(torch.zeros(28, 28))
    with pytest.raises(ValueError, match="must divide the image size"):
        intro.hog_features(torch.zeros(1, 1, 28, 28), cell_size=5)
    with pytest.raises(ValueError, match="block 8 must be between 1"):
        intro.hog_features(torch.zeros(1, 1, 28, 28), block=8)
    with pytest.raises(ValueError, match="bins must be at least 2"):
        intro.hog_features(torch.zeros(1, 1, 28, 28), bins=1)
