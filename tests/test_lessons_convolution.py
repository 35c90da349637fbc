"""cnncourse.lessons.convolution: the compute functions behind notebooks/02_convolution.ipynb."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse import layers
from cnncourse.lessons import convolution as lesson


def test_hand_kernels_sums():
    k = lesson.hand_kernels()
    for name in ("identity", "box blur", "gaussian blur", "sharpen"):
        assert k[name].sum().item() == pytest.approx(1.0)
    for name in ("edge (Laplacian)", "Sobel x", "Sobel y"):
        assert k[name].sum().item() == pytest.approx(0.0)


def test_apply_kernels_matches_one_by_one_and_keeps_size():
    image = torch.rand(1, 12, 17)
    before = image.clone()
    kernels = lesson.hand_kernels()
    maps = lesson.apply_kernels(image, kernels)
    assert torch.equal(image, before)
    padded = F.pad(image[None], (1, 1, 1, 1), mode="replicate")
    for name, k in kernels.items():
        assert maps[name].shape == (12, 17)
        assert torch.allclose(maps[name], F.conv2d(padded, k[None, None])[0, 0], atol=1e-6)
    assert torch.allclose(maps["identity"], image[0])
    assert torch.allclose(maps["Sobel magnitude"], torch.hypot(maps["Sobel x"], maps["Sobel y"]))
    with pytest.raises(ValueError, match="gray image"):
        lesson.apply_kernels(torch.rand(3, 5, 5), kernels)


def test_kernel_smoothness():
    assert abs(lesson.kernel_smoothness(torch.randn(64, 1, 5, 5))) < 0.15
    smooth = torch.linspace(-1, 1, 5).view(1, 1, 1, 5).expand(4, 1, 5, 5)  # ramps
    assert lesson.kernel_smoothness(smooth) > 0.4


def test_channel_by_channel_sums_to_conv2d():
    x, w = torch.randn(3, 5, 6), torch.randn(3, 3, 3)
    parts = lesson.channel_by_channel(x, w)
    assert parts.shape == (3, 3, 4)
    assert torch.allclose(parts.sum(0), F.conv2d(x[None], w[None])[0, 0], atol=1e-5)


def test_input_footprint_two_3x3_is_5x5_and_model_untouched():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Conv2d(3, 2, 3))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    seen = lesson.input_footprint(model, 2, 9)
    assert seen.sum().item() == 25 and seen[2:7, 2:7].all()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    dilated = lesson.input_footprint(nn.Conv2d(1, 1, 3, dilation=2), 1, 7)
    assert dilated.sum().item() == 9 and dilated[1::2, 1::2].all()


def test_cost_row_matches_pytorch_and_refuses_bad_groups():
    row = lesson.cost_row("x", 3, 64, 3, 32, stride=2, padding=1)
    assert (row.params, row.output_size, row.macs, row.receptive_field) == (1792, 16, 64 * 16 * 16 * 27, 3)
    assert lesson.cost_row("d", 8, 8, 3, 20, dilation=3).receptive_field == 7
    with pytest.raises(ValueError):
        lesson.cost_row("bad", 3, 64, 3, 32, groups=2)
    text = lesson.format_cost_rows([row])
    assert "1,792" in text and "64x16x16" in text


def test_size_rows_formula_equals_pytorch_and_catches_same_stride():
    rows = lesson.size_rows([dict(size=7, kernel_size=3, stride=2), dict(size=32, kernel_size=3, padding=2, dilation=2),
                             dict(size=32, kernel_size=3, stride=2, padding="same")])
    assert rows[0].formula == rows[0].pytorch == 3
    assert rows[1].formula == rows[1].pytorch == 32
    assert rows[2].formula is None and rows[2].pytorch.startswith("ValueError")
    assert "ok" in lesson.format_size_rows(rows)


def test_padding_border_error_zero_padding_is_worst():
    image = torch.full((3, 20, 20), 0.8)
    err = lesson.padding_border_error(image, kernel_size=5)
    assert err["reflect"] == pytest.approx(0, abs=1e-6) and err["replicate"] == pytest.approx(0, abs=1e-6)
    assert err["zeros"] > 0.1


def test_group_isolation_block_diagonal():
    links = lesson.group_isolation(nn.Conv2d(6, 4, 3, groups=2))
    expected = torch.zeros(4, 6, dtype=torch.bool)
    expected[:2, :3] = True
    expected[2:, 3:] = True
    assert torch.equal(links, expected)


def test_time_implementations_returns_positive_seconds():
    times = lesson.time_implementations(torch.randn(1, 1, 6, 6), torch.randn(1, 1, 3, 3), {"F": F.conv2d}, repeats=1)
    assert set(times) == {"F"} and times["F"] > 0


def test_edge_kernel_zero_sum_unit_l1():
    for k in (1, 2, 3, 5, 9):
        w = lesson.edge_kernel(k)
        assert w.shape == (k, k)
        if k > 1:
            assert w.sum().item() == pytest.approx(0, abs=1e-6)
        assert w.abs().sum().item() == pytest.approx(1, abs=1e-5)


def test_conv_view_shapes_and_costs():
    image = torch.rand(3, 20, 30)
    v = lesson.conv_view(kernel_size=3, stride=2, padding=1, dilation=2, groups=3, image=image)
    assert v.error is None
    assert v.output_shape == (6, 9, 14) and v.feature_map.shape == (9, 14)
    assert v.params == 6 * 1 * 9 + 6 and v.receptive_field == 5 and v.channels_seen == 1
    out = nn.Conv2d(3, 6, 3, stride=2, padding=1, dilation=2, groups=3)(image[None])
    assert out.shape[1:] == v.output_shape
    assert "9x14" in lesson.summarize_conv_view(v)


def test_conv_view_reports_pytorch_errors():
    v = lesson.conv_view(groups=2, image=torch.rand(3, 10, 10))
    assert v.error.startswith("ValueError") and "divisible by groups" in v.error
    assert "ValueError" in lesson.summarize_conv_view(v)
    big = lesson.conv_view(kernel_size=9, dilation=4, image=torch.rand(3, 10, 10))
    assert big.error is not None


def test_edge_bank_zero_mean_unit_norm_and_refuses_1x1():
    bank = lesson.edge_bank(5)
    assert bank.shape == (16, 5, 5)
    assert torch.allclose(bank.mean(dim=(1, 2)), torch.zeros(16), atol=1e-6)
    assert torch.allclose(bank.flatten(1).norm(dim=1), torch.ones(16), atol=1e-5)
    with pytest.raises(ValueError, match="kernel_size >= 2"):
        lesson.edge_bank(1)


def test_edge_likeness_one_for_bank_filters_low_for_noise():
    bank = lesson.edge_bank(5)
    assert lesson.edge_likeness(bank[:, None]) == pytest.approx(1.0, abs=1e-5)
    assert lesson.edge_likeness(-3 * bank[:4, None] + 2.0) == pytest.approx(1.0, abs=1e-5)  # polarity, offset, scale
    torch.manual_seed(0)
    noise = torch.randn(64, 1, 5, 5)
    before = noise.clone()
    assert 0.2 < lesson.edge_likeness(noise) < 0.5
    assert torch.equal(noise, before)
    with pytest.raises(ValueError, match="square conv kernels"):
        lesson.edge_likeness(torch.randn(4, 1, 3, 5))


def test_dot_pairs_classes_and_gap():
    x, y = lesson.dot_pairs(50, 3, size=16, pairs=1, seed=1)
    assert x.shape == (50, 1, 16, 16) and y.shape == (50,) and set(y.tolist()) <= {0, 1}
    assert torch.equal(x, lesson.dot_pairs(50, 3, size=16, pairs=1, seed=1)[0])  # reproducible
    for img, label in zip(x[:, 0], y):
        (r1, c1), (r2, c2) = img.nonzero().tolist()
        dr, dc = (r2 - r1) % 16, (c2 - c1) % 16
        if label == 0:  # horizontal: same row, columns 3 apart (around the border)
            assert dr == 0 and dc in (3, 13)
        else:
            assert dc == 0 and dr in (3, 13)
    with pytest.raises(ValueError, match="gap"):
        lesson.dot_pairs(5, 0)
    with pytest.raises(ValueError, match="n and pairs"):
        lesson.dot_pairs(0, 2)


def test_footprint_span_and_dilation():
    for d in (1, 2, 3):
        seen = lesson.input_footprint(nn.Conv2d(1, 1, 3, dilation=d), 1, 2 * d + 3)
        assert lesson.footprint_span(seen) == 2 * d + 1
    assert lesson.footprint_span(torch.zeros(4, 4, dtype=torch.bool)) == 0


def test_pixel_reach_counts_windows():
    r0 = lesson.pixel_reach(6, 3)
    assert r0[0, 0] == 1 and r0[2, 2] == 9 and r0.sum() == 9 * 4 * 4
    r1 = lesson.pixel_reach(6, 3, padding=1)
    per_axis = torch.tensor([2, 3, 3, 3, 3, 2])  # windows along one axis that hold each pixel
    assert torch.equal(r1, per_axis[:, None] * per_axis[None, :])
    assert lesson.pixel_reach(6, 3, stride=2).sum() == 9 * 2 * 2


def test_counted_macs_matches_formula():
    for kw in (dict(), dict(padding=2, dilation=2), dict(stride=2, padding=1), dict(groups=4, padding=1)):
        layer = nn.Conv2d(8, 8, 3, **kw)
        formula = layers.conv_flops(8, 8, 3, 12, kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1),
                                    kw.get("groups", 1))
        assert lesson.counted_macs(layer, torch.zeros(1, 8, 12, 12)) == formula
