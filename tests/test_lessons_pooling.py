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


def test_high_frequency_fraction():
    flat = torch.ones(1, 16, 16)
    checker = (torch.arange(16).view(-1, 1) + torch.arange(16).view(1, -1)) % 2
    assert lesson.high_frequency_fraction(flat) == 0.0
    assert lesson.high_frequency_fraction(checker.float().unsqueeze(0)) == pytest.approx(1.0)
    smooth = torch.linspace(0, 1, 16).view(1, 1, 16).expand(1, 16, 16)
    assert lesson.high_frequency_fraction(smooth) < 0.2


def test_strong_edge_survival_max_keeps_all_average_dilutes():
    edges = torch.zeros(1, 4, 4)
    edges[0, 0, 0], edges[0, 3, 3] = 0.8, 0.5  # threshold (90% quantile) = 0.25
    mx = F.max_pool2d(edges.unsqueeze(0), 2)[0]
    av = F.avg_pool2d(edges.unsqueeze(0), 2)[0]  # 0.2 and 0.125: not above the threshold
    assert lesson.strong_edge_survival(edges, mx, 2, quantile=0.9) == 1.0
    assert lesson.strong_edge_survival(edges, av, 2, quantile=0.9) == 0.0


def test_detail_rows_on_a_photo_like_image():
    g = torch.Generator().manual_seed(0)
    gray = torch.rand(1, 32, 40, generator=g)
    rows, base = lesson.detail_rows(gray, kernel_sizes=(2,))
    by = {r.method: r for r in rows}
    assert by["max pool"].edge_survival == pytest.approx(1.0)
    assert by["average pool"].edge_mean_ratio == pytest.approx(1.0, abs=1e-5)
    assert by["max pool"].edge_mean_ratio > 1.0
    assert by["average pool"].high_frequency < by["subsample (no pool)"].high_frequency
    assert by["max pool"].shape == (1, 16, 20) and 0 < base < 1
    assert "strong edges kept" in lesson.format_detail_rows(rows, base)


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
    x, y = torch.randn(5, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1])
    accs = lesson.shifted_accuracy(model, x, y, shifts=(0, 1))
    assert len(accs) == 2 and all(0 <= a <= 1 for a in accs)
    assert model.training


def test_summarize_runs():
    rows = lesson.summarize_runs({"a": [(10, 0.9, 2.0), (10, 0.8, 4.0)], "b": [(5, 0.5, 1.0)]})
    assert rows[0].mean_accuracy == pytest.approx(0.85) and rows[0].spread == pytest.approx(0.05)
    assert rows[0].mean_seconds == pytest.approx(3.0) and rows[1].spread == 0
    assert "test accuracy" in lesson.format_run_summaries(rows)
    with pytest.raises(ValueError):
        lesson.summarize_runs({"empty": []})


@pytest.mark.parametrize(("head", "params"), [("fc", 21_578), ("gap", 6_218)])
def test_head_net(head, params):
    net = lesson.HeadNet(head)
    assert sum(p.numel() for p in net.parameters()) == params
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_head_net_gap_takes_any_size_and_rejects_unknown_head():
    assert lesson.HeadNet("gap")(torch.zeros(1, 1, 36, 36)).shape == (1, 10)
    with pytest.raises(ValueError, match="unknown head"):
        lesson.HeadNet("mean")


@pytest.mark.parametrize(("kind", "k", "s"), [("max", 2, 2), ("avg", 3, 2), ("max", 2, 3), ("avg", 1, 1)])
def test_pool_view_matches_pytorch(kind, k, s):
    image = torch.rand(3, 20, 27)
    view = lesson.pool_view(image, kind, k, s)
    ref = (F.max_pool2d if kind == "max" else F.avg_pool2d)(image.unsqueeze(0), k, s)[0]
    assert torch.allclose(view.pooled, ref)
    assert view.in_shape == (3, 20, 27) and view.out_shape == tuple(ref.shape)
    assert str(view.out_shape) in lesson.summarize_pool_view(view)


def test_pool_view_rejects_unknown_kind_and_draws():
    with pytest.raises(ValueError, match="kind"):
        lesson.pool_view(torch.rand(1, 8, 8), "median")
    fig = lesson.draw_pool_view(lesson.pool_view(torch.rand(1, 8, 8), "max", 2, 2))
    assert len(fig.axes) == 2 and fig.axes[1].get_title().startswith("max pool")


def test_draws_return_figures():
    gray = torch.rand(1, 32, 32)
    fig = lesson.draw_max_vs_avg(gray, kernel_size=2)
    assert len(fig.axes) == 6
    fig = lesson.draw_shift_change({"a": {"no pooling": [0.1, 0.2]}, "b": {"no pooling": [0.1, 0.3]}}, (1, 2))
    assert len(fig.axes) == 2
