"""Checks for exercises/11_evaluation_tuning.ipynb: per-class precision/recall/F1, and early stopping.

``precision_recall_f1`` is compared with ``sklearn.metrics.precision_recall_fscore_support``
(``zero_division=0``) on random confusion matrices and on the edge cases that break naive
code: a class never predicted, a class absent from the data. ``early_stopping_epochs`` is
compared with :func:`cnncourse.train.fit` itself, fed crafted validation losses (ties,
plateaus, min_delta, NaN).

Taught in notebooks/11_evaluation_tuning.ipynb.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..lessons.evaluation import early_stopping_by_fit
from .core import EXACT, Case, Checker, Mistake, Symptom, register

__all__ = ["precision_recall_f1", "early_stopping_epochs"]


# ----------------------------------------------------------------------------- precision / recall / F1

def _sklearn_prf(confusion: torch.Tensor):
    """sklearn's per-class precision, recall, F1 (zero_division=0) for the samples a confusion matrix counts."""
    from sklearn.metrics import precision_recall_fscore_support

    c = confusion.long()
    k = c.shape[0]
    true = np.repeat(np.arange(k).repeat(k), c.flatten().numpy())      # row index of every counted sample
    pred = np.repeat(np.tile(np.arange(k), k), c.flatten().numpy())    # column index
    p, r, f, _ = precision_recall_fscore_support(true, pred, labels=list(range(k)), zero_division=0)
    return tuple(torch.from_numpy(np.asarray(v, dtype=np.float64)) for v in (p, r, f))


def _prf_cases(g: torch.Generator):
    def counts(k, high=20, diag=0):
        return torch.randint(0, high, (k, k), generator=g) + diag * torch.eye(k, dtype=torch.long)

    never_predicted = counts(4, diag=10)
    never_predicted[:, 2] = 0
    absent = counts(4, diag=10)
    absent[1, :] = 0
    unused = counts(5, diag=10)
    unused[3, :] = 0
    unused[:, 3] = 0
    return [
        Case("random 3×3", (counts(3),)),
        Case("a 10-class test set (heavy diagonal)", (counts(10, high=6, diag=40),)),
        Case("2×2, asymmetric", (torch.tensor([[8, 2], [4, 6]]),)),
        Case("class 2 never predicted (empty column)", (never_predicted,)),
        Case("class 1 absent from the data (empty row)", (absent,)),
        Case("class 3 neither present nor predicted", (unused,)),
        Case("a perfect classifier", (torch.diag(torch.tensor([5, 3, 7])),)),
    ]


def _prf_variant(kind: str):
    """A Mistake's ``wrong``: the per-class values a mistake gives ("swapped": the recall as precision, "arithmetic":
    F1 as (P + R) / 2, "total": precision as C[k, k] over the total count, "averaged": one mean per quantity)."""
    def wrong(confusion: torch.Tensor):
        p, r, f = _sklearn_prf(confusion)
        c = confusion.double()
        return {"swapped": lambda: r, "arithmetic": lambda: (p + r) / 2, "total": lambda: c.diagonal() / c.sum(),
                "averaged": lambda: tuple(float(v.mean()) for v in (p, r, f))}[kind]()
    return wrong


def _nan(got, case):
    """NaN in the answer (sklearn's values, with zero_division=0, never are)."""
    return any(isinstance(g, torch.Tensor) and bool(torch.isnan(g).any()) for g in got[:3])


precision_recall_f1 = register(Checker(
    name="precision_recall_f1",
    reference=_sklearn_prf,
    cases=_prf_cases,
    diagnoses=[
        Symptom("nan", _nan),  # a 0/0 for a class never predicted or absent
        Mistake("swapped", _prf_variant("swapped"), part=0),
        Mistake("arithmetic_f1", _prf_variant("arithmetic"), part=2),
        Mistake("total", _prf_variant("total"), part=0),
        Mistake("averaged", _prf_variant("averaged"), part=(0, 1, 2)),
    ],
))


# ----------------------------------------------------------------------------- early stopping

def _simulate(losses, patience, min_delta=0.0, *, tie_improves=False, nan_improves=False, stop_after=None):
    """An early-stopping rule with a chosen mistake; (stop epoch, best epoch), epochs from 1."""
    stop_after = patience if stop_after is None else stop_after
    best, best_epoch, waited = None, 0, 0
    for epoch, value in enumerate(losses, 1):
        if nan_improves:
            better = best is None or not (value >= best - min_delta)
        elif tie_improves:
            better = best is None or value <= best - min_delta
        else:
            better = best is None or value < best - min_delta
        if better:
            best, best_epoch, waited = value, epoch, 0
        else:
            waited += 1
            if waited >= stop_after:
                return epoch, best_epoch
    return len(losses), best_epoch


def _es_cases(g: torch.Generator):
    noisy = (1.0 / torch.arange(1, 13) + 0.05 * torch.rand(12, generator=g)).tolist()
    nan = float("nan")
    return [
        Case("loss still falling at the end (never stops)", ([1.0, 0.9, 0.8, 0.7, 0.6], 2)),
        Case("a U-shaped curve, patience 2", ([1.0, 0.8, 0.6, 0.65, 0.7, 0.75, 0.8], 2)),
        Case("a plateau of ties, patience 3", ([1.0, 0.5, 0.5, 0.5, 0.5, 0.4], 3)),
        Case("patience 1 stops at the first tie", ([0.9, 0.6, 0.5, 0.5, 0.52, 0.49, 0.55, 0.58, 0.61, 0.4], 1)),
        Case("the chapter's sequence, patience 3", ([0.9, 0.6, 0.5, 0.5, 0.52, 0.49, 0.55, 0.58, 0.61, 0.4], 3)),
        Case("min_delta 0.05: small gains do not count", ([1.0, 0.9, 0.86, 0.87, 0.88, 0.5], 2, 0.05)),
        Case("a NaN loss (diverged) is no improvement", ([1.0, 0.8, nan, nan, nan, 0.5], 2)),
        Case("a noisy falling curve, patience 2", (noisy, 2)),
    ]


def _es_mistake(name, **mistake):
    """The mistake of :func:`_simulate` with ``mistake`` (a rule turned the wrong way): the (stop, best) it gives."""
    def wrong(losses, patience, min_delta=0.0):
        return _simulate(losses, patience, min_delta, **mistake)
    return Mistake(name, wrong)


def _patience_off_by(delta: int):
    """A Mistake's ``wrong``: early stopping after patience + ``delta`` epochs without improvement."""
    def wrong(losses, patience, min_delta=0.0):
        return None if patience + delta < 1 else _simulate(losses, patience, min_delta, stop_after=patience + delta)
    return wrong


def _es_last(losses, patience, min_delta=0.0):
    stop, best = early_stopping_by_fit(losses, patience, min_delta)
    return stop, stop


def _es_zero_based(losses, patience, min_delta=0.0):
    stop, best = early_stopping_by_fit(losses, patience, min_delta)
    return stop - 1, best - 1


def _es_min_delta_ignored(losses, patience, min_delta=0.0):
    return _simulate(losses, patience, 0.0)


def _es_looked_ahead(losses, patience, min_delta=0.0):
    """The best epoch taken over the WHOLE sequence (NaN never the best); only that item is compared."""
    finite = [v if v == v else math.inf for v in losses]
    return int(np.argmin(finite)) + 1


early_stopping_epochs = register(Checker(
    name="early_stopping_epochs",
    reference=early_stopping_by_fit,
    cases=_es_cases,
    tol=EXACT,
    diagnoses=[
        Mistake("zero_based", _es_zero_based),
        _es_mistake("tie_improves", tie_improves=True),
        Mistake("patience_plus_one", _patience_off_by(+1)),
        Mistake("patience_minus_one", _patience_off_by(-1)),
        Mistake("min_delta_ignored", _es_min_delta_ignored),
        _es_mistake("nan_improves", nan_improves=True),
        Mistake("restored_last", _es_last),  # the stop epoch returned as the one to restore
        Mistake("looked_ahead", _es_looked_ahead, part=1),
    ],
))
