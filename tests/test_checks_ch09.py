"""Chapter 09's checkers: right answers pass, typical mistakes fail with the mistake named."""
import math

import pytest
import torch

from cnncourse.checks import run_check


def good_warmup_cosine(step, total_steps, warmup_steps, base_lr, min_lr=0.0):
    if step < warmup_steps:
        return base_lr * (step + 1) / (warmup_steps + 1)
    p = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * p)) / 2


def good_step_decay(epoch, base_lr, step_size, gamma):
    return base_lr * gamma ** (epoch // step_size)


def test_warmup_cosine_passes():
    result = run_check("warmup_cosine_lr", good_warmup_cosine)
    assert result.ok, str(result)


def test_warmup_cosine_as_a_one_element_tensor_passes():
    result = run_check("warmup_cosine_lr", lambda *a: torch.tensor(good_warmup_cosine(*a), dtype=torch.float64))
    assert result.ok, str(result)


def test_step_decay_passes():
    result = run_check("step_decay_lr", good_step_decay)
    assert result.ok, str(result)


def _wc(warmup="right", cosine="right", low="right"):
    def lr(step, total, warmup_steps, base, min_lr=0.0):
        if step < warmup_steps:
            return {"right": base * (step + 1) / (warmup_steps + 1), "t/W": base * step / warmup_steps,
                    "(t+1)/W": base * (step + 1) / warmup_steps}[warmup]
        p = {"right": (step - warmup_steps) / (total - warmup_steps), "total": (step - warmup_steps) / total,
             "unshifted": step / (total - warmup_steps), "t/total": step / total,
             "minus-one": (step - warmup_steps) / max(total - warmup_steps - 1, 1)}[cosine]
        half = (1 + math.cos(math.pi * p)) / 2
        return {"right": min_lr + (base - min_lr) * half, "missing": base * half, "added": min_lr + base * half}[low]
    return lr


@pytest.mark.parametrize(("wrong", "message"), [
    (_wc(warmup="t/W"), "warm-up starts at lr 0"),
    (_wc(warmup="(t+1)/W"), "reaches the peak one step early"),
    (_wc(low="missing"), "min_lr is missing"),
    (_wc(low="added"), "on top of base_lr"),
    (_wc(cosine="total"), "not /total_steps"),
    (_wc(cosine="unshifted"), "start when the warm-up ends"),
    (_wc(cosine="t/total"), "ignores the warm-up"),
    (_wc(cosine="minus-one"), "one step less"),
], ids=["warmup-from-0", "warmup-early-peak", "no-min-lr", "min-added", "cosine-over-total", "cosine-unshifted",
        "cosine-t-over-total", "cosine-minus-one"])
def test_warmup_cosine_mistakes_are_named(wrong, message):
    result = run_check("warmup_cosine_lr", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


@pytest.mark.parametrize(("wrong", "message"), [
    (lambda e, b, s, g: b * g ** (e / s), "integer division"),
    (lambda e, b, s, g: b * g ** ((e + 1) // s), "one epoch early"),
    (lambda e, b, s, g: b * g ** math.ceil(e / s), "rounding up"),
    (lambda e, b, s, g: b * g ** e, "ExponentialLR"),
    (lambda e, b, s, g: b * g * (e // s), "POWER"),
], ids=["no-floor", "off-by-one", "ceil", "every-epoch", "times"])
def test_step_decay_mistakes_are_named(wrong, message):
    result = run_check("step_decay_lr", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def test_bad_input_gives_one_clear_line():
    def stub(*args):
        raise NotImplementedError
    assert "not implemented" in str(run_check("warmup_cosine_lr", stub))
    as_list = str(run_check("warmup_cosine_lr", lambda *a: [0.1]))
    assert "returned list, expected a number" in as_list and "\n" not in as_list
    crashed = str(run_check("step_decay_lr", lambda e, b, s, g: b / (e - e)))
    assert "raised ZeroDivisionError" in crashed and "Traceback" not in crashed
    assert "expected your function" in str(run_check("step_decay_lr", 0.1))
