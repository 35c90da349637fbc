"""cnncourse.checks.core's gradient-check pieces: relative error, autograd and finite differences, and the
Checker/Case hooks the backward-pass exercises use (a per-case reference, a custom call, a note in the line)."""
import math

import pytest
import torch

from cnncourse import i18n
from cnncourse.checks import Case, Checker, run_check
from cnncourse.checks import core


def test_rel_error_is_cs231n_s():
    a = torch.tensor([1.0, -2.0, 0.0], dtype=torch.float64)
    b = torch.tensor([1.1, -2.0, 1e-10], dtype=torch.float64)  # 1e-10 / max(1e-8, 1e-10) = 0.01
    assert core.rel_error(a, b) == pytest.approx(0.1 / 2.1)
    assert core.rel_error(torch.zeros(3), torch.full((3,), 1e-12)) == pytest.approx(1e-4)  # the 1e-8 floor
    assert core.rel_error((a, {"k": a}), (a, {"k": b})) == pytest.approx(0.1 / 2.1)  # nested: the largest
    assert core.rel_error(a, a[:2]) == math.inf and core.rel_error(a * math.nan, a) == math.inf


def test_autograd_and_finite_differences_agree_and_leave_inputs_alone():
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(4, 2, generator=g, dtype=torch.float64)
    before = x.clone()
    grad_out = torch.randn(3, 2, generator=g, dtype=torch.float64)
    f = lambda x, w: torch.tanh(x @ w)  # noqa: E731
    auto = core.autograd_gradients(f, (x, w), grad_out)
    numeric = core.numerical_gradients(f, (x, w), grad_out, h=1e-5)
    assert core.rel_error(auto, numeric) < 1e-7
    assert torch.equal(x, before) and not x.requires_grad
    unused = core.autograd_gradients(lambda x, w: x * 2, (x, w), torch.ones_like(x))
    assert torch.equal(unused[1], torch.zeros_like(w))


def test_compare_rel_error_names_the_item_and_the_dtype():
    compare = core.compare_rel_error(1e-6, names=("dx", "dw"))
    a, b = torch.ones(2, 3, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    assert compare((a, b), (a, b)) is None
    assert "max rel. error" in compare((a, b * 1.01), (a, b)) and "in dw" in compare((a, b * 1.01), (a, b))
    assert "in dw" in compare((a, b[:2]), (a, b)) and "shape (2,)" in compare((a, b[:2]), (a, b))
    assert "dtype float32 in dx, expected float64" in compare((a.float(), b), (a, b))


@pytest.fixture
def squarer():
    """A checker with every new hook: its own call, a case with its own reference, a note."""
    checker = Checker(
        name="_square_grad_test",
        reference=lambda x: 2 * x,
        cases=lambda g: [Case("autograd", (torch.rand(3, generator=g, dtype=torch.float64),)),
                         Case("by hand", (torch.tensor([1.0, 2.0], dtype=torch.float64),),
                              reference=lambda x: torch.tensor([2.0, 4.0], dtype=torch.float64))],
        call=lambda fn, args, kwargs: fn(*args, **kwargs) * 1.0,
        compare=core.compare_rel_error(1e-6),
        note=core.rel_error_note(),
    )
    core._REGISTRY[checker.name] = checker
    with i18n.added_messages({"hint._square_grad_test.1": "Differentiate x**2."}):
        yield checker
    del core._REGISTRY[checker.name]


def test_the_note_goes_into_a_passing_line_only(squarer):
    line = str(run_check("_square_grad_test", lambda x: x + x))
    assert line == "✓ _square_grad_test: 2/2 cases, max rel. error 0 vs autograd, 0 vs finite differences"
    wrong = run_check("_square_grad_test", lambda x: x * 2.1)
    assert not wrong.ok and wrong.note == "" and "max rel. error" in wrong.detail


def test_a_case_s_own_reference_replaces_the_checker_s(squarer):
    result = run_check("_square_grad_test", lambda x: 2 * x if x.numel() == 3 else torch.tensor([9.0, 9.0], dtype=torch.float64))
    assert result.passed == 1 and "[by hand]" in result.detail
