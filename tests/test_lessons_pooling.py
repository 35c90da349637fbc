"""Chapter 04's compute functions (cnncourse.lessons.pooling)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.lessons import pooling as lesson


def test_size_rows_match_pytorch_and_flag_overlap():
    rows = lesson.size_rows([("a", 28, 2, None, 0), ("b", 55, 3, 2, 0), ("c", 7, 2, None, 0), ("d", 112, 3, 2, 1)])
    assert [r.formula for r in rows] == [14, 27, 3, 56]
    assert all(r.formula == r.torch_size for r in rows)
    assert [r.overlapping for r in rows] == [False, True, False, True]
    assert "formula" in lesson.format_size_rows(rows)


def test_window_counts():
    assert lesson.window_counts(28, 2, 2) == {1: 784}
    counts = lesson.window_counts(55, 3, 2)
    assert sum(counts.values()) == 55 * 55 and max(counts) == 4
    assert lesson.window_counts(10, 2, 3)[0] > 0  # gaps: some pixels never pooled


def test_shift_images_moves_right_and_down_with_zeros():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y = lesson.shift_images(x, 1, 2)
    assert y.shape == x.shape
    assert torch.equal(y[0, 0, 2:, 1:], x[0, 0, :2, :3])
    assert y[0, 0, :2].abs().sum() == 0 and y[0, 0, :, 0].abs().sum() == 0
    assert torch.equal(lesson.shift_images(x, -1, 0)[..., :3], x[..., 1:])
    assert torch.equal(x, torch.arange(16.0).view(1, 1, 4, 4))  # input untouched


def test_reconstruction_error_is_zero_for_a_perfect_copy_and_one_for_the_mean():
    g = torch.Generator().manual_seed(0)
    small = torch.rand(1, 6, 7, generator=g)  # (C, H', W')
    image = F.interpolate(small.unsqueeze(0), scale_factor=2, mode="bilinear", align_corners=False)[0]  # (1, 12, 14)
    before = image.clone()
    assert lesson.reconstruction_error(image, small) == pytest.approx(0.0, abs=1e-12)
    assert torch.equal(image, before)  # input untouched
    flat = torch.full((1, 6, 7), image.mean().item())
    assert lesson.reconstruction_error(image, flat) == pytest.approx(1.0)
    # an odd-sized image is cropped to the pooled map's coverage, like F.max_pool2d drops the last row
    odd = F.pad(image, (0, 1, 0, 1), value=5.0)  # (1, 13, 15): the extra row and column are never compared
    assert lesson.reconstruction_error(odd, small) == pytest.approx(0.0, abs=1e-12)


def test_reconstruction_error_max_pool_erases_a_thin_dark_line():
    page = torch.ones(1, 16, 16)
    page[0, :, 5] = 0.0  # one dark one-pixel stroke on white paper
    x = page.unsqueeze(0)
    lost_max = lesson.reconstruction_error(page, F.max_pool2d(x, 2)[0])
    lost_avg = lesson.reconstruction_error(page, F.avg_pool2d(x, 2)[0])
    assert F.max_pool2d(x, 2).min() == 1.0  # the stroke is gone from the max-pooled map
    assert lost_max > 1.0 and lost_avg < 0.7  # max pooling does worse than painting the page its mean gray


def test_reconstruction_error_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        lesson.reconstruction_error(torch.rand(1, 1, 8, 8), torch.rand(1, 4, 4))
    with pytest.raises(ValueError, match="not a pooled map"):
        lesson.reconstruction_error(torch.rand(1, 8, 8), torch.rand(1, 4, 9))
    with pytest.raises(ValueError, match="flat"):
        lesson.reconstruction_error(torch.ones(1, 8, 8), torch.ones(1, 4, 4))


def test_strong_edge_survival_max_keeps_all_average_dilutes():
    edges = torch.zeros(1, 4, 4)
    edges[0, 0, 0], edges[0, 3, 3] = 0.8, 0.5  # threshold (90% quantile) = 0.25
    mx = F.max_pool2d(edges.unsqueeze(0), 2)[0]
    av = F.avg_pool2d(edges.unsqueeze(0), 2)[0]  # 0.2 and 0.125: not above the threshold
    assert lesson.strong_edge_survival(edges, mx, 2, quantile=0.9) == 1.0
    assert lesson.strong_edge_survival(edges, av, 2, quantile=0.9) == 0.0


def test_subsample_keeps_the_top_left_pixel_of_each_window():
    x = torch.arange(35.0).view(1, 1, 5, 7)
    assert torch.equal(lesson.subsample(x, 2), x[..., 0:4:2, 0:6:2])
    assert lesson.subsample(x, 2).shape == F.max_pool2d(x, 2).shape


def test_sobel_magnitude_is_zero_on_flat_and_large_on_an_edge():
    flat = torch.full((1, 10, 10), 0.3)
    step = torch.zeros(1, 10, 10)
    step[..., 5:] = 1.0
    assert lesson.sobel_magnitude(flat).abs().max() < 1e-6
    edges = lesson.sobel_magnitude(step)
    assert edges.shape == (1, 10, 10) and edges[0, 5, 4:6].min() > 1.0 and edges[0, 5, 0] < 1e-6


def test_alternative_rows_and_receptive_fields():
    layers = {
        "pool": (nn.MaxPool2d(2), [(2, 2, 1)]),
        "dilated": (nn.Conv2d(4, 4, 3, padding=2, dilation=2), [(3, 1, 2)]),
        "strided": (nn.Conv2d(4, 4, 3, stride=2, padding=1), [(3, 2, 1)]),
    }
    rows = {r.label: r for r in lesson.alternative_rows(layers, (1, 4, 28, 28))}
    assert rows["pool"].out_shape == (1, 4, 14, 14) and rows["pool"].params == 0
    assert rows["dilated"].out_shape == (1, 4, 28, 28) and rows["dilated"].receptive_field == 5
    assert rows["dilated"].downsampling == 1.0 and rows["strided"].downsampling == 2.0
    assert rows["strided"].params == 4 * 4 * 9 + 4
    assert "receptive field" in lesson.format_alternative_rows(rows.values())


def test_measured_receptive_field_matches_formula_and_leaves_module_alone():
    stack = nn.Sequential(*[nn.Conv2d(2, 2, 3, padding=d, dilation=d) for d in (1, 2, 4)])
    before = [p.detach().clone() for p in stack.parameters()]
    assert lesson.measured_receptive_field(stack, (1, 2, 32, 32)) == 15
    assert all(torch.equal(a, b) for a, b in zip(before, stack.parameters()))
    assert all(p.grad is None for p in stack.parameters())


def test_shift_change_zero_for_no_shift_and_gap_nearly_invariant():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(4, 1, 16, 16)
    x[:, :, 4:12, 4:12] = torch.rand(4, 1, 8, 8, generator=g)  # content away from the border
    changes = lesson.shift_change(lambda t: t, x, shifts=(0, 1, 2))
    assert set(changes) == set(lesson.SHIFT_POOLS)
    assert all(values[0] == 0.0 for values in changes.values())
    assert changes["global average pool"][1] < 1e-6
    assert changes["no pooling"][1] > changes["global average pool"][1]


def test_shifted_accuracy_restores_mode_and_device():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    model.train()
    x = torch.zeros(4, 1, 4, 4)
    x[:, 0, 1, 1] = 1.0  # one lit pixel at (1, 1)
    y = torch.tensor([2, 2, 2, 0])
    with torch.no_grad():  # class 2 fires on pixel (1, 1) only; class 0 has a bias of 0.5; class 1 never wins
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([0.5, -1.0, 0.0]))
        model[1].weight[2, 1 * 4 + 1] = 1.0
    accs = lesson.shifted_accuracy(model, x, y, shifts=(0, 1, -1))
    # unshifted: every image predicted 2 (3 of 4 right); shifted by 1 either way the pixel leaves (1, 1): all 0
    assert accs == pytest.approx([0.75, 0.25, 0.25])
    assert model.training


@pytest.mark.parametrize(("kind", "k", "s"), [("max", 2, 2), ("avg", 3, 2), ("max", 2, 3), ("avg", 1, 1)])
def test_pool_view_matches_pytorch(kind, k, s):
    image = torch.rand(3, 20, 27)
    view = lesson.pool_view(image, kind, k, s)
    ref = (F.max_pool2d if kind == "max" else F.avg_pool2d)(image.unsqueeze(0), k, s)[0]
    assert torch.allclose(view.pooled, ref)
    assert view.in_shape == (3, 20, 27) and view.out_shape == tuple(ref.shape)
    assert str(view.out_shape) in lesson.summarize_pool_view(view)


def test_pool_view_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        lesson.pool_view(torch.rand(1, 8, 8), "median")
