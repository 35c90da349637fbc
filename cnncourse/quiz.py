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
questions, so the notebook reads well where widgets do not render. The widget's own words (buttons,
"✓ Right." / "✗ Not quite.") come from the message catalogue (:mod:`cnncourse.i18n`); the questions are data.

Translations live in ``cnncourse/quizzes/<lang>/NN_topic.json`` (``zh``): the English file's questions,
in the same order, with the same ``answer``, ``tolerance`` and ``verify`` and as many choices and
feedback entries, their words translated, and each with ``"translated_from"``: the
:func:`question_hash` of the English question it translates. In that language (``$CNNCOURSE_LANG``)
:func:`load_quiz` and :func:`quiz` take each question from the translation where its hash is the
English question's now, and show the English question where it is not (the English changed since:
stale) or where there is no translation: an outdated translation is never shown.
:func:`stale_questions` lists the questions a translator has to (re)do. The options' shuffled order
depends only on the chapter and the question's number, so both languages show the same order.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from importlib import resources

from .i18n import DEFAULT, message, resolve_language

__all__ = ["Question", "load_quiz", "grade", "quiz", "quiz_names", "display_order", "question_hash",
           "stale_questions"]

FIELDS = {"question", "answer", "explanation", "choices", "tolerance", "verify", "feedback"}
TRANSLATED_FROM = "translated_from"  # a translated question's field: the question_hash of its English question
SAME_IN_EVERY_LANGUAGE = ("answer", "tolerance", "verify")  # a translation copies these from the English


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


def question_hash(question: dict) -> str:
    """The first 16 hex digits of the sha256 of an (English) question's canonical JSON.

    The canonical form is ``json.dumps(question, sort_keys=True, ensure_ascii=False)`` of the question
    as its file holds it (a dict), encoded as UTF-8: any change of a word, an option or the answer changes it.
    """
    canonical = json.dumps(question, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _read(chapter: str, lang: str = DEFAULT) -> dict | None:
    """A quiz file as JSON: ``quizzes/<chapter>.json`` (English) or ``quizzes/<lang>/<chapter>.json``; None if absent."""
    folder = resources.files("cnncourse.quizzes")
    path = folder / f"{chapter}.json" if lang == DEFAULT else folder / lang / f"{chapter}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _translations(chapter: str, english: list[dict], lang: str) -> list[dict | None]:
    """For each English question, its current translation into ``lang``: None where missing or stale."""
    raw = _read(chapter, lang)
    translated = raw["questions"] if raw else []
    found = []
    for k, question in enumerate(english):
        mine = translated[k] if k < len(translated) else None
        fresh = isinstance(mine, dict) and mine.get(TRANSLATED_FROM) == question_hash(question)
        found.append(mine if fresh else None)
    return found


def _question(q: dict, where: str, allowed: set[str] = FIELDS) -> Question:
    """One question of a file, validated."""
    unknown = set(q) - allowed
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
    return question


def load_quiz(chapter: str, lang: str | None = None) -> list[Question]:
    """The questions of a chapter (e.g. ``"01_introduction"``), validated, in ``lang`` (default: the active language).

    In a language other than English, a question without a current translation (none, or stale: its
    ``translated_from`` is not the English question's :func:`question_hash`) is the English question.
    """
    lang = resolve_language(lang, "quizzes")
    raw = _read(chapter)
    if raw is None:
        raise ValueError(f"no quiz for {chapter!r}; quizzes exist for {', '.join(quiz_names())}")
    english = raw["questions"]
    translations = _translations(chapter, english, lang) if lang != DEFAULT else [None] * len(english)
    questions = []
    for i, (q, mine) in enumerate(zip(english, translations), 1):
        where = f"quiz {chapter}, question {i}"
        question = _question(q, where)
        if mine is not None:
            there = f"quiz {lang}/{chapter}, question {i}"
            translated = _question(mine, there, FIELDS | {TRANSLATED_FROM})
            same = [field for field in SAME_IN_EVERY_LANGUAGE if mine.get(field) != q.get(field)]
            if same or len(translated.choices) != len(question.choices) or len(translated.feedback) != len(question.feedback):
                raise ValueError(f"{there}: a translation keeps the English question's answer, tolerance, verify "
                                 f"and number of choices and feedback entries (differs: {same or 'the counts'})")
            question = translated
        questions.append(question)
    if not 3 <= len(questions) <= 6:
        raise ValueError(f"quiz {chapter} has {len(questions)} questions; a chapter quiz has 3 to 6")
    return questions


def stale_questions(lang: str = "zh") -> list[tuple[str, int]]:
    """(chapter, question number counted from 1) of every question with no current translation into ``lang``.

    For a translator: each is shown in English until its translation in ``quizzes/<lang>/<chapter>.json``
    is (re)written from the English question and its ``translated_from`` set to that question's
    :func:`question_hash`.
    """
    lang = resolve_language(lang, "quizzes")
    if lang == DEFAULT:
        return []
    todo = []
    for chapter in quiz_names():
        english = _read(chapter)["questions"]
        todo += [(chapter, i) for i, mine in enumerate(_translations(chapter, english, lang), 1) if mine is None]
    return todo


RETRIES = 1  # wrong answers that get "try again" before the explanation is shown


def grade(question: Question, response, attempt: int = RETRIES + 1) -> tuple[bool, str]:
    """(correct, feedback) for a response: a choice index, or a number for numeric questions.

    ``attempt`` counts this question's checks (1 = the first). A wrong answer on one of the first
    ``RETRIES`` attempts only says so and invites another try; the explanation comes with a right
    answer, or once the retries are used up.
    """
    if response is None or response == "":
        return False, message("quiz.pick_first")
    if question.numeric:
        try:
            value = float(response)
        except (TypeError, ValueError):
            return False, message("quiz.not_a_number", response=response)
        right = math.isclose(value, float(question.answer), abs_tol=question.tolerance + 1e-12)
    else:
        right = int(response) == question.answer
    if right:
        return True, message("quiz.right", explanation=question.explanation)
    why = ""
    if question.feedback and not question.numeric and 0 <= int(response) < len(question.feedback):
        why = f" {question.feedback[int(response)]}"
    if attempt <= RETRIES:
        return False, message("quiz.wrong_try_again", why=why)
    return False, message("quiz.wrong", why=why, explanation=question.explanation)


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
            control = widgets.Text(description=message("quiz.answer_label"), placeholder=message("quiz.number_placeholder"))
        else:
            order = display_order(chapter, i, len(q.choices))
            control = widgets.RadioButtons(options=[(q.choices[k], k) for k in order], value=None,
                                           layout={"width": "max-content"})
        button = widgets.Button(description=message("quiz.check_button"), button_style="primary")
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
    plain = f"{message('quiz.plain_title', count=len(questions))}\n{text}"

    class QuizBox(widgets.VBox):
        """The quiz's widgets; shown once, as the cell's result, with the questions as its plain text."""

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            bundle["text/plain"] = plain  # what static exports and terminals show instead of "VBox(...)"
            return bundle

    return QuizBox(boxes)
