"""Chapter 11's checkers: right answers pass, typical mistakes fail with the mistake named."""
import numpy as np
import pytest
import torch

from cnncourse.checks import run_check


def good_prf(confusion):
    c = confusion.double()
    tp = c.diagonal()
    p = torch.where(c.sum(0) > 0, tp / c.sum(0), torch.zeros_like(tp))
    r = torch.where(c.sum(1) > 0, tp / c.sum(1), torch.zeros_like(tp))
    f = torch.where(p + r > 0, 2 * p * r / (p + r), torch.zeros_like(tp))
    return p, r, f


def good_es(val_losses, patience, min_delta=0.0):
    best, best_epoch, waited = None, 0, 0
    for epoch, loss in enumerate(val_losses, 1):
        if best is None or loss < best - min_delta:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch


def test_precision_recall_f1_passes():
    result = run_check("precision_recall_f1", good_prf)
    assert result.ok, str(result)


def test_float32_answer_passes_too():
    result = run_check("precision_recall_f1", lambda c: tuple(t.float() for t in good_prf(c)))
    assert result.ok, str(result)


def test_early_stopping_epochs_passes():
    result = run_check("early_stopping_epochs", good_es)
    assert result.ok, str(result)


def test_numpy_integers_are_accepted():
    result = run_check("early_stopping_epochs", lambda *a: tuple(np.int64(v) for v in good_es(*a)))
    assert result.ok, str(result)


def _prf_nan(confusion):
    c = confusion.double()
    p, r = c.diagonal() / c.sum(0), c.diagonal() / c.sum(1)
    return p, r, 2 * p * r / (p + r)


@pytest.mark.parametrize(("wrong", "message"), [
    (_prf_nan, "NaN"),
    (lambda c: good_prf(c.T), "rows and columns are swapped"),
    (lambda c: (good_prf(c)[0], good_prf(c)[1], (good_prf(c)[0] + good_prf(c)[1]) / 2), "HARMONIC"),
    (lambda c: (c.diagonal() / c.sum(), c.diagonal() / c.sum(), good_prf(c)[2]), "total count"),
    (lambda c: tuple(t.mean() for t in good_prf(c)), "PER CLASS"),
], ids=["nan", "swapped", "arithmetic-f1", "total", "averaged"])
def test_prf_mistakes_are_named(wrong, message):
    result = run_check("precision_recall_f1", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def _es(tie=False, nan=False, stop_after=0, zero_based=False, last=False, ignore_delta=False, look_ahead=False):
    def fn(val_losses, patience, min_delta=0.0):
        d = 0.0 if ignore_delta else min_delta
        best, best_epoch, waited = None, 0, 0
        for epoch, loss in enumerate(val_losses, 1):
            if nan:
                better = best is None or not loss >= best - d
            elif tie:
                better = best is None or loss <= best - d
            else:
                better = best is None or loss < best - d
            if better:
                best, best_epoch, waited = loss, epoch, 0
            else:
                waited += 1
                if waited >= patience + stop_after:
                    break
        else:
            epoch = len(val_losses)
        if look_ahead:
            best_epoch = int(np.nanargmin(val_losses)) + 1
        if last:
            best_epoch = epoch
        return (epoch - 1, best_epoch - 1) if zero_based else (epoch, best_epoch)
    return fn


@pytest.mark.parametrize(("wrong", "message"), [
    (_es(stop_after=1), "patience + 1"),
    (_es(stop_after=-1), "patience − 1"),
    (_es(last=True), "LAST epoch"),
    (_es(tie=True), "tie counted"),
    (_es(nan=True), "NaN"),
    (_es(zero_based=True), "count from 0"),
    (_es(ignore_delta=True), "min_delta was ignored"),
    (_es(look_ahead=True), "WHOLE sequence"),
], ids=["patience-late", "patience-early", "restore-last", "tie", "nan", "zero-based", "min-delta", "look-ahead"])
def test_es_mistakes_are_named(wrong, message):
    result = run_check("early_stopping_epochs", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


@pytest.mark.parametrize("name", ["precision_recall_f1", "early_stopping_epochs"])
def test_stub_fails_cleanly(name):
    def stub(*args):
        raise NotImplementedError
    assert "not implemented" in str(run_check(name, stub))


@pytest.mark.parametrize(("name", "fn"), [
    ("precision_recall_f1", lambda c: c.shape),
    ("precision_recall_f1", lambda c: 1 / 0),
    ("early_stopping_epochs", lambda *a: "five"),
    ("early_stopping_epochs", lambda *a: None),
])
def test_bad_answers_give_one_line(name, fn):
    text = str(run_check(name, fn))
    assert text.startswith(f"✗ {name}") and "\n" not in text and "Traceback" not in text


def test_input_changed_in_place_is_reported():
    def in_place(confusion):
        confusion.fill_(0)
        return good_prf(confusion)
    assert "in place" in str(run_check("precision_recall_f1", in_place))
