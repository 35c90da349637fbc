"""The chapter 01 checkers: right answers pass, typical wrong answers fail with the right diagnosis."""
import torch

from cnncourse.checks import run_check
from cnncourse.checks.ch01 import _translate_reference
from cnncourse.lessons.introduction import _translate as translate


def good_conv_params(c_in, c_out, k, bias=True):
    return c_out * c_in * k * k + (c_out if bias else 0)


def good_linear_params(n_in, n_out, bias=True):
    return n_in * n_out + (n_out if bias else 0)


def test_references_are_the_known_counts():
    checker_conv = run_check("conv_params", good_conv_params)
    checker_linear = run_check("linear_params", good_linear_params)
    assert checker_conv.ok and checker_linear.ok, (str(checker_conv), str(checker_linear))
    # LeNet-5 on 28x28 from the two formulas
    total = (good_conv_params(1, 6, 5) + good_conv_params(6, 16, 5) + good_linear_params(400, 120)
             + good_linear_params(120, 84) + good_linear_params(84, 10))
    assert total == 61_706


def test_conv_params_diagnoses():
    no_bias = run_check("conv_params", lambda c_in, c_out, k, bias=True: c_out * c_in * k * k)
    assert not no_bias.ok and "left out the biases" in no_bias.hint
    ignores_flag = run_check("conv_params", lambda c_in, c_out, k, bias=True: c_out * c_in * k * k + c_out)
    assert not ignores_flag.ok and "bias=False" in ignores_flag.hint
    one_channel = run_check("conv_params", lambda c_in, c_out, k, bias=True: c_out * k * k + c_out)
    assert not one_channel.ok and "ALL input channels" in one_channel.hint
    two_k = run_check("conv_params", lambda c_in, c_out, k, bias=True: c_in * c_out * 2 * k + c_out)
    assert not two_k.ok and "K squared" in two_k.hint
    pair_biases = run_check("conv_params", lambda c_in, c_out, k, bias=True: c_out * c_in * (k * k + 1))
    assert not pair_biases.ok and "not one per (input, output) pair" in pair_biases.hint
    assert pair_biases.mistake == "bias_per_pair"


def test_a_count_off_by_one_fails_even_when_it_is_large():
    result = run_check("linear_params", lambda i, o, bias=True: good_linear_params(i, o, bias) + 1)
    assert not result.ok and result.passed == 0, str(result)  # counts are compared exactly


def test_linear_params_diagnoses():
    no_bias = run_check("linear_params", lambda i, o, bias=True: i * o)
    assert not no_bias.ok and "left out the biases" in no_bias.hint
    input_bias = run_check("linear_params", lambda i, o, bias=True: i * o + i)
    assert not input_bias.ok and "OUTPUT" in input_bias.hint
    ignores_flag = run_check("linear_params", lambda i, o, bias=True: i * o + o)
    assert not ignores_flag.ok and "bias=False" in ignores_flag.hint


def test_translate_accepts_the_lesson_function_and_names_mistakes():
    assert run_check("translate", translate).ok
    rolled = run_check("translate", lambda x, dx, dy: torch.roll(x, (dy, dx), dims=(-2, -1)))
    assert not rolled.ok and "wraps" in rolled.hint
    backwards = run_check("translate", lambda x, dx, dy: translate(x, -dx, -dy))
    assert not backwards.ok and "wrong way" in backwards.hint
    swapped = run_check("translate", lambda x, dx, dy: translate(x, dy, dx))
    assert not swapped.ok and "swapped" in swapped.hint


def test_translate_in_place_and_stub_are_reported():
    def in_place(x, dx, dy):
        x.copy_(translate(x, dx, dy))
        return x

    result = run_check("translate", in_place)
    assert not result.ok and "in place" in str(result)

    def stub(x, dx, dy):
        raise NotImplementedError

    assert "not implemented yet" in str(run_check("translate", stub))


def test_translate_reference_agrees_with_the_lesson_version():
    x = torch.rand(3, 2, 6, 9)
    for dx, dy in [(0, 0), (2, 0), (0, -3), (-4, 5), (9, 0), (0, 6), (-20, 1)]:
        torch.testing.assert_close(translate(x, dx, dy), _translate_reference(x, dx, dy), rtol=0, atol=0)
