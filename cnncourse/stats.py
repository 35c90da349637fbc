"""How the course decides: the only definitions of "mean ± interval", "paired difference" and "verdict".

Every comparison in every chapter goes through this module, so "beyond noise" means the same
thing everywhere:

- :func:`mean_ci`: the mean of a few runs and its 95 % confidence interval (Student t, ``ddof=1``);
- :func:`paired`: two settings trained with the **same** seeds; the interval of the per-seed
  differences (a paired t interval) and how many seeds came out better;
- :func:`test_set_comparison`: two models scored on the **same** test images: a paired bootstrap
  interval of the accuracy difference, and McNemar's exact test on the images they disagree on;
- :func:`binomial_se`: the standard error of one accuracy measured on ``n`` images;
- :func:`decide`: ``supported`` / ``refuted`` / ``undecided`` from an interval, printed as one line,
  e.g. ``BN vs no BN at lr 0.5: val acc +0.412 [+0.380, +0.444], 5/5 seeds -> supported``;
- :func:`fact`: the verdict of a claim that a computation settles exactly (shapes, counts).

The rule of :func:`decide`: a claim "A beats B by more than ``threshold``" is **supported** when the
whole interval of A − B lies above the threshold, **refuted** when it lies below, and **undecided**
when it straddles it (then more seeds or a larger test set would decide). With a threshold of
0 that is "decided better / decided worse / within noise". A claim that two settings are equal
(``claim="equal"``) is supported when the interval lies inside ±threshold.

Pure numpy + scipy (installed with scikit-learn); no torch, no plotting.
Taught in notebooks/01_introduction.ipynb onwards (every "evidence" section).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as _scipy_stats

__all__ = [
    "CONFIDENCE",
    "VERDICTS",
    "Interval",
    "Paired",
    "TestSetComparison",
    "Verdict",
    "mean_ci",
    "paired",
    "binomial_se",
    "mcnemar_p",
    "paired_bootstrap",
    "test_set_comparison",
    "decide",
    "fact",
]

CONFIDENCE = 0.95
VERDICTS = ("supported", "refuted", "undecided")
_CLAIMS = ("greater", "less", "equal")


def _as_1d(values, name: str) -> np.ndarray:
    try:
        arr = np.asarray([float(v) for v in np.ravel(np.asarray(values, dtype=object))], dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}") from err
    if arr.size == 0:
        raise ValueError(f"{name} is empty: give at least one measured value")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf ({arr.tolist()}): a run diverged; report it instead of averaging it")
    return arr


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")


@dataclass(frozen=True)
class Interval:
    """A mean and its confidence interval. ``low``/``high`` are ±inf when one value cannot bound it."""

    mean: float
    low: float
    high: float
    n: int
    sd: float = math.nan
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def format(self, digits: int = 3, signed: bool = False) -> str:
        sign = "+" if signed else ""
        if not math.isfinite(self.low):
            return f"{self.mean:{sign}.{digits}f} [no interval from {self.n} value]"
        return f"{self.mean:{sign}.{digits}f} [{self.low:{sign}.{digits}f}, {self.high:{sign}.{digits}f}]"

    def __str__(self) -> str:
        return self.format()


def mean_ci(values, confidence: float = CONFIDENCE, bounds: tuple[float, float] | None = None) -> Interval:
    """Mean of ``values`` (one per seed) and its Student-t confidence interval (sample sd, ``ddof=1``).

    ``bounds``: the range the quantity cannot leave (``(0, 1)`` for an accuracy); the interval is
    clipped to it, so a t interval of accuracies never reaches 1.05.

    >>> mean_ci([0.90, 0.92, 0.94]).format()
    '0.920 [0.870, 0.970]'
    >>> mean_ci([0.99, 1.0, 0.93], bounds=(0, 1)).format()
    '0.973 [0.879, 1.000]'
    """
    _check_confidence(confidence)
    if bounds is not None and not (len(bounds) == 2 and bounds[0] < bounds[1]):
        raise ValueError(f"bounds must be (low, high) with low < high, e.g. (0, 1); got {bounds!r}")
    arr = _as_1d(values, "values")
    n = arr.size
    mean = float(arr.mean())
    if n < 2:
        return Interval(mean, -math.inf, math.inf, n, math.nan, confidence)
    sd = float(arr.std(ddof=1))
    half = float(_scipy_stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounds is not None:
        if arr.min() < bounds[0] or arr.max() > bounds[1]:
            raise ValueError(f"a value lies outside bounds {bounds}: {arr.min():g} .. {arr.max():g}")
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Interval(mean, low, high, n, sd, confidence)


@dataclass(frozen=True)
class Paired:
    """Setting A vs setting B over the same seeds: per-seed differences A − B and their interval."""

    a: Interval
    b: Interval
    diff: Interval
    wins: int  # seeds where A − B > 0
    n: int
    differences: tuple[float, ...] = field(default=(), repr=False)

    def format(self, digits: int = 3) -> str:
        return f"{self.diff.format(digits, signed=True)}, {self.wins}/{self.n} seeds better"


def paired(a, b, confidence: float = CONFIDENCE) -> Paired:
    """Compare two settings measured with the same seeds (``a[i]`` and ``b[i]`` share seed ``i``).

    Pairing removes what the seed does to both (the split, the initialisation), so far fewer
    seeds decide a difference than two independent means would need.
    """
    xa, xb = _as_1d(a, "a"), _as_1d(b, "b")
    if xa.size != xb.size:
        raise ValueError(f"paired needs one value per seed on both sides; got {xa.size} and {xb.size}")
    d = xa - xb
    return Paired(mean_ci(xa, confidence), mean_ci(xb, confidence), mean_ci(d, confidence),
                  int((d > 0).sum()), int(d.size), tuple(float(v) for v in d))


def binomial_se(accuracy: float, n: int) -> float:
    """Standard error of an accuracy measured on ``n`` independent test images: √(p(1−p)/n)."""
    if not 0 <= float(accuracy) <= 1:
        raise ValueError(f"accuracy must be a fraction in [0, 1], got {accuracy!r}")
    if int(n) < 1:
        raise ValueError(f"n must be a positive number of test images, got {n!r}")
    p = float(accuracy)
    return math.sqrt(p * (1 - p) / int(n))


def _correct_pair(correct_a, correct_b) -> tuple[np.ndarray, np.ndarray]:
    ca = np.asarray(correct_a).astype(bool).ravel()
    cb = np.asarray(correct_b).astype(bool).ravel()
    if ca.size != cb.size or ca.size == 0:
        raise ValueError(f"correct_a and correct_b must mark the same test images (got {ca.size} and {cb.size})")
    return ca, cb


def mcnemar_p(correct_a, correct_b) -> float:
    """McNemar's exact two-sided p-value: do A and B err on the same test images equally often?

    Only the images where exactly one model is right count; under "no difference" each of
    them is A's with probability 1/2 (a binomial test).
    """
    ca, cb = _correct_pair(correct_a, correct_b)
    only_a = int((ca & ~cb).sum())
    only_b = int((~ca & cb).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(_scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)


def paired_bootstrap(correct_a, correct_b, n_boot: int = 2000, seed: int = 0,
                     confidence: float = CONFIDENCE) -> Interval:
    """Percentile bootstrap interval of accuracy(A) − accuracy(B) over the same test images."""
    _check_confidence(confidence)
    ca, cb = _correct_pair(correct_a, correct_b)
    d = ca.astype(float) - cb.astype(float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, d.size, size=(int(n_boot), d.size))
    boots = d[idx].mean(axis=1)
    lo, hi = np.quantile(boots, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(float(d.mean()), float(lo), float(hi), int(d.size), float(d.std(ddof=1)) if d.size > 1 else math.nan,
                    confidence)


@dataclass(frozen=True)
class TestSetComparison:
    """Two models on one test set: accuracies, the bootstrap interval of their difference, McNemar's p."""

    __test__ = False  # not a pytest test class

    accuracy_a: float
    accuracy_b: float
    diff: Interval
    p_value: float
    n: int

    def format(self, digits: int = 3) -> str:
        return (f"{self.diff.format(digits, signed=True)} on {self.n:,} test images "
                f"(McNemar p = {self.p_value:.2g})")


def test_set_comparison(correct_a, correct_b, n_boot: int = 2000, seed: int = 0) -> TestSetComparison:
    """Compare two models by which test images each got right (boolean arrays of equal length)."""
    ca, cb = _correct_pair(correct_a, correct_b)
    return TestSetComparison(float(ca.mean()), float(cb.mean()), paired_bootstrap(ca, cb, n_boot, seed),
                             mcnemar_p(ca, cb), int(ca.size))


test_set_comparison.__test__ = False  # not a pytest test function


@dataclass(frozen=True)
class Verdict:
    """A decided (or undecided) comparison: the verdict word, the one-line summary, the numbers."""

    verdict: str
    summary: str
    numbers: dict

    def __str__(self) -> str:
        return self.summary


def _interval_of(comparison) -> tuple[Interval, str]:
    if isinstance(comparison, Paired):
        return comparison.diff, comparison.format
    if isinstance(comparison, TestSetComparison):
        return comparison.diff, comparison.format
    if isinstance(comparison, Interval):
        return comparison, lambda digits: comparison.format(digits, signed=True)
    raise TypeError("decide needs a stats.Paired, stats.TestSetComparison or stats.Interval "
                    f"(from stats.paired, stats.test_set_comparison or stats.mean_ci), got {type(comparison).__name__}")


def decide(label: str, comparison, *, claim: str = "greater", threshold: float = 0.0, metric: str = "",
           digits: int = 3, show: bool = True, file=None) -> Verdict:
    """The verdict on "A − B is greater than / less than / within ±``threshold``", printed as one line.

    ``comparison`` is what :func:`paired`, :func:`test_set_comparison` or :func:`mean_ci` returned
    (for the interval of a difference). ``metric`` names what was measured ("val acc").
    """
    if claim not in _CLAIMS:
        raise ValueError(f"claim must be one of {_CLAIMS}, got {claim!r}")
    threshold = float(threshold)
    if claim == "equal" and threshold <= 0:
        raise ValueError("claim='equal' needs a threshold > 0: the largest difference that counts as equal")
    interval, formatter = _interval_of(comparison)
    lo, hi = interval.low, interval.high
    if claim == "greater":
        verdict = "supported" if lo > threshold else "refuted" if hi < threshold else "undecided"
        rule = f"> {threshold:+g}" if threshold else "> 0"
    elif claim == "less":
        verdict = "supported" if hi < threshold else "refuted" if lo > threshold else "undecided"
        rule = f"< {threshold:+g}" if threshold else "< 0"
    else:
        inside = -threshold < lo and hi < threshold
        outside = lo > threshold or hi < -threshold
        verdict = "supported" if inside else "refuted" if outside else "undecided"
        rule = f"within ±{threshold:g}"
    what = f"{metric} " if metric else ""
    summary = f"{label}: {what}{formatter(digits)} (claim {rule}) → {verdict}"
    numbers = {"mean": interval.mean, "low": interval.low, "high": interval.high, "n": interval.n,
               "claim": claim, "threshold": threshold}
    if isinstance(comparison, Paired):
        numbers.update(wins=comparison.wins, a_mean=comparison.a.mean, b_mean=comparison.b.mean,
                       differences=list(comparison.differences))
    if isinstance(comparison, TestSetComparison):
        numbers.update(p_value=comparison.p_value, a_mean=comparison.accuracy_a, b_mean=comparison.accuracy_b)
    numbers = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in numbers.items()}
    result = Verdict(verdict, summary, numbers)
    if show:
        print(summary, file=file or sys.stdout)
    return result


def fact(label: str, holds: bool, detail: str = "", show: bool = True, file=None, **numbers) -> Verdict:
    """The verdict of a claim a computation settles exactly: ``supported`` if ``holds`` else ``refuted``."""
    verdict = "supported" if bool(holds) else "refuted"
    summary = f"{label}: {detail} → {verdict}" if detail else f"{label} → {verdict}"
    result = Verdict(verdict, summary, dict(numbers))
    if show:
        print(summary, file=file or sys.stdout)
    return result
