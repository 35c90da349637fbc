"""Self-check quizzes: every quiz parses, every answer key is valid, and numeric keys are verified by computing them."""
import math

import pytest
import torch

from cnncourse.quiz import Question, grade, load_quiz, quiz, quiz_names


@pytest.mark.parametrize("chapter", quiz_names())
def test_every_quiz_parses_and_its_keys_are_right(chapter):
    questions = load_quiz(chapter)
    assert 3 <= len(questions) <= 6
    for q in questions:
        right, feedback = grade(q, q.answer)
        assert right and feedback.startswith("✓")
        if q.verify:  # the answer key is computed, not typed
            value = eval(q.verify, {"torch": torch, "math": math})  # noqa: S307 - our own data files
            assert math.isclose(float(value), float(q.answer), abs_tol=q.tolerance + 1e-9), (q.question, value)


def test_grade_explains_wrong_and_odd_answers():
    mc = Question("2 + 2?", 1, "Because.", choices=("3", "4"))
    assert grade(mc, 0) == (False, "✗ Not quite. Because.")
    assert grade(mc, None) == (False, "Pick an answer first.")
    numeric = Question("pi?", 3.14159, "Circles.", tolerance=0.01)
    assert grade(numeric, "3.14")[0] and not grade(numeric, "3")[0]
    assert grade(numeric, "three") == (False, "Type a number (got 'three').")


def test_unknown_chapter_says_which_exist():
    with pytest.raises(ValueError, match="no quiz for '99_x'; quizzes exist for 01_introduction"):
        load_quiz("99_x")


def test_quiz_widget_checks_an_answer():
    box = quiz("02_convolution")
    first = box.children[0]
    control, button, feedback = first.children[1], first.children[2], first.children[3]
    control.value = "15"
    button.click()
    assert "✓ Right." in feedback.value


def test_the_quiz_displays_once_with_its_questions_as_plain_text():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    data, _ = shell.display_formatter.format(quiz("02_convolution"))
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"].startswith("Self-check quiz (") and "1. " in data["text/plain"]


def test_a_wrong_answer_gets_one_retry_before_the_explanation():
    mc = Question("2 + 2?", 1, "Because.", choices=("3", "4"))
    first = grade(mc, 0, attempt=1)
    assert not first[0] and "Because." not in first[1] and "once more" in first[1]
    assert grade(mc, 0, attempt=2) == (False, "✗ Not quite. Because.")
    assert grade(mc, 1, attempt=1) == (True, "✓ Right. Because.")


def test_the_widget_explains_after_the_second_wrong_try():
    box = quiz("01_introduction")
    first = box.children[0]
    control, button, feedback = first.children[1], first.children[2], first.children[3]
    wrong = next(i for i in range(4) if i != load_quiz("01_introduction")[0].answer)
    control.value = wrong
    button.click()
    assert "once more" in feedback.value
    button.click()
    assert "equivariance" in feedback.value  # the explanation, now


def test_right_answers_are_spread_over_the_positions():
    positions = [q.answer for name in quiz_names() for q in load_quiz(name) if q.choices]
    counts = [positions.count(k) for k in range(4)]
    assert min(counts) >= len(positions) // 4 - 1, f"right answers by position (a, b, c, d): {counts}"
