"""Chapter 07's compute functions: regression fits, stability tables, multi-label, imbalance, widget."""
import math

import pytest
import torch
import torch.nn.functional as F

from cnncourse.drawing import losses as figures
from cnncourse.lessons import losses as L


def test_outlier_data_and_robust_fit():
    x, y, out = L.outlier_line_data(n=40, outliers=4, seed=1)
    assert x.shape == y.shape == out.shape == (40,) and int(out.sum()) == 4
    mse = L.fit_line(x, y, L.REGRESSION_LOSSES["MSE"]())
    sl1 = L.fit_line(x, y, L.REGRESSION_LOSSES["Smooth L1 (beta=1)"]())
    assert abs(sl1[0] - 2.0) < abs(mse[0] - 2.0)  # the robust loss lands nearer the true slope
    clean = L.fit_line(x[~out], y[~out], L.REGRESSION_LOSSES["MSE"]())
    a, b = torch.linalg.lstsq(torch.stack([x[~out], torch.ones(36)], 1), y[~out, None]).solution.squeeze(1)
    assert clean == pytest.approx((float(a), float(b)), abs=1e-3)  # Adam reaches least squares


def test_regression_curves_gradients():
    r = torch.tensor([-3.0, -0.5, 0.5, 3.0])
    curves = L.regression_curves(r)
    torch.testing.assert_close(curves["MSE"][1], 2 * r)
    torch.testing.assert_close(curves["Smooth L1 (beta=1)"][1], torch.tensor([-1.0, -0.5, 0.5, 1.0]))
    torch.testing.assert_close(curves["L1"][1], torch.sign(r))


def test_stability_rows():
    rows = L.stability_rows([1.0, 1000.0])
    assert rows[0]["naive"] == pytest.approx(rows[0]["exact"], rel=1e-5)
    assert not math.isfinite(rows[1]["naive"])
    assert rows[1]["stable"] == rows[1]["torch"] == pytest.approx(rows[1]["exact"])


def test_bce_rows_show_clamping():
    (row,) = L.bce_rows([50.0], target=0.0)
    assert row["bce"] == 100.0  # BCELoss clamps log(0) to -100
    assert row["bce_with_logits"] == pytest.approx(50.0) == row["exact"]
    assert row["grad_bce"] == 0.0 and row["grad_with_logits"] == pytest.approx(1.0)


def test_softmax_first_rows_shrink_gradient_of_wrong_predictions():
    (row,) = L.softmax_first_rows(torch.tensor([[0.0, 8.0, 0.0]]), torch.tensor([0]))
    assert row["loss"] > 7 and row["loss_softmax_first"] < 2
    assert row["grad_norm_softmax_first"] < 0.01 * row["grad_norm"]


def test_multilabel_targets():
    t = L.multilabel_targets(torch.arange(10))
    assert t.shape == (10, 3) and t.dtype == torch.float32
    assert t[:, 0].tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    assert t[:, 1].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert t[:, 2].tolist() == [0, 0, 1, 1, 0, 1, 0, 1, 0, 0]
    acc = L.per_label_accuracy(torch.where(t > 0, 3.0, -3.0), t)
    torch.testing.assert_close(acc, torch.ones(3))


def test_imbalanced_indices_and_metrics():
    labels = torch.arange(10).repeat(20)
    idx = L.imbalanced_indices(labels, rare_class=3, keep=5)
    kept = labels[idx]
    assert int((kept == 3).sum()) == 5 and int((kept == 4).sum()) == 20
    assert torch.equal(idx, idx.sort().values)
    preds = labels.clone()
    preds[labels == 3] = 4  # class 3 never predicted
    m = L.per_class_metrics(labels, preds, 10)
    assert m["recall"][3] == 0 and m["precision"][3] == 0 and m["f1"][3] == 0
    assert m["recall"][4] == 1 and m["precision"][4] == pytest.approx(0.5)
    assert float(m["accuracy"]) == pytest.approx(0.9)


def test_mean_max_probability():
    assert L.mean_max_probability(torch.tensor([[0.9, 0.1], [0.4, 0.6]])) == pytest.approx(0.75)


@pytest.mark.parametrize("name", list(L.MARGIN_LOSSES))
def test_margin_losses_and_view(name):
    view = L.loss_view(name, margin=0.7, gamma=2.0)
    assert set(view.curves) == set(L.MARGIN_LOSSES)
    assert view.p_true == pytest.approx(1 / (1 + math.exp(-0.7)))
    values, grad = view.curves[name]
    assert values.shape == grad.shape == view.grid.shape
    i = int((view.grid - 0.7).abs().argmin())
    assert grad[i] <= 1e-12  # every loss falls (or is flat) as the margin grows
    assert L.summarize_loss_view(view).startswith(name)
    fig = figures.draw_loss_view(view)
    assert fig.axes[0].get_title()


def test_margin_loss_values():
    m = torch.tensor([0.0])
    assert float(L.margin_loss("cross-entropy", m)) == pytest.approx(math.log(2))
    assert float(L.margin_loss("focal", m, gamma=2.0)) == pytest.approx(0.25 * math.log(2))
    assert float(L.margin_loss("focal", m, gamma=0.0)) == pytest.approx(math.log(2))
    assert float(L.margin_loss("hinge (SVM)", m)) == 1.0
    with pytest.raises(ValueError, match="unknown loss"):
        L.margin_loss("nope", m)


def test_margin_ce_matches_cross_entropy_two_classes():
    z = torch.tensor([[1.3, -0.4]])
    expected = F.cross_entropy(z, torch.tensor([0]), label_smoothing=0.1)
    assert float(L.margin_loss("label-smoothed CE", z[:, 0] - z[:, 1], smoothing=0.1)) == pytest.approx(float(expected), rel=1e-5)


def test_rotate_digits_angles_and_identity():
    images = torch.rand(6, 1, 28, 28)
    rotated, angles = L.rotate_digits(images, 30.0, seed=3)
    assert rotated.shape == images.shape and angles.shape == (6,)
    assert float(angles.abs().max()) <= 30.0
    same, zero = L.rotate_digits(images, 0.0, seed=3)
    assert torch.all(zero == 0)
    torch.testing.assert_close(same, images, atol=1e-5, rtol=0)  # a zero angle changes nothing
    a1, _ = L.rotate_digits(images, 30.0, seed=3)
    torch.testing.assert_close(a1, rotated)  # seeded


def test_rotate_digits_turns_clockwise_as_shown():
    image = torch.zeros(1, 1, 9, 9)
    image[0, 0, 4, 6:8] = 1.0  # a bar to the right of the centre
    g = torch.Generator().manual_seed(5)
    expected = float((torch.rand(1, generator=g) * 2 - 1) * 90.0)  # the angle rotate_digits draws for seed 5
    turned, angles = L.rotate_digits(image, 90.0, seed=5)
    assert float(angles) == pytest.approx(expected)
    row, col = torch.nonzero(turned[0, 0] > 0.3, as_tuple=True)
    # the bar's centre moves clockwise on screen by the angle (rows grow downwards)
    centre = torch.tensor([float((turned[0, 0] * torch.arange(9.0)[None, :]).sum()), float((turned[0, 0] * torch.arange(9.0)[:, None]).sum())]) / turned.sum()
    measured = math.degrees(math.atan2(centre[1] - 4, centre[0] - 4))
    assert measured == pytest.approx(expected, abs=12) and row.numel() > 0 and col.numel() > 0


def test_corrupt_targets_moves_a_fraction():
    t = torch.zeros(50, 1)
    broken, is_out = L.corrupt_targets(t, 0.1, 4.0, seed=1)
    assert int(is_out.sum()) == 5 and broken.shape == t.shape
    assert torch.all(broken[is_out] == 4.0) and torch.all(broken[~is_out] == 0.0)
    assert torch.all(t == 0)  # input unchanged


def test_compose_digits_sets_and_quadrants():
    labels = torch.arange(10).repeat(3)
    images = torch.zeros(30, 1, 28, 28)
    for i, k in enumerate(labels.tolist()):
        images[i] = (k + 1) / 10  # each class has its own constant grey
    out, targets = L.compose_digits(images, labels, 40, max_digits=3, seed=0)
    assert out.shape == (40, 1, 28, 28) and targets.shape == (40, 10)
    counts = targets.sum(1)
    assert counts.min() >= 1 and counts.max() <= 3
    for img, t in zip(out, targets):
        quads = [img[0, r:r + 14, c:c + 14] for r in (0, 14) for c in (0, 14)]
        greys = {round(float(q.mean()) * 10) - 1 for q in quads if q.abs().sum() > 0}
        assert greys == set(t.nonzero().flatten().tolist())  # the labels are exactly the digits drawn
    with pytest.raises(ValueError, match="max_digits"):
        L.compose_digits(images, labels, 2, max_digits=5)


def test_per_label_f1_and_best_threshold():
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    scores = torch.tensor([[0.9, 0.2], [0.1, 0.3], [0.6, 0.4]])
    f1 = L.per_label_f1(scores, targets, 0.5)
    assert f1[0] == pytest.approx(1.0) and f1[1] == pytest.approx(0.0)
    assert L.per_label_f1(scores, targets, 0.35)[1] == pytest.approx(1.0)
    assert L.best_threshold(scores, targets, grid=[0.35, 0.5]) == 0.35
    assert L.per_label_f1(torch.zeros(2, 1), torch.zeros(2, 1), 0.5)[0] == 1.0  # never present, never predicted


def test_average_precision_matches_sklearn():
    from sklearn.metrics import average_precision_score

    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        s = torch.randn(300, generator=g).round(decimals=1)  # with ties
        t = (torch.rand(300, generator=g) < 0.15).long()
        assert L.average_precision(s, t) == pytest.approx(average_precision_score(t.numpy(), s.numpy()))
    assert L.average_precision(torch.tensor([0.9, 0.1]), torch.tensor([1, 0])) == 1.0
    assert math.isnan(L.average_precision(torch.rand(4), torch.zeros(4)))


def test_expected_calibration_error_and_bins():
    labels = torch.tensor([0, 0, 0, 0])
    probs = torch.tensor([[0.75, 0.25]] * 4)
    assert L.expected_calibration_error(probs, labels, bins=10) == pytest.approx(0.25)  # 100 % right at 0.75
    wrong_half = torch.tensor([0, 1, 0, 1])
    assert L.expected_calibration_error(probs, wrong_half, bins=10) == pytest.approx(0.25)  # 50 % right at 0.75
    conf, acc, count = L.reliability_bins(probs, wrong_half, bins=4)
    assert count == [0, 0, 4, 0] and conf[2] == pytest.approx(0.75) and acc[2] == pytest.approx(0.5)
    assert math.isnan(conf[0])
    perfect = torch.eye(3)
    assert L.expected_calibration_error(perfect, torch.arange(3)) == 0.0


def test_oversample_indices_balances():
    targets = torch.tensor([0] * 40 + [1] * 4)
    idx = L.oversample_indices(targets, seed=0)
    assert int((targets[idx] == 1).sum()) == 40 and int((targets[idx] == 0).sum()) == 40
    assert sorted(set(idx.tolist())) == list(range(44))
    with pytest.raises(ValueError, match="no positive"):
        L.oversample_indices(torch.zeros(5, dtype=torch.long))
