"""cnncourse.checks.core: one-line verdicts, bad input reported, diagnoses name the mistake."""
import pytest
import torch

from cnncourse.checks import Case, Checker, CheckResult, check, checkers, compare, run_check
from cnncourse.checks import core


@pytest.fixture
def doubler():
    """A throwaway checker registered for these tests only."""
    checker = Checker(
        name="_double_test",
        reference=lambda x: x * 2,
        cases=lambda g: [Case("small", (torch.rand(3, generator=g),)), Case("matrix", (torch.rand(2, 4, generator=g),))],
        diagnoses=[(lambda got, case: torch.allclose(got, case.args[0] ** 2), "you squared instead of doubling.")],
        hints=["Multiply by two."],
    )
    core._REGISTRY[checker.name] = checker
    yield checker
    del core._REGISTRY[checker.name]


def test_correct_function_passes_every_case(doubler, capsys):
    result = check("_double_test", lambda x: x + x)
    assert result.ok and bool(result) and str(result) == "✓ _double_test: 2/2 cases"
    assert capsys.readouterr().out.strip() == "✓ _double_test: 2/2 cases"


def test_wrong_values_are_located_and_diagnosed(doubler):
    result = run_check("_double_test", lambda x: x ** 2)
    assert not result.ok and result.passed == 0
    line = str(result)
    assert "\n" not in line
    assert line.startswith("✗ _double_test: 0/2 cases; [small] values differ")
    assert line.endswith("Hint: you squared instead of doubling. Next: hint('_double_test')")


def test_a_failure_without_a_hint_ladder_names_no_next_step(counter):
    assert "Next:" not in str(run_check("_count_test", lambda x: 0))


def test_bad_input_is_one_line_not_a_traceback(doubler):
    assert "pass the function itself" in str(run_check("_double_test", 3.0))
    assert "not implemented yet" in str(run_check("_double_test", _stub))
    crash = str(run_check("_double_test", lambda x: x.reshape(5, 5)))
    assert "raised RuntimeError" in crash and "\n" not in crash
    wrong_type = str(run_check("_double_test", lambda x: x.tolist()))
    assert "returned list" in wrong_type and "expected a tensor of shape (3,)" in wrong_type
    wrong_shape = str(run_check("_double_test", lambda x: (x * 2).unsqueeze(0)))
    assert "shape (1, 3), expected (3,)" in wrong_shape
    assert "no exercise named 'nope'" in str(run_check("nope", print))


def test_in_place_changes_to_the_input_are_reported(doubler):
    def sneaky(x):
        return x.mul_(2)

    assert "changed its input in place" in str(run_check("_double_test", sneaky))


def _stub(x):
    raise NotImplementedError


def test_compare_handles_numbers_sequences_and_dicts():
    assert compare(3, 3) is None and compare(3.0000001, 3.0) is None
    assert "expected the whole number 3" in compare(3.5, 3)
    assert "expected a number" in compare("3", 3)
    assert compare((torch.ones(2), 1), (torch.ones(2), 1)) is None
    assert "item 1" in compare((torch.ones(2), 2), (torch.ones(2), 1))
    assert "keys" in compare({"a": 1}, {"b": 1})
    assert compare(torch.tensor(2.0), 2.0) is None


def test_chapter_checkers_are_registered_with_hints():
    registry = checkers()
    assert {"conv_params", "linear_params", "translate"} <= set(registry)
    for name, checker in registry.items():
        assert len(checker.hints) >= 2, f"{name} needs tiered hints"
        assert list(checker.cases(torch.Generator().manual_seed(0))), f"{name} has no cases"


def test_result_displays_nothing_extra_in_notebooks():
    assert CheckResult("x", 1, 1)._ipython_display_() is None
    assert str(CheckResult("x", 0, 0, "no exercise")) == "✗ x: no exercise"


@pytest.fixture
def counter():
    """A checker whose answer is a plain number, forbidding torch.numel (a from-scratch exercise's rule)."""
    checker = Checker(
        name="_count_test",
        reference=lambda x: int(x.numel()),
        cases=lambda g: [Case("vector", (torch.rand(7, generator=g),)), Case("matrix", (torch.rand(2, 3, generator=g),))],
        forbids=("torch.numel", "torch.Tensor.numel"),
    )
    core._REGISTRY[checker.name] = checker
    yield checker
    del core._REGISTRY[checker.name]


def test_a_numpy_scalar_counts_as_the_number_it_holds(counter):
    np = pytest.importorskip("numpy")
    assert run_check("_count_test", lambda x: np.int64(np.prod(x.shape))).ok
    assert not run_check("_count_test", lambda x: np.float64(np.prod(x.shape)) + 0.5).ok


def test_nan_and_inf_are_reported_not_raised(doubler, counter):
    nan = run_check("_double_test", lambda x: x * float("nan"))
    assert not nan.ok and "\n" not in str(nan)
    inf = run_check("_count_test", lambda x: float("inf"))
    assert not inf.ok and "returned inf" in inf.detail


def test_a_case_that_runs_too_long_is_stopped_with_a_clear_line(doubler):
    def forever(x):
        while True:
            pass

    result = run_check("_double_test", forever, time_limit=0.3)
    assert not result.ok and "did not finish within 0.3 s" in result.detail


def test_what_the_function_prints_is_captured_and_shown_truncated(doubler, capsys):
    def chatty(x):
        for i in range(50):
            print("step", i)
        return x * 2

    result = check("_double_test", chatty)
    out = capsys.readouterr().out.splitlines()
    assert result.ok and out[0] == "✓ _double_test: 2/2 cases"  # the verdict comes first, not buried
    assert "your function printed 100 lines (the first 8 shown):" in out[1]
    assert out[-1].endswith("92 more lines") and len(out) == 2 + 8 + 1


def test_a_forbidden_call_is_named_directly_through_an_alias_or_a_helper(counter):
    direct = run_check("_count_test", lambda x: torch.numel(x))
    assert not direct.ok and "torch.numel" in direct.detail
    method = run_check("_count_test", lambda x: x.numel())
    assert not method.ok and "numel" in method.detail
    count = torch.numel

    def helper(x):
        return count(x)

    via_helper = run_check("_count_test", lambda x: helper(x))
    assert not via_helper.ok and "torch.numel (as count)" in via_helper.detail
    hidden = run_check("_count_test", lambda x: getattr(torch, "num" + "el")(x))  # past the static look: the run-time guard
    assert not hidden.ok and "torch.numel" in hidden.detail
    assert torch.numel(torch.zeros(4)) == 4 and torch.zeros(2, 2).numel() == 4  # the guard is undone afterwards
    assert run_check("_count_test", lambda x: len(x.flatten())).ok
