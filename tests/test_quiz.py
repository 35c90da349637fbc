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


def test_a_wrong_option_gets_its_own_feedback_then_the_explanation():
    mc = Question("2 + 2?", 1, "Because.", choices=("3", "4", "22"), feedback=("That is 2 + 1.", "", "That joins the digits."))
    first = grade(mc, 2, attempt=1)
    assert not first[0] and "That joins the digits." in first[1] and "Because." not in first[1]
    assert grade(mc, 0, attempt=2) == (False, "✗ Not quite. That is 2 + 1. Because.")


def test_feedback_must_cover_every_wrong_choice(tmp_path, monkeypatch):
    import json

    from cnncourse import quiz as quiz_module

    bad = {"chapter": "x", "questions": [
        {"question": f"q{i}", "choices": ["a", "b"], "answer": 0, "explanation": "e", "feedback": ["", ""]}
        for i in range(3)]}
    (tmp_path / "99_bad.json").write_text(json.dumps(bad))
    monkeypatch.setattr(quiz_module.resources, "files", lambda package: tmp_path)
    with pytest.raises(ValueError, match="every wrong choice's non-empty"):
        load_quiz("99_bad")


@pytest.mark.parametrize("chapter", quiz_names())
def test_every_wrong_option_has_feedback(chapter):
    missing = [q.question[:60] for q in load_quiz(chapter) if q.choices and not q.feedback]
    assert not missing, f"{chapter}: multiple-choice questions without per-option feedback: {missing}"


def test_the_options_are_shown_shuffled_the_same_way_every_run():
    from cnncourse.quiz import display_order

    questions = load_quiz("01_introduction")
    box = quiz("01_introduction")
    shown = [[k for _, k in box.children[i].children[1].options] for i, q in enumerate(questions) if q.choices]
    orders = [display_order("01_introduction", i, len(q.choices)) for i, q in enumerate(questions, 1) if q.choices]
    assert shown == orders and orders == [display_order("01_introduction", i, len(q.choices))
                                          for i, q in enumerate(questions, 1) if q.choices]
    every = [display_order(name, i, 4) for name in quiz_names() for i in range(1, 6)]
    assert sum(order != [0, 1, 2, 3] for order in every) > len(every) // 2  # really shuffled


def test_the_right_answer_is_not_given_away_by_being_the_longest():
    mc = [q for name in quiz_names() for q in load_quiz(name) if q.choices]
    longest = [q for q in mc if len(q.choices[q.answer]) > max(len(c) for k, c in enumerate(q.choices) if k != q.answer)]
    assert len(longest) <= 0.4 * len(mc), f"the right answer is the longest option in {len(longest)} of {len(mc)} questions"
