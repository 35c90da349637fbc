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
