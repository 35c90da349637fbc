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
