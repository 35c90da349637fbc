"""The Chinese quizzes (issue 17): ``cnncourse/quizzes/zh/NN_topic.json`` translate the English ones.

Each Chinese file holds the English file's questions in the same order, with the same answer key
(``answer``, ``tolerance``, ``verify``) and as many options and feedback entries, every text in Chinese
and the glossary's terms (notebooks/zh/GLOSSARY.md) used; each question's ``translated_from`` is
the :func:`~cnncourse.quiz.question_hash` of the English question it translates, so a question whose
English changed since is stale: it is listed by :func:`~cnncourse.quiz.stale_questions` and shown in
English, never as its outdated translation. With ``CNNCOURSE_LANG=zh`` the quiz widget speaks Chinese.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from cnncourse import quiz as quiz_module
from cnncourse.quiz import display_order, grade, load_quiz, question_hash, quiz, quiz_names, stale_questions

ROOT = Path(__file__).resolve().parents[1]
QUIZZES = ROOT / "cnncourse" / "quizzes"
ZH = QUIZZES / "zh"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
TEXTS = ("question", "explanation")  # and each of "choices", "feedback"


def _nbzh():
    """tools/nbzh.py (not part of the package): the glossary and its check, shared with the notebooks' tests."""
    if "nbzh" in sys.modules:
        return sys.modules["nbzh"]
    spec = importlib.util.spec_from_file_location("nbzh", ROOT / "tools" / "nbzh.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["nbzh"] = module
    spec.loader.exec_module(module)
    return module


def _raw(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _pairs(chapter: str):
    """(number from 1, English question, Chinese question) as the files hold them."""
    english, chinese = _raw(QUIZZES / f"{chapter}.json"), _raw(ZH / f"{chapter}.json")
    assert english["chapter"] == chinese["chapter"] == chapter
    assert len(chinese["questions"]) == len(english["questions"]), f"zh/{chapter}.json: not as many questions as the English"
    return [(i, en, zh) for i, (en, zh) in enumerate(zip(english["questions"], chinese["questions"]), 1)]


def _texts(question: dict) -> list[tuple[str, str]]:
    """(where, text) of every translatable text of a question; the right option's empty feedback left out."""
    found = [(field, question[field]) for field in TEXTS]
    found += [(f"choices[{k}]", text) for k, text in enumerate(question.get("choices", ()))]
    found += [(f"feedback[{k}]", text) for k, text in enumerate(question.get("feedback", ())) if text]
    return found


def _language_free(text: str) -> bool:
    """Text that stays as it is in any language: numbers, shapes, formulas ("3×3", "(N, H, W)"), no words."""
    return not re.search(r"[A-Za-z]{2,}", text)


@pytest.fixture
def chinese(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_LANG", "zh")


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """A copy of cnncourse/quizzes/ (English and zh/) that the loader reads instead: edit it freely."""
    folder = tmp_path / "quizzes"
    shutil.copytree(QUIZZES, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    files = quiz_module.resources.files
    monkeypatch.setattr(quiz_module.resources, "files",
                        lambda package: folder if package == "cnncourse.quizzes" else files(package))
    return folder


def _edit(path: Path, number: int, **fields):
    data = _raw(path)
    data["questions"][number - 1].update(fields)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- the committed translations

def test_every_english_quiz_has_a_chinese_one_and_no_other():
    chinese = sorted(p.stem for p in ZH.glob("*.json"))
    assert chinese == quiz_names(), f"cnncourse/quizzes/zh/ should hold exactly {quiz_names()}"


@pytest.mark.parametrize("chapter", quiz_names())
def test_a_translation_keeps_the_questions_and_their_answer_key(chapter):
    for i, en, zh in _pairs(chapter):
        where = f"zh/{chapter}.json, question {i}"
        assert set(zh) == set(en) | {"translated_from"}, f"{where}: fields differ from the English question's"
        for field in ("answer", "tolerance", "verify"):
            assert zh.get(field) == en.get(field), f"{where}: {field} differs from the English"
        assert len(zh.get("choices", ())) == len(en.get("choices", ())), f"{where}: not as many options as the English"
        assert [bool(t) for t in zh.get("feedback", ())] == [bool(t) for t in en.get("feedback", ())], \
            f"{where}: its feedback entries are not the English ones (one per option, the right one's empty)"


@pytest.mark.parametrize("chapter", quiz_names())
def test_every_translated_text_is_chinese(chapter):
    untranslated = []
    for i, en, zh in _pairs(chapter):
        english = dict(_texts(en))
        for where, text in _texts(zh):
            if not CJK.search(text) and not (text == english.get(where) and _language_free(text)):
                untranslated.append(f"question {i} {where}: {text[:60]!r}")
    assert untranslated == [], f"zh/{chapter}.json: texts without Chinese: {untranslated}"


@pytest.mark.parametrize("chapter", quiz_names())
def test_every_translated_text_keeps_the_english_numbers(chapter):
    """Numbers stay as they are; a text with other numbers than its English is mistranslated or misplaced."""
    number = re.compile(r"\d+(?:[.,]\d+)*")
    changed = [f"question {i} {where}: {sorted(set(number.findall(english)) ^ set(number.findall(chinese)))}"
               for i, en, zh in _pairs(chapter) for (where, english), (_, chinese) in zip(_texts(en), _texts(zh))
               if set(number.findall(english)) != set(number.findall(chinese))]
    assert changed == [], f"zh/{chapter}.json: numbers that differ from the English: {changed}"


@pytest.mark.parametrize("chapter", quiz_names())
def test_no_translation_is_stale(chapter):
    stale = [i for i, en, zh in _pairs(chapter) if zh.get("translated_from") != question_hash(en)]
    assert stale == [], (f"zh/{chapter}.json: questions {stale} translate an older English question: "
                         "retranslate them and set translated_from to question_hash(the English question)")


def test_the_stale_list_is_empty():
    assert stale_questions("zh") == [] and stale_questions("en") == []


@pytest.mark.parametrize("chapter", quiz_names())
def test_the_translations_use_the_glossary_terms(chapter):
    nbzh = _nbzh()
    pairs = nbzh.glossary()
    misses = [f"question {i} {where}: {miss}"
              for i, en, zh in _pairs(chapter) for (where, english), (_, chinese) in zip(_texts(en), _texts(zh))
              for miss in nbzh.glossary_misses(english, chinese, pairs)]
    assert misses == [], f"zh/{chapter}.json does not use the glossary's term (notebooks/zh/GLOSSARY.md): {misses}"


# ----------------------------------------------------------------------------- the loader and the widget

def test_the_hash_is_of_the_canonical_json():
    question = {"question": "2 + 2?", "choices": ["3", "4"], "answer": 1, "explanation": "Because. 因为。"}
    canonical = json.dumps(question, sort_keys=True, ensure_ascii=False).encode("utf-8")
    assert question_hash(question) == hashlib.sha256(canonical).hexdigest()[:16]
    assert question_hash(dict(reversed(list(question.items())))) == question_hash(question)  # key order is not content
    assert question_hash({**question, "answer": 0}) != question_hash(question)
    assert re.fullmatch(r"[0-9a-f]{16}", question_hash(question))


@pytest.mark.parametrize("chapter", quiz_names())
def test_in_chinese_the_loader_gives_the_translation_with_the_english_key(chapter, chinese):
    english, mine = load_quiz(chapter, "en"), load_quiz(chapter)
    raw = [zh for _, _, zh in _pairs(chapter)]
    assert [q.question for q in mine] == [zh["question"] for zh in raw]
    for en, zh in zip(english, mine):
        assert (zh.answer, zh.tolerance, zh.verify, len(zh.choices)) == (en.answer, en.tolerance, en.verify, len(en.choices))
        right, feedback = grade(zh, zh.answer)
        assert right and feedback == f"✓ 正确。{zh.explanation}"


def test_the_chinese_widget_shows_the_options_in_the_english_order(chinese, monkeypatch):
    chapter = "07_loss_functions"
    shown = [[k for _, k in box.children[1].options] for box in quiz(chapter).children if hasattr(box.children[1], "options")]
    monkeypatch.setenv("CNNCOURSE_LANG", "en")
    english = [[k for _, k in box.children[1].options] for box in quiz(chapter).children if hasattr(box.children[1], "options")]
    expected = [display_order(chapter, i, len(q.choices)) for i, q in enumerate(load_quiz(chapter), 1) if q.choices]
    assert shown == english == expected and len(shown) == 3


def test_with_cnncourse_lang_zh_the_quiz_widget_speaks_chinese(chinese):
    from IPython.core.interactiveshell import InteractiveShell

    box = quiz("07_loss_functions")
    questions = load_quiz("07_loss_functions")
    for number, (child, q) in enumerate(zip(box.children, questions), 1):
        title, control, button, feedback = child.children
        assert CJK.search(title.value) and title.value == f"<b>{number}. {q.question}</b>"
        assert button.description == "检查"
        if q.numeric:
            assert (control.description, control.placeholder) == ("答案", "一个数字")
        else:
            assert all(CJK.search(label) for label, _ in control.options), control.options
    first = box.children[0].children
    first[1].value = next(k for _, k in first[1].options if k != questions[0].answer)
    first[2].click()
    assert first[3].value.count("✗ 不太对。") == 1 and "再想一想" in first[3].value and CJK.search(questions[0].feedback[first[1].value])
    assert questions[0].feedback[first[1].value] in first[3].value  # the wrong option's own feedback, in Chinese
    first[1].value = questions[0].answer
    first[2].click()
    assert f"✓ 正确。{questions[0].explanation}" in first[3].value
    data, _ = InteractiveShell.instance().display_formatter.format(box)
    plain = data["text/plain"].splitlines()
    assert plain[0] == "自测题（共 5 题）：" and all(CJK.search(line) for line in plain[1:]), plain


# ----------------------------------------------------------------------------- staleness

def test_a_changed_english_question_is_stale_and_shown_in_english(copy, chinese):
    changed = "Why can a ReLU unit 'die' (and stay dead)?"
    _edit(copy / "03_activations.json", 2, question=changed)
    assert stale_questions("zh") == [("03_activations", 2)]
    questions = load_quiz("03_activations")
    english = _raw(copy / "03_activations.json")["questions"][1]
    assert questions[1].question == changed and questions[1].choices == tuple(english["choices"])
    assert questions[1].explanation == english["explanation"] and not CJK.search(questions[1].explanation)
    assert all(CJK.search(q.question) for k, q in enumerate(questions) if k != 1)  # the others stay Chinese
    box = quiz("03_activations")
    assert box.children[1].children[0].value == f"<b>2. {changed}</b>"
    assert [label for label, _ in box.children[1].children[1].options] == \
        [english["choices"][k] for k in display_order("03_activations", 2, 4)]
    assert box.children[1].children[2].description == "检查"  # the widget's own words stay Chinese


def test_a_changed_answer_or_option_makes_the_question_stale_too(copy, chinese):
    _edit(copy / "04_pooling.json", 1, answer=7)  # say the English question changed its numbers
    _edit(copy / "04_pooling.json", 4, choices=["It skips input pixels", "It widens the receptive field",
                                                  "It enlarges the kernel", "It averages neighbours"])
    assert stale_questions("zh") == [("04_pooling", 1), ("04_pooling", 4)]
    questions = load_quiz("04_pooling")
    assert questions[0].answer == 7 and questions[0].question.startswith("nn.MaxPool2d(3, stride=2) (AlexNet")
    assert questions[3].choices[0] == "It skips input pixels" and CJK.search(questions[2].question)


def test_a_missing_translation_shows_every_question_in_english(copy, chinese):
    (copy / "zh" / "05_normalization.json").unlink()
    assert stale_questions("zh") == [("05_normalization", i) for i in range(1, 6)]
    assert [q.question for q in load_quiz("05_normalization")] == [q.question for q in load_quiz("05_normalization", "en")]


def test_a_translation_with_another_answer_key_is_refused(copy, chinese):
    _edit(copy / "zh" / "02_convolution.json", 1, answer=16)  # translated_from still matches: a broken translation
    with pytest.raises(ValueError, match=r"quiz zh/02_convolution, question 1: a translation keeps .*\['answer'\]"):
        load_quiz("02_convolution")
