"""cnncourse.checks.core: one-line verdicts, bad input reported, diagnoses name the mistake."""
import math

import pytest
import torch

from cnncourse.checks import Case, Checker, CheckResult, check, checkers, compare, run_check
from cnncourse import i18n
from cnncourse.checks import core
from cnncourse.checks.core import EXACT, FLOAT32, FLOAT64, Mistake, Symptom, makes_mistake, one_of


@pytest.fixture
def doubler():
    """A throwaway checker registered for these tests only."""
    checker = Checker(
        name="_double_test",
        reference=lambda x: x * 2,
        cases=lambda g: [Case("small", (torch.rand(3, generator=g),)), Case("matrix", (torch.rand(2, 4, generator=g),))],
        diagnoses=[Mistake("squared", lambda x: x ** 2)],
    )
    core._REGISTRY[checker.name] = checker
    with i18n.added_messages({"diagnosis._double_test.squared": "you squared instead of doubling.",
                              "hint._double_test.1": "Multiply by two."}):
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
    assert result.mistake == "squared"


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


# ----------------------------------------------------------------------------- the mistake engine, the tolerances

def test_the_named_tolerances_are_the_one_policy_of_compare():
    assert compare(1.0 + 1e-7, 1.0, EXACT) is not None and compare(1.0, 1.0, EXACT) is None
    assert compare(1.0 + 1e-7, 1.0, FLOAT64) is None and compare(1.0 + 1e-5, 1.0, FLOAT64) is not None
    assert compare(1.0 + 1e-5, 1.0, FLOAT32) is None and compare(1.0 + 1e-3, 1.0, FLOAT32) is not None
    assert compare(torch.tensor([1.0, 2.0 + 1e-6]), torch.tensor([1.0, 2.0])) is None  # FLOAT32 is the default
    assert compare(torch.tensor([1.0, 2.0 + 1e-6]), torch.tensor([1.0, 2.0]), EXACT) is not None
    assert FLOAT32.same(torch.tensor([math.nan, 1.0]), torch.tensor([math.nan, 1.0]))  # NaN where NaN is
    assert not FLOAT32.same(math.nan, math.nan) and not FLOAT32.same("x", torch.zeros(2))  # never raises


def _case(*args, **kwargs):
    return Case("t", args, kwargs)


def test_a_mistake_is_recognised_within_its_tolerance_and_only_where_it_differs_from_the_right_answer():
    halved = Mistake("halved", lambda x: x / 2)
    x = torch.tensor([1.0, -3.0, 4.0])
    right = 2 * x
    assert makes_mistake(halved, torch.tensor([0.5, -1.5, 2.0]) + 1e-6, _case(x), right, FLOAT32)
    assert not makes_mistake(halved, torch.tensor([0.5, -1.5, 2.0]) + 1e-6, _case(x), right, EXACT)
    assert not makes_mistake(Mistake("halved", lambda x: x / 2, tol=EXACT), torch.tensor([0.5, -1.5, 2.0]) + 1e-6,
                             _case(x), right, FLOAT32)  # the mistake's own tolerance wins
    assert not makes_mistake(halved, x, _case(x), right)  # the learner's answer is another one
    zeros = torch.zeros(3)
    assert not makes_mistake(halved, zeros, _case(zeros), zeros)  # at x = 0 halving is no mistake: it is the right answer


def test_a_mistake_may_compare_some_items_give_several_forms_or_not_apply():
    pair = Mistake("second_negated", lambda a, b: -b, part=1)
    assert makes_mistake(pair, (1.0, -2.0), _case(1.0, 2.0), (1.0, 2.0), FLOAT64)
    assert not makes_mistake(pair, (1.0, 2.0), _case(1.0, 2.0), (1.0, 2.0), FLOAT64)
    both = Mistake("swapped", lambda a, b: (b, a), part=(0, 1))
    assert makes_mistake(both, (2.0, 1.0, 7), _case(1.0, 2.0), (1.0, 2.0, 7), FLOAT64)
    forms = Mistake("off_by_one", lambda n: one_of(n - 1, None, n + 1), tol=EXACT)
    assert makes_mistake(forms, 6, _case(5), 5) and makes_mistake(forms, 4, _case(5), 5) and not makes_mistake(forms, 7, _case(5), 5)
    never = Mistake("never", lambda n: None)
    assert not makes_mistake(never, 6, _case(5), 5)


@pytest.fixture
def triple():
    """A checker with a Symptom, a mistake that raises, and two mistakes that both fit one wrong answer."""
    checker = Checker(
        name="_triple_test",
        reference=lambda x: x * 3,
        cases=lambda g: [Case("vector", (torch.tensor([1.0, 2.0, 4.0]),)), Case("zeros", (torch.zeros(2),))],
        diagnoses=[
            Symptom("nan", lambda got, case: bool(torch.isnan(got).any())),
            Mistake("crashes", lambda x: x.reshape(7, 7)),
            Mistake("doubled", lambda x: x * 2),
            Mistake("x_plus_x", lambda x: x + x),
        ],
    )
    core._REGISTRY[checker.name] = checker
    texts = {"nan": "NaN came out.", "crashes": "never reported: it raises", "doubled": "you doubled instead of tripling.",
             "x_plus_x": "never reported: the mistake before it fits first"}
    with i18n.added_messages({f"diagnosis._triple_test.{k}": v for k, v in texts.items()}
                             | {"hint._triple_test.1": "Multiply by three.", "hint._triple_test.2": "x * 3"}):
        yield checker
    del core._REGISTRY[checker.name]


def test_the_engine_reports_the_first_diagnosis_that_fits(triple):
    doubled = run_check("_triple_test", lambda x: x * 1.0 + x)  # written independently of the mistake's x * 2
    assert not doubled.ok and doubled.hint == "you doubled instead of tripling." and doubled.mistake == "doubled"
    nan = run_check("_triple_test", lambda x: x * math.nan)
    assert nan.mistake == "nan" and nan.hint == "NaN came out."
    other = run_check("_triple_test", lambda x: x - 1)
    assert not other.ok and other.hint == "" and other.mistake == ""


def test_register_refuses_an_undeclared_diagnosis_or_two_with_one_name():
    def make(diagnoses):
        return Checker(name="_bad_test", reference=lambda x: x, cases=lambda g: [Case("one", (1,))], diagnoses=diagnoses)

    with pytest.raises(TypeError, match="Mistake or a Symptom"):
        core.register(make([(lambda got, case: True, "a bare predicate")]))
    with pytest.raises(ValueError, match="share a name"):
        core.register(make([Mistake("a", lambda x: x), Symptom("a", lambda got, case: True)]))
    assert "_bad_test" not in core._REGISTRY


def test_the_note_reuses_the_judged_expected_values():
    calls = []

    def reference(x):
        calls.append(x)
        return x * 2

    checker = Checker(name="_note_test", reference=reference, cases=lambda g: [Case("a", (1.0,)), Case("b", (2.0,))],
                      note=lambda triples: "expected " + ", ".join(f"{e:g}" for _, _, e in triples))
    core._REGISTRY[checker.name] = checker
    try:
        result = run_check("_note_test", lambda x: x + x)
    finally:
        del core._REGISTRY[checker.name]
    assert result.ok and result.note == "expected 2, 4"
    assert len(calls) == 2  # one reference call per case: judged once, and the note reads those values


# ----------------------------------------------------------------------------- the static look at the learner's code

def test_the_scanner_looks_into_classes_imports_and_values_and_not_at_the_learner_s_own_attributes():
    class Helper:
        @staticmethod
        def backward(x):  # the learner's own method that shares a forbidden name
            return x

    class Uses:
        @staticmethod
        def forward(x):
            return torch.numel(x)

    def own_attribute(x):
        return Helper.backward(x)

    def imports_it(x):
        import torch.autograd.functional as functional  # noqa: F401
        from torch.autograd import grad  # noqa: F401
        return x

    forbids = ("torch.numel", "torch.Tensor.backward", "torch.autograd.grad")
    assert core.code_uses(Uses, forbids) == "torch.numel"  # a class: its methods
    assert core.code_uses(own_attribute, forbids) == ""  # Helper.backward is the learner's, not torch's
    assert core.code_uses(lambda x: x.backward(), forbids) == "torch.Tensor.backward"  # on an unknown object: the name
    assert core.code_uses(imports_it, forbids) == "torch.autograd.grad"

    def imports_the_module(x):
        import torch.autograd.functional  # noqa: F401
        return x

    assert core.code_uses(imports_the_module, ("torch.autograd.functional",)) == "torch.autograd.functional"
    images = torch.zeros(3, 28, 28)
    seen = core.code_uses(lambda: images.sum(), (), outside=lambda name, value: name if value is images else "")
    assert seen == "images"
    assert core.code_uses(lambda: images.sum(), ()) == ""
