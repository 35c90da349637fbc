"""Self-check quizzes: a few questions at the end of each chapter, answered and explained on the spot.

Questions live in ``cnncourse/quizzes/NN_topic.json``::

    {"chapter": "01_introduction", "questions": [
      {"question": "...", "choices": ["...", "..."], "answer": 1, "explanation": "...",
       "feedback": ["why the first choice is wrong", ""]},
      {"question": "...", "answer": 61706, "tolerance": 0, "explanation": "...",
       "verify": "sum(p.numel() for p in torch.nn.Conv2d(1, 6, 5).parameters())"}
    ]}

A question with ``choices`` is multiple choice (``answer`` is the index of the right one); one
without is numeric (``answer`` ± ``tolerance``). ``feedback`` (one entry per choice; the right one's
may be empty) tells a learner who picked a wrong option what that option gets wrong. ``verify`` (optional) is a Python expression the
tests evaluate to prove the answer key right. :func:`grade` is the pure part, tested directly;
:func:`quiz` wraps it in ipywidgets, shown once as the cell's result, with each question's options
in a shuffled order (seeded by chapter and question, so every learner and every run sees the same
order, and the right answer's position in the file says nothing); its plain-text form lists the
questions, so the notebook reads well where widgets do not render.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from importlib import resources

__all__ = ["Question", "load_quiz", "grade", "quiz", "quiz_names", "display_order"]


@dataclass(frozen=True)
class Question:
    question: str
    answer: float | int
    explanation: str
    choices: tuple[str, ...] = ()
    tolerance: float = 0.0
    verify: str | None = None
    feedback: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        return not self.choices


def quiz_names() -> list[str]:
    """The chapters that have a quiz."""
    return sorted(p.name[:-5] for p in resources.files("cnncourse.quizzes").iterdir() if p.name.endswith(".json"))


def load_quiz(chapter: str) -> list[Question]:
    """The questions of a chapter (e.g. ``"01_introduction"``), validated."""
    path = resources.files("cnncourse.quizzes") / f"{chapter}.json"
    if not path.is_file():
        raise ValueError(f"no quiz for {chapter!r}; quizzes exist for {', '.join(quiz_names())}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    questions = []
    for i, q in enumerate(raw["questions"], 1):
        where = f"quiz {chapter}, question {i}"
        unknown = set(q) - {"question", "answer", "explanation", "choices", "tolerance", "verify", "feedback"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}")
        question = Question(q["question"], q["answer"], q["explanation"], tuple(q.get("choices", ())),
                            float(q.get("tolerance", 0.0)), q.get("verify"), tuple(q.get("feedback", ())))
        if question.choices and not (isinstance(question.answer, int) and 0 <= question.answer < len(question.choices)):
            raise ValueError(f"{where}: answer {question.answer!r} is not an index into its {len(question.choices)} choices")
        if question.choices and len(set(question.choices)) != len(question.choices):
            raise ValueError(f"{where}: two choices are the same")
        if question.feedback and (len(question.feedback) != len(question.choices) or not all(
                text.strip() for k, text in enumerate(question.feedback) if k != question.answer)):
            raise ValueError(f"{where}: feedback needs one entry per choice, every wrong choice's non-empty")
        if not question.explanation.strip():
            raise ValueError(f"{where}: needs an explanation")
        questions.append(question)
    if not 3 <= len(questions) <= 6:
        raise ValueError(f"quiz {chapter} has {len(questions)} questions; a chapter quiz has 3 to 6")
    return questions


RETRIES = 1  # wrong answers that get "try again" before the explanation is shown


def grade(question: Question, response, attempt: int = RETRIES + 1) -> tuple[bool, str]:
    """(correct, feedback) for a response: a choice index, or a number for numeric questions.

    ``attempt`` counts this question's checks (1 = the first). A wrong answer on one of the first
    ``RETRIES`` attempts only says so and invites another try; the explanation comes with a right
    answer, or once the retries are used up.
    """
    if response is None or response == "":
        return False, "Pick an answer first."
    if question.numeric:
        try:
            value = float(response)
        except (TypeError, ValueError):
            return False, f"Type a number (got {response!r})."
        right = math.isclose(value, float(question.answer), abs_tol=question.tolerance + 1e-12)
    else:
        right = int(response) == question.answer
    if right:
        return True, f"✓ Right. {question.explanation}"
    why = ""
    if question.feedback and not question.numeric and 0 <= int(response) < len(question.feedback):
        why = f" {question.feedback[int(response)]}"
    if attempt <= RETRIES:
        return False, f"✗ Not quite.{why} Think again and check once more (the explanation comes after your next try)."
    return False, f"✗ Not quite.{why} {question.explanation}"


def display_order(chapter: str, number: int, n_choices: int) -> list[int]:
    """The order in which question ``number`` of ``chapter`` shows its choices: shuffled, the same on every run."""
    order = list(range(n_choices))
    random.Random(f"{chapter}:{number}").shuffle(order)
    return order


def quiz(chapter: str):
    """A chapter's quiz as widgets; end a cell with it. Its plain-text form lists the questions (static exports)."""
    import ipywidgets as widgets

    questions = load_quiz(chapter)
    boxes = []
    for i, q in enumerate(questions, 1):
        if q.numeric:
            control = widgets.Text(description="answer", placeholder="a number")
        else:
            order = display_order(chapter, i, len(q.choices))
            control = widgets.RadioButtons(options=[(q.choices[k], k) for k in order], value=None,
                                           layout={"width": "max-content"})
        button = widgets.Button(description="Check", button_style="primary")
        feedback = widgets.HTML()

        tries = [0]  # this question's checked answers so far

        def on_click(_b, q=q, control=control, feedback=feedback, tries=tries):
            if control.value not in (None, ""):
                tries[0] += 1
            right, text = grade(q, control.value, attempt=max(tries[0], 1))
            color = "#137333" if right else "#b3261e"
            feedback.value = f'<div style="color:{color};max-width:50em">{text}</div>'

        button.on_click(on_click)
        boxes.append(widgets.VBox([widgets.HTML(f"<b>{i}. {q.question}</b>"), control, button, feedback]))
    text = "\n".join(
        f"{i}. {q.question}" + "".join(f"\n   ({chr(97 + pos)}) {q.choices[k]}"
                                       for pos, k in enumerate(display_order(chapter, i, len(q.choices))))
        for i, q in enumerate(questions, 1)
    )
    plain = f"Self-check quiz ({len(questions)} questions):\n{text}"

    class QuizBox(widgets.VBox):
        """The quiz's widgets; shown once, as the cell's result, with the questions as its plain text."""

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            bundle["text/plain"] = plain  # what static exports and terminals show instead of "VBox(...)"
            return bundle

    return QuizBox(boxes)
