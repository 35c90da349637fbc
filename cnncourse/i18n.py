"""The words the package prints, in the learner's language: one message catalogue per language.

``cnncourse/messages/en.json`` and ``cnncourse/messages/zh.json`` map a key to a template
(``"claims.recorded_smoke": "[{id}] {verdict} (smoke run: recorded, not compared with the text)"``);
both have the same keys and the same ``{placeholders}`` (a test checks). ``$CNNCOURSE_LANG`` picks the
language: ``en`` (the default) or ``zh``, which the Chinese notebooks' first cell sets (``zh_CN``,
``zh-Hans`` mean ``zh``). It is read at every call, so setting it in a cell takes effect at once::

    from cnncourse.i18n import message
    message("quiz.pick_first")                    # 'Pick an answer first.' or '请先选择一个答案。'
    message("info.require_ok", installed="0.1.0", needed="0.1.0")

A translation cannot drift behind the English unnoticed: ``zh.sources.json`` holds, for every key,
the :func:`source_hash` of the English template it was translated from. Where the English has
changed since (stale), the English text is shown, never the outdated translation, and
:func:`stale_messages` lists the keys a translator has to redo (``python tools/nbtool.py
zh-messages``; a test fails while any is stale).

Figure labels go through :func:`cnncourse.viz.label`, which gives the English words where no CJK
font is installed (Chinese would draw as boxes). This module imports nothing heavy.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import string
import unicodedata
from functools import lru_cache
from importlib import resources

__all__ = ["LANG_ENV", "LANGUAGES", "DEFAULT", "language", "resolve_language", "catalogue", "has", "message", "added_messages", "source_hash", "sources", "stale_messages", "placeholders",
           "columns", "ljust", "localize_output"]

LANG_ENV = "CNNCOURSE_LANG"
LANGUAGES = ("en", "zh")
DEFAULT = "en"


def language() -> str:
    """The active language: ``$CNNCOURSE_LANG`` (``en`` when unset or empty)."""
    raw = os.environ.get(LANG_ENV, "").strip()
    if not raw:
        return DEFAULT
    code = re.split(r"[-_.]", raw, maxsplit=1)[0].lower()
    if code not in LANGUAGES:
        raise ValueError(f"{LANG_ENV}={raw!r} is not a language of the course; use one of {list(LANGUAGES)} (or unset it)")
    return code


def resolve_language(lang: str | None, what: str = "message catalogue") -> str:
    """``lang`` checked (None: the active :func:`language`); ``what`` names what the language is for, in the error."""
    if lang is None:
        return language()
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} has no {what}; use one of {list(LANGUAGES)}")
    return lang


@lru_cache(maxsize=None)
def _load(lang: str) -> dict[str, str]:
    path = resources.files("cnncourse") / "messages" / f"{lang}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"cnncourse/messages/{lang}.json is not valid JSON: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"cnncourse/messages/{lang}.json must map each key to one text")
    return data


def source_hash(text: str) -> str:
    """The first 12 hex digits of the sha256 of an English template (UTF-8): what a translation records."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@lru_cache(maxsize=None)
def sources(lang: str) -> dict[str, str]:
    """``messages/<lang>.sources.json``: key -> :func:`source_hash` of the English each template translates."""
    if resolve_language(lang) == DEFAULT:
        return {}
    path = resources.files("cnncourse") / "messages" / f"{lang}.sources.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        raise ValueError(f"cnncourse/messages/{lang}.sources.json is not a JSON object of key -> hash: {err}") from None


def stale_messages(lang: str = "zh") -> list[str]:
    """The keys of ``lang``'s catalogue whose English has changed since they were translated (or that record no
    source): a translator redoes these, then records them (``python tools/nbtool.py zh-messages --stamp KEY``)."""
    lang = resolve_language(lang)
    if lang == DEFAULT:
        return []
    english, recorded = _load(DEFAULT), sources(lang)
    return [key for key in _load(lang) if key not in english or recorded.get(key) != source_hash(english[key])]


@lru_cache(maxsize=None)
def _stale_set(lang: str) -> frozenset[str]:
    return frozenset(stale_messages(lang))


_ADDED: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}


@contextlib.contextmanager
def added_messages(entries: dict[str, str], lang: str = DEFAULT):
    """Within the block, ``entries`` (key -> template) are part of ``lang``'s catalogue.

    For messages that are not the course's own: a test's throwaway checker, an instructor's extra
    exercise (``diagnosis.<exercise>.<name>``, ``hint.<exercise>.<n>``). An English-only entry is
    shown in English in every language.
    """
    lang = resolve_language(lang)
    before = dict(_ADDED[lang])
    _ADDED[lang].update(entries)
    try:
        yield
    finally:
        _ADDED[lang].clear()
        _ADDED[lang].update(before)


def _template(key: str, lang: str) -> str | None:
    """The template of ``key`` in ``lang``: an added entry, the catalogue's (the English one where the translation
    is stale), or an English-only added entry."""
    if key in _ADDED[lang]:
        return _ADDED[lang][key]
    if key in _load(lang) and not (lang != DEFAULT and key in _stale_set(lang)):
        return _load(lang)[key]
    for source in (_load(DEFAULT), _ADDED[DEFAULT]):
        if key in source:
            return source[key]
    return None


def catalogue(lang: str | None = None) -> dict[str, str]:
    """Every key and template of ``lang`` (default: the active language)."""
    return dict(_load(resolve_language(lang)))


def has(key: str, lang: str | None = None) -> bool:
    """Whether the catalogue of ``lang`` (default: the active language) has ``key``."""
    return _template(key, resolve_language(lang)) is not None


def message(key: str, lang: str | None = None, **fields) -> str:
    """The text of ``key`` in ``lang`` (default: the active language), its placeholders filled from ``fields``."""
    template = _template(key, resolve_language(lang))
    if template is None:
        raise KeyError(f"{key!r} is not in the message catalogue (cnncourse/messages/*.json)")
    try:
        return template.format(**fields)
    except KeyError as err:
        raise KeyError(f"message {key!r} needs the field {err.args[0]!r}; got {sorted(fields)}") from None


def placeholders(template: str) -> set[str]:
    """The field names a template fills: ``"{n} of {total:,}"`` -> ``{"n", "total"}``."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def ljust(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` columns (``str.ljust`` counts a Chinese character as one)."""
    return text + " " * max(0, width - columns(text))


_NOT_PRINTED = ("figure.", "site.", "diagnosis.", "hint.", "compare.")  # drawn labels, the site's words, parts of a checker's line
_MIN_LITERAL = 6  # a template with less fixed text than this ("yes: {name}") could match anyone's line


@lru_cache(maxsize=None)
def _line_patterns() -> list[tuple[str, re.Pattern]]:
    """(key, regex of a whole printed line) for the English templates :func:`localize_output` translates.

    Left out: the keys of ``_NOT_PRINTED``, templates of several lines, templates with less than
    ``_MIN_LITERAL`` characters of fixed text, and templates with two placeholders side by side
    (``{got}{at}``: where one ends and the next begins cannot be read back from the line) or with a
    conversion (``{name!r}``: the printed text is not the field).
    """
    found = []
    for key, template in _load(DEFAULT).items():
        parts = list(string.Formatter().parse(template))
        literal = "".join(text for text, *_ in parts)
        adjacent = any(name is not None and following[0] == "" and following[1] is not None
                       for (_, name, _, _), following in zip(parts, parts[1:]))
        converted = any(conversion for *_, conversion in parts)
        if (key.startswith(_NOT_PRINTED) or "\n" in template or len(literal.strip()) < _MIN_LITERAL or adjacent
                or converted):
            continue
        pattern, seen = "", set()
        for text, name, _spec, _conversion in parts:
            pattern += re.escape(text)
            if name is not None:
                pattern += f"(?P={name})" if name in seen else f"(?P<{name}>.*?)"
                seen.add(name)
        found.append((key, re.compile(pattern + r"\Z")))
    return found


def _fill_as_printed(template: str, fields: dict[str, str]) -> str:
    """``template`` with each placeholder replaced by the text captured for it (already formatted)."""
    return "".join(text + (fields[name] if name is not None else "")
                   for text, name, _spec, _conversion in string.Formatter().parse(template))


def localize_output(text: str, lang: str) -> str:
    """Printed English text as ``lang`` prints it: each whole line that is a catalogue message, translated.

    For outputs recorded from an English run: ``tools/nbzh.py`` gives the Chinese notebooks the
    English notebooks' checked outputs, passed through this. The fields are kept as printed, so a
    message whose fields are themselves translated words would not come out right: keep the fields
    of printed lines language-free (ids, numbers, verdict words, paths).
    """
    lang = resolve_language(lang)
    if lang == DEFAULT:
        return text
    out = []
    for line in text.split("\n"):
        for key, pattern in _line_patterns():
            match = pattern.match(line)
            if match:
                line = _fill_as_printed(_template(key, lang), match.groupdict())
                break
        out.append(line)
    return "\n".join(out)
