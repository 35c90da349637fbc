"""cnncourse.stats against scipy.stats on known cases, and the verdict rule at its edges."""
import math

import numpy as np
import pytest
from scipy import stats as sp

from cnncourse import stats


def test_mean_ci_matches_scipy_t_interval():
    values = [0.91, 0.93, 0.90, 0.95, 0.92]
    got = stats.mean_ci(values)
    low, high = sp.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sp.sem(values))
    assert got.mean == pytest.approx(np.mean(values))
    assert (got.low, got.high) == pytest.approx((low, high), abs=1e-12)
    assert got.sd == pytest.approx(np.std(values, ddof=1))
    assert got.n == 5


def test_mean_ci_known_numbers_and_other_confidence():
    # mean 2, sd 1, n 3: t(0.975, 2) = 4.302652729911275; half width = 4.3027 / sqrt(3)
    got = stats.mean_ci([1.0, 2.0, 3.0])
    assert got.high - 2.0 == pytest.approx(4.302652729911275 / math.sqrt(3))
    wider = stats.mean_ci([1.0, 2.0, 3.0], confidence=0.99)
    assert wider.half_width > got.half_width


def test_bounds_clip_the_interval_to_the_quantity_s_range():
    values = [0.99, 1.0, 0.93]  # the t interval reaches above 1
    free = stats.mean_ci(values)
    clipped = stats.mean_ci(values, bounds=(0, 1))
    assert free.high > 1 and clipped.high == 1.0 and clipped.low == pytest.approx(free.low)
    assert clipped.mean == free.mean and clipped.sd == free.sd
    assert stats.mean_ci([0.0, 0.05, 0.01], bounds=(0, 1)).low == 0.0
    with pytest.raises(ValueError, match="outside bounds"):
        stats.mean_ci([0.5, 1.2], bounds=(0, 1))
    with pytest.raises(ValueError, match="low < high"):
        stats.mean_ci(values, bounds=(1, 0))


def test_one_value_gives_no_interval_and_stays_undecided():
    one = stats.mean_ci([0.9])
    assert math.isinf(one.low) and math.isinf(one.high)
    assert stats.decide("one seed", one, show=False).verdict == "undecided"


@pytest.mark.parametrize("bad", [[], [0.9, float("nan")], ["a", "b"], [0.9, float("inf")]])
def test_bad_values_get_a_clear_message(bad):
    with pytest.raises((ValueError, TypeError), match="values"):
        stats.mean_ci(bad)


def test_paired_equals_a_one_sample_t_interval_on_differences():
    a = np.array([0.95, 0.94, 0.96, 0.93, 0.95])
    b = np.array([0.92, 0.93, 0.92, 0.92, 0.94])
    got = stats.paired(a, b)
    res = sp.ttest_rel(a, b)
    ci = res.confidence_interval(0.95)
    assert (got.diff.low, got.diff.high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert got.wins == 5 and got.n == 5
    # pairing matters: the unpaired spread of b alone is larger than the spread of a - b
    assert got.diff.half_width < stats.mean_ci(b).half_width * 2


def test_paired_needs_equal_lengths():
    with pytest.raises(ValueError, match="one value per seed"):
        stats.paired([1, 2, 3], [1, 2])


def test_binomial_se():
    assert stats.binomial_se(0.9, 1000) == pytest.approx(math.sqrt(0.9 * 0.1 / 1000))
    with pytest.raises(ValueError, match="fraction"):
        stats.binomial_se(90, 100)
    with pytest.raises(ValueError, match="positive"):
        stats.binomial_se(0.5, 0)


def test_mcnemar_matches_scipy_binomtest_on_discordant_pairs():
    rng = np.random.default_rng(0)
    a = rng.random(500) < 0.9
    b = rng.random(500) < 0.85
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    assert stats.mcnemar_p(a, b) == pytest.approx(sp.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    assert stats.mcnemar_p(a, a) == 1.0


def test_paired_bootstrap_interval_covers_the_difference_and_is_seeded():
    rng = np.random.default_rng(1)
    a = rng.random(2000) < 0.95
    b = a.copy()
    b[:100] = False  # B is wrong on 100 more images (some of which A also got wrong)
    ci = stats.paired_bootstrap(a, b, seed=3)
    assert ci.mean == pytest.approx(a.mean() - b.mean())
    assert ci.low > 0 and ci.low < ci.mean < ci.high
    assert stats.paired_bootstrap(a, b, seed=3) == ci
    cmp = stats.test_set_comparison(a, b)
    assert cmp.p_value < 1e-6
    assert stats.decide("A vs B", cmp, show=False).verdict == "supported"


@pytest.mark.parametrize(
    "diffs, claim, threshold, expected",
    [
        ([0.03, 0.04, 0.05, 0.035, 0.045], "greater", 0.0, "supported"),
        ([-0.03, -0.04, -0.05, -0.035, -0.045], "greater", 0.0, "refuted"),
        ([0.03, -0.04, 0.05, -0.035, 0.01], "greater", 0.0, "undecided"),
        ([-0.03, -0.04, -0.05, -0.035, -0.045], "less", 0.0, "supported"),
        ([0.03, 0.04, 0.05, 0.035, 0.045], "less", 0.0, "refuted"),
        ([0.001, -0.002, 0.0, 0.001, -0.001], "equal", 0.01, "supported"),
        ([0.03, 0.04, 0.05, 0.035, 0.045], "equal", 0.01, "refuted"),
        # a gain that is real but smaller than the threshold that matters: refuted
        ([0.002, 0.003, 0.0025, 0.002, 0.003], "greater", 0.01, "refuted"),
    ],
)
def test_decide(diffs, claim, threshold, expected, capsys):
    v = stats.decide("X vs Y", stats.paired(diffs, [0.0] * len(diffs)), claim=claim, threshold=threshold, metric="val acc")
    assert v.verdict == expected
    printed = capsys.readouterr().out.strip()
    assert printed == v.summary and printed.startswith("X vs Y: val acc ") and printed.endswith(expected)
    assert "seeds better" in printed


def test_decide_rejects_bad_arguments():
    with pytest.raises(ValueError, match="claim must be"):
        stats.decide("x", stats.mean_ci([1, 2]), claim="bigger")
    with pytest.raises(ValueError, match="threshold > 0"):
        stats.decide("x", stats.mean_ci([1, 2]), claim="equal")
    with pytest.raises(TypeError, match="stats.paired"):
        stats.decide("x", 0.5)


def test_fact(capsys):
    assert stats.fact("3x3 keeps 28", 28 == 28, "28 -> 28").verdict == "supported"
    assert stats.fact("groups add parameters", False, show=False).verdict == "refuted"
    assert capsys.readouterr().out.strip() == "3x3 keeps 28: 28 -> 28 → supported"
