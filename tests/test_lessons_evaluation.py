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
    ours = L.precision_recall_f1(cm)
    ref = precision_recall_fscore_support(y, p, labels=range(k), zero_division=0)[:3]
    for o, r in zip(ours, ref):
        assert o.dtype == torch.float64 and o.shape == (k,)
        assert not torch.isnan(o).any()
        torch.testing.assert_close(o, torch.from_numpy(r))


def test_precision_recall_f1_edge_cases_and_input_unchanged():
    cm = torch.tensor([[3, 0, 0], [1, 0, 0], [0, 0, 0]])
    before = cm.clone()
    p, r, f = L.precision_recall_f1(cm)
    assert torch.equal(cm, before)
    assert p.tolist() == [0.75, 0.0, 0.0] and r.tolist() == [1.0, 0.0, 0.0]
    assert f[0].item() == pytest.approx(2 * 0.75 / 1.75)
    with pytest.raises(ValueError, match="square"):
        L.precision_recall_f1(torch.zeros(2, 3))


def test_format_metrics_and_mean_std():
    text = L.format_metrics(torch.tensor([[5, 1], [2, 2]]), ["a", "b"])
    assert text.splitlines()[0].startswith("class") and "macro" in text.splitlines()[-1]
    assert L.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert L.mean_std([0.5]) == (0.5, 0.0)


def test_cross_validate_uses_every_sample_once(tiny):
    train, _, _ = tiny
    cv = L.cross_validate(train, k=4, seed=0, epochs=1)
    assert len(cv.fold_acc) == 4 and sum(cv.fold_sizes) == len(train)
    assert all(0.0 <= a <= 1.0 for a in cv.fold_acc)
    assert cv.mean == pytest.approx(np.mean(cv.fold_acc)) and cv.std == pytest.approx(np.std(cv.fold_acc, ddof=1))


def test_candidates_come_from_sklearn():
    grid = L.grid_candidates({"lr": [1e-3, 1e-2], "width": [4, 8, 16]})
    assert grid == [dict(p) for p in ParameterGrid({"lr": [1e-3, 1e-2], "width": [4, 8, 16]})]
    rnd = L.random_candidates({"lr": loguniform(3e-4, 3e-2), "width": [4, 8]}, n=6, seed=0)
    assert rnd == L.random_candidates({"lr": loguniform(3e-4, 3e-2), "width": [4, 8]}, n=6, seed=0)
    assert len(rnd) == 6 and len({c["lr"] for c in rnd}) == 6
    assert all(3e-4 <= c["lr"] <= 3e-2 and type(c["lr"]) is float and c["width"] in (4, 8) for c in rnd)


def test_run_search_scores_each_candidate(tiny):
    train, val, _ = tiny
    results = L.run_search([{"lr": 1e-3, "width": 4}, {"lr": 3e-3, "width": 4}], train, val, epochs=1)
    assert [r.params for r in results] == [{"lr": 1e-3, "width": 4}, {"lr": 3e-3, "width": 4}]
    best = L.best_of(results)
    assert best.val_acc == max(r.val_acc for r in results)
    assert best.val_acc == pytest.approx(L.accuracy(predict(best.model, val.images), val.labels))
    assert "← best" in L.format_search({"grid": results})
    assert L.draw_search({"grid": results, "random": results}).axes[0].get_xscale() == "log"


@pytest.mark.parametrize("seed", range(20))
def test_early_stopping_rule_matches_fit(seed):
    rng = np.random.default_rng(seed)
    losses = np.round(rng.uniform(0.4, 1.0, size=rng.integers(3, 12)), 1).tolist()  # rounding makes ties
    if seed % 4 == 0:
        losses[len(losses) // 2] = float("nan")
    patience, min_delta = int(rng.integers(1, 4)), float(rng.choice([0.0, 0.05]))
    assert L.early_stopping_epochs(losses, patience, min_delta) == L.early_stopping_by_fit(losses, patience, min_delta)


def test_early_stopping_crafted():
    losses = [0.9, 0.6, 0.5, 0.5, 0.52, 0.49, 0.55, 0.58, 0.61, 0.4]
    assert L.early_stopping_epochs(losses, 1) == (4, 3)
    assert L.early_stopping_epochs(losses, 3) == (9, 6)
    assert L.early_stopping_epochs(losses, 4) == (10, 10)
    assert L.early_stopping_epochs([1.0, 0.8, float("nan"), float("nan"), 0.5], 2) == (4, 2)


def test_compare_early_stopping_runs_agree_until_the_stop(tiny):
    train, val, test = tiny
    runs = L.compare_early_stopping(train, val, test, epochs=6, patience=1, seeds=[0], lr=1e-2, batch_size=32)
    r = runs[0]
    assert len(r.fixed) == 6 and 1 <= r.epochs_used <= 6
    assert r.stopped.val_loss == pytest.approx(r.fixed.val_loss[:r.epochs_used])
    assert (r.epochs_used, r.stopped.best_epoch) == L.early_stopping_epochs(r.fixed.val_loss, 1)
    assert "mean" in L.format_early_stopping(runs)
    assert len(L.draw_early_stopping(r).axes) == 1


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


def test_bagging_averages_member_probabilities(tiny):
    train, val, test = tiny
    before = train.images.clone()
    bag = L.bagging(train, val, test, members=2, seed=0, epochs=1)
    assert torch.equal(train.images, before)
    assert len(bag.member_test_acc) == 2 and len(bag.member_val_probs) == 2
    mean = torch.stack(bag.member_test_probs).mean(0)
    assert bag.test_acc == pytest.approx(L.accuracy(mean, test.labels))
    assert bag.gain == pytest.approx(bag.test_acc - max(bag.member_test_acc))


def test_samme_boosting_weighted_vote(tiny):
    train, _, test = tiny
    boost = L.samme_boosting(train, test, members=2, seed=0, epochs=3, lr=1e-2)
    assert 1 <= len(boost.weights) <= 2 and all(a > 0 for a in boost.weights)
    votes = sum(a * torch.nn.functional.one_hot(p.argmax(1), 10).double() for a, p in zip(boost.weights, boost.member_test_probs))
    assert boost.test_acc == pytest.approx(L.accuracy(votes, test.labels))


def test_samme_boosting_refuses_a_chance_level_first_member(tiny):
    train, _, test = tiny
    with pytest.raises(ValueError, match="no better than chance"):
        L.samme_boosting(train, test, members=2, seed=0, epochs=1, lr=1e-6)


def test_stacking_learns_which_member_to_trust():
    g = torch.Generator().manual_seed(0)
    y_val, y_test = torch.randint(0, 3, (200,), generator=g), torch.randint(0, 3, (100,), generator=g)

    def member(y, good):
        probs = torch.rand(len(y), 3, generator=g)
        if good:
            probs[torch.arange(len(y)), y] += 2.0
        return probs / probs.sum(1, keepdim=True)

    st = L.stacking([member(y_val, False), member(y_val, True)], y_val, [member(y_test, False), member(y_test, True)], y_test)
    assert st.test_acc == pytest.approx(1.0)
    assert st.member_test_acc[1] == pytest.approx(1.0)
    assert "stacking" in L.format_ensembles({0: [st]})
