"""Chapter 11's compute functions (cnncourse/lessons/evaluation.py)."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import loguniform
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import ParameterGrid

from cnncourse import data, viz
from cnncourse.drawing import evaluation as figures
from cnncourse.lessons import evaluation as L
from cnncourse.models import count_parameters
from cnncourse.train import predict


@pytest.fixture(scope="module")
def tiny():
    s = data.load_splits("mnist-offline", seed=0, train_size=200, val_size=100, test_size=100)
    return s.train, s.val, s.test


def test_small_cnn_shape_and_seed():
    a, b = L.small_cnn(8, seed=3), L.small_cnn(8, seed=3)
    assert count_parameters(a) == 31_498
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert count_parameters(L.small_cnn(4)) < count_parameters(L.small_cnn(16))


@pytest.mark.parametrize("k", [2, 3, 10])
def test_precision_recall_f1_matches_sklearn(k):
    g = torch.Generator().manual_seed(k)
    y = torch.randint(0, k, (300,), generator=g)
    p = torch.where(torch.rand(300, generator=g) < 0.6, y, torch.randint(0, k, (300,), generator=g))
    p[p == k - 1] = 0  # class k-1 is never predicted: precision 0, not NaN
    cm = viz.confusion_matrix(y, p, k)
    assert torch.equal(cm, torch.from_numpy(sk_confusion(y, p, labels=range(k))))
    ours = L._precision_recall_f1(cm)
    ref = precision_recall_fscore_support(y, p, labels=range(k), zero_division=0)[:3]
    for o, r in zip(ours, ref):
        assert o.dtype == torch.float64 and o.shape == (k,)
        assert not torch.isnan(o).any()
        torch.testing.assert_close(o, torch.from_numpy(r))


def test_precision_recall_f1_edge_cases_and_input_unchanged():
    cm = torch.tensor([[3, 0, 0], [1, 0, 0], [0, 0, 0]])
    before = cm.clone()
    p, r, f = L._precision_recall_f1(cm)
    assert torch.equal(cm, before)
    assert p.tolist() == [0.75, 0.0, 0.0] and r.tolist() == [1.0, 0.0, 0.0]
    assert f[0].item() == pytest.approx(2 * 0.75 / 1.75)
    with pytest.raises(ValueError, match="square"):
        L._precision_recall_f1(torch.zeros(2, 3))


def test_format_metrics():
    text = L.format_metrics(torch.tensor([[5, 1], [2, 2]]), ["a", "b"])
    assert text.splitlines()[0].startswith("class") and "macro" in text.splitlines()[-1]


def test_candidates_come_from_sklearn():
    grid = L.grid_candidates({"lr": [1e-3, 1e-2], "width": [4, 8, 16]})
    assert grid == [dict(p) for p in ParameterGrid({"lr": [1e-3, 1e-2], "width": [4, 8, 16]})]
    rnd = L.random_candidates({"lr": loguniform(3e-4, 3e-2), "width": [4, 8]}, n=6, seed=0)
    assert rnd == L.random_candidates({"lr": loguniform(3e-4, 3e-2), "width": [4, 8]}, n=6, seed=0)
    assert len(rnd) == 6 and len({c["lr"] for c in rnd}) == 6
    assert all(3e-4 <= c["lr"] <= 3e-2 and type(c["lr"]) is float and c["width"] in (4, 8) for c in rnd)


@pytest.mark.parametrize("seed", range(20))
def test_early_stopping_rule_matches_fit(seed):
    rng = np.random.default_rng(seed)
    losses = np.round(rng.uniform(0.4, 1.0, size=rng.integers(3, 12)), 1).tolist()  # rounding makes ties
    if seed % 4 == 0:
        losses[len(losses) // 2] = float("nan")
    patience, min_delta = int(rng.integers(1, 4)), float(rng.choice([0.0, 0.05]))
    assert L._early_stopping_epochs(losses, patience, min_delta) == L.early_stopping_by_fit(losses, patience, min_delta)


def test_early_stopping_crafted():
    losses = [0.9, 0.6, 0.5, 0.5, 0.52, 0.49, 0.55, 0.58, 0.61, 0.4]
    assert L._early_stopping_epochs(losses, 1) == (4, 3)
    assert L._early_stopping_epochs(losses, 3) == (9, 6)
    assert L._early_stopping_epochs(losses, 4) == (10, 10)
    assert L._early_stopping_epochs([1.0, 0.8, float("nan"), float("nan"), 0.5], 2) == (4, 2)


def test_bootstrap_indices():
    idx = L.bootstrap_indices(1000, seed=0)
    assert idx.dtype == torch.int64 and idx.shape == (1000,) and 0 <= idx.min() and idx.max() < 1000
    assert torch.equal(idx, L.bootstrap_indices(1000, seed=0))
    assert abs(idx.unique().numel() / 1000 - (1 - math.exp(-1))) < 0.03


def test_samme_alpha():
    assert L.samme_alpha(0.9, 10) == pytest.approx(0.0, abs=1e-12)  # chance level for 10 classes
    assert L.samme_alpha(0.5, 2) == pytest.approx(0.0, abs=1e-12)    # AdaBoost's binary case
    assert L.samme_alpha(0.1, 10) == pytest.approx(math.log(9) + math.log(9))
    assert math.isfinite(L.samme_alpha(0.0, 10))


def test_correct_marks_the_right_images(tiny):
    train, _, test = tiny
    model, _ = L.train_small_cnn(train, epochs=1, seed=0)
    right = L.correct(model, test)
    assert right.dtype == bool and right.shape == (len(test),)
    assert right.mean() == pytest.approx(L.accuracy(predict(model, test.images), test.labels))


def test_with_label_noise_replaces_a_fraction_and_keeps_the_input(tiny):
    train, _, _ = tiny
    before = train.labels.clone()
    noisy = L.with_label_noise(train, 0.5, seed=1)
    assert torch.equal(train.labels, before) and noisy.images is train.images
    assert noisy.labels.dtype == train.labels.dtype and 0 <= noisy.labels.min() and noisy.labels.max() < 10
    changed = (noisy.labels != train.labels).float().mean().item()
    assert 0.3 < changed < 0.6   # 0.5 drawn, of which 9/10 land on another class
    assert torch.equal(noisy.labels, L.with_label_noise(train, 0.5, seed=1).labels)
    assert torch.equal(L.with_label_noise(train, 0.0, seed=1).labels, train.labels)
    with pytest.raises(ValueError, match="fraction"):
        L.with_label_noise(train, 1.5)


def test_pick_by_validation_reports_the_test_score_of_the_validation_winner():
    val = np.array([[0.5, 0.9], [0.7, 0.9]])
    test = np.array([[0.1, 0.2], [0.3, 0.4]])
    assert L.pick_by_validation(val, test, [(0, 0), (1, 0)]) == 0.3
    assert L.pick_by_validation(val, test, [(0, 1), (1, 1)]) == 0.2   # tie: the first cell tried
    assert L.pick_by_validation(val, test, [[1, 1]]) == 0.4
    with pytest.raises(ValueError, match="at least one"):
        L.pick_by_validation(val, test, [])


def test_random_candidates_on_lists_sample_without_replacement():
    space = {"lr": [1e-3, 3e-3, 1e-2, 3e-2], "weight_decay": [0.0, 1e-4, 1e-3]}
    draws = L.random_candidates(space, n=9, seed=3)
    assert len({(c["lr"], c["weight_decay"]) for c in draws}) == 9
    assert all(c["lr"] in space["lr"] and c["weight_decay"] in space["weight_decay"] for c in draws)
    assert L.format_params({"lr": 0.003, "width": 8}) == "lr=0.003, width=8"


def test_figures_close_and_return():
    import matplotlib.pyplot as plt

    lrs, decays = [1e-3, 1e-2, 1e-1], [0.0, 1e-4]
    fig = figures.draw_search_table(lrs, decays, np.array([[0.5, 0.6], [0.8, 0.7], [0.2, 0.1]]), [[1e-3], [1e-2]])
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].get_legend().get_texts()) == 2
    with pytest.raises(ValueError, match="shape"):
        figures.draw_search_table(lrs, decays, np.zeros((2, 2)), [])
    fig = figures.draw_early_stopping([1, 2, 3, 4], [1.0, 0.8, 0.6, 0.5], [1.1, 0.9, 1.0, 1.2], 2, 4, seed=0)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 4
    fig = figures.draw_ensembles({"single": [0.8, 0.82], "bagging": [0.85, 0.86]}, reference="single")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["single", "bagging"]
    assert not plt.get_fignums()   # every figure was closed (shown once, as a cell's value)
