"""The Chinese edition (中文版), generated from the English notebooks so that it cannot drift unnoticed.

``notebooks/zh/NN_x.ipynb`` is built from ``notebooks/NN_x.ipynb`` (and ``exercises/zh/`` from
``exercises/``) by ``python tools/nbtool.py zh-sync``:

* every code cell is the English cell, copied (never edited by hand); the first code cell, the
  set-up cell, starts with :data:`LANG_LINES`, so the package prints its messages in Chinese;
* every markdown cell is the translation of the English cell with the same id, kept from the
  existing Chinese notebook, with the hash of the English text it was translated from in
  ``metadata.cnncourse.translated_from``; a new English cell arrives untranslated (English text,
  no hash);
* cells follow the English order; a translation whose English cell is gone is dropped;
* the outputs CI checks (``# NBVAL_CHECK_OUTPUT`` cells) are the English ones with each line the
  package prints from its message catalogue in Chinese (``cnncourse.i18n.localize_output``), as the
  Chinese run prints them.

``zh-stale`` lists the cells a translator must (re)translate: *untranslated* (no hash) and
*stale* (the English cell changed since). ``zh-export`` writes those cells (or all, with
``--all``) to a text file, one block per cell::

    <!-- cell cell-07 from 3f2a9c0d1b2e4f56 -->
    The English text, to be replaced by its translation.

and ``zh-import`` reads such a file back: it refuses a block whose ``from`` hash is no longer
the English cell's (the English changed while it was being translated) and records the hash of
every block it takes. This file is a script, not part of the ``cnncourse`` package.
"""

from __future__ import annotations

import copy
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
for _folder in (ROOT, ROOT / "tools"):   # the package, and nbtool beside this file
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
from cnncourse.i18n import localize_output  # noqa: E402
from nbtool import checks_output  # noqa: E402  (nbval's rule for the cells whose outputs CI compares)

EDITION = "zh"
# What the Chinese set-up cell runs before the English one: the package's messages in Chinese.
LANG_LINES = ('import os\n'
              'os.environ["CNNCOURSE_LANG"] = "zh"  # 中文版: cnncourse 的提示、检查结果和报告用中文显示\n')
GLOSSARY = ROOT / "notebooks" / EDITION / "GLOSSARY.md"
_CJK = re.compile(r"[\u4e00-\u9fff]")
_BLOCK = re.compile(r"^<!-- cell (?P<id>\S+) from (?P<hash>[0-9a-f]{16}) -->\n", re.MULTILINE)


def cell_hash(source: str) -> str:
    """The hash a translation records: the first 16 hex digits of the English text's SHA-256."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def has_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def zh_path(english: Path) -> Path:
    """``notebooks/01_x.ipynb`` -> ``notebooks/zh/01_x.ipynb`` (the same for ``exercises/``)."""
    english = Path(english)
    if english.parent.name == EDITION:
        raise ValueError(f"{english} is already in a {EDITION}/ folder; give the English notebook")
    return english.parent / EDITION / english.name


def english_path(zh: Path) -> Path:
    zh = Path(zh)
    if zh.parent.name != EDITION:
        raise ValueError(f"{zh} is not in a {EDITION}/ folder")
    return zh.parent.parent / zh.name


def _translated_from(cell) -> str | None:
    return cell.get("metadata", {}).get("cnncourse", {}).get("translated_from")


def translates(cell, english_source: str) -> bool:
    """Whether the Chinese ``cell`` records that it was translated from ``english_source`` as it is (not stale)."""
    return _translated_from(cell) == cell_hash(english_source)


def record_translation(cell, english_source: str) -> None:
    """Record in the Chinese ``cell`` that its text translates ``english_source``."""
    cell.setdefault("metadata", {})["cnncourse"] = {"translated_from": cell_hash(english_source)}


def _ids(nb: nbformat.NotebookNode, where: str) -> None:
    seen = set()
    for cell in nb.cells:
        cid = cell.get("id")
        if not cid or cid in seen:
            raise ValueError(f"{where}: every cell needs its own id (nbformat 4.5); found {cid!r} twice or missing")
        seen.add(cid)


def first_code_index(nb: nbformat.NotebookNode) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)


def expected_code(english_nb: nbformat.NotebookNode, index: int) -> str:
    """The source a Chinese code cell must have: the English one, with LANG_LINES on the set-up cell."""
    source = english_nb.cells[index].source
    return LANG_LINES + source if index == first_code_index(english_nb) else source


def sync(english_nb: nbformat.NotebookNode, zh_nb: nbformat.NotebookNode | None = None,
         where: str = "notebook") -> nbformat.NotebookNode:
    """The Chinese notebook for ``english_nb``, keeping the translations ``zh_nb`` already has."""
    _ids(english_nb, where)
    kept = {}
    if zh_nb is not None:
        kept = {c.id: c for c in zh_nb.cells if c.cell_type == "markdown" and _translated_from(c)}
    out = copy.deepcopy(english_nb)
    out.metadata["language_info"] = out.metadata.get("language_info", {"name": "python"})
    out.metadata["cnncourse"] = {**out.metadata.get("cnncourse", {}), "edition": EDITION}
    for i, cell in enumerate(out.cells):
        if cell.cell_type == "code":
            cell.source = expected_code(english_nb, i)
            if checks_output(cell.source):
                _localize_outputs(cell)
        elif cell.cell_type == "markdown":
            old = kept.get(cell.id)
            meta = cell.setdefault("metadata", {})
            if old is not None:
                cell.source = old.source
                meta["cnncourse"] = {"translated_from": _translated_from(old)}
            else:
                meta.pop("cnncourse", None)
    return out


def _localize_outputs(cell) -> None:
    """The English outputs of a checked cell as the Chinese run prints them (the package's lines in Chinese)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            output["text"] = localize_output(output["text"], EDITION)
        elif "text/plain" in output.get("data", {}):
            output["data"]["text/plain"] = localize_output(output["data"]["text/plain"], EDITION)


@dataclass(frozen=True)
class Stale:
    cell_id: str
    status: str  # "untranslated", "stale", "not Chinese"
    english: str


def stale_cells(english_nb: nbformat.NotebookNode, zh_nb: nbformat.NotebookNode) -> list[Stale]:
    """The markdown cells a translator must (re)do, in the English order."""
    zh = {c.id: c for c in zh_nb.cells}
    out = []
    for cell in english_nb.cells:
        if cell.cell_type != "markdown":
            continue
        mine = zh.get(cell.id)
        recorded = _translated_from(mine) if mine is not None else None
        if recorded is None:
            out.append(Stale(cell.id, "untranslated", cell.source))
        elif recorded != cell_hash(cell.source):
            out.append(Stale(cell.id, "stale", cell.source))
        elif not has_chinese(mine.source):
            out.append(Stale(cell.id, "not Chinese", cell.source))
    return out


def code_differences(english_nb: nbformat.NotebookNode, zh_nb: nbformat.NotebookNode) -> list[str]:
    """Where the Chinese notebook's cells differ from what ``sync`` makes of the English: code, order, kind."""
    problems = []
    english_ids = [(c.id, c.cell_type) for c in english_nb.cells]
    zh_ids = [(c.id, c.cell_type) for c in zh_nb.cells]
    if english_ids != zh_ids:
        problems.append("the cells (ids, kinds, order) are not the English notebook's: run zh-sync")
        return problems
    for i, (cell, mine) in enumerate(zip(english_nb.cells, zh_nb.cells)):
        if cell.cell_type == "code" and mine.source != expected_code(english_nb, i):
            problems.append(f"code cell {cell.id} differs from the English one: run zh-sync (never edit code here)")
    return problems


def export_text(english_nb: nbformat.NotebookNode, zh_nb: nbformat.NotebookNode | None, everything: bool = False) -> str:
    """The blocks to translate: the stale and untranslated cells (``everything``: every markdown cell)."""
    if zh_nb is None or everything:
        cells = [c for c in english_nb.cells if c.cell_type == "markdown"]
    else:
        todo = {s.cell_id for s in stale_cells(english_nb, zh_nb)}
        cells = [c for c in english_nb.cells if c.id in todo]
    return "".join(f"<!-- cell {c.id} from {cell_hash(c.source)} -->\n{c.source.rstrip()}\n\n" for c in cells)


def parse_blocks(text: str) -> dict[str, tuple[str, str]]:
    """``{cell id: (hash, translated text)}`` from an exported-and-translated file."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n")  # an editor's byte-order mark and Windows line ends
    marks = list(_BLOCK.finditer(text))
    if not marks:
        raise ValueError("no '<!-- cell ID from HASH -->' lines found: give a file written by zh-export")
    blocks = {}
    for mark, after in zip(marks, marks[1:] + [None]):
        body = text[mark.end(): after.start() if after else len(text)].strip("\n")
        if mark["id"] in blocks:
            raise ValueError(f"cell {mark['id']} appears twice")
        blocks[mark["id"]] = (mark["hash"], body)
    return blocks


def import_text(english_nb: nbformat.NotebookNode, zh_nb: nbformat.NotebookNode, text: str) -> list[str]:
    """Put the translated blocks into ``zh_nb`` (in place); returns the ids taken. Refuses stale blocks."""
    english = {c.id: c for c in english_nb.cells}
    zh = {c.id: c for c in zh_nb.cells}
    blocks = parse_blocks(text)
    problems = []
    for cid, (recorded, body) in blocks.items():
        cell = english.get(cid)
        if cell is None or cell.cell_type != "markdown":
            problems.append(f"{cid}: no English markdown cell has this id")
        elif cid not in zh or zh[cid].cell_type != "markdown":
            problems.append(f"{cid}: the Chinese notebook has no such markdown cell yet; run zh-sync first")
        elif recorded != cell_hash(cell.source):
            problems.append(f"{cid}: the English cell changed since it was exported; export it again")
        elif not has_chinese(body):
            problems.append(f"{cid}: the block holds no Chinese text")
    if problems:
        raise ValueError("; ".join(problems))
    for cid, (recorded, body) in blocks.items():
        target = zh[cid]
        target.source = body
        target.setdefault("metadata", {})["cnncourse"] = {"translated_from": recorded}
    return list(blocks)


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def glossary(path: Path = GLOSSARY) -> list[tuple[str, str]]:
    """(English, Chinese) pairs from the glossary's table rows ``| English | 中文 | ... |``."""
    pairs = []
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    for line in rows[2:]:  # after the header and its |---| line
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise ValueError(f"{path}: a glossary row needs an English and a Chinese term: {line!r}")
        pairs.append((cells[0], cells[1]))
    return pairs


_CODE = re.compile(r"```.*?```|`(?:[^`\n]|\n(?!\s*\n))+`|\]\([^)]*\)|https?://\S+", re.DOTALL)
# a code span may wrap onto the next line of its paragraph, never across a blank line


def prose(markdown: str) -> str:
    """Markdown without code (fenced blocks, `spans`) and link targets: what the glossary test reads."""
    return _CODE.sub(" ", markdown)


def _phrase(words: str) -> str:
    """A regex for ``words`` as whole words, any whitespace (a line break, too) between them."""
    return r"(?<![\w-])" + r"\s+".join(re.escape(w) for w in words.split()) + r"(?![\w-])"


def glossary_misses(english: str, chinese: str, pairs: list[tuple[str, str]]) -> list[str]:
    """The glossary entries whose English words ``english`` uses and whose Chinese term ``chinese`` lacks.

    An alternative written ``not: words`` is a phrase where the entry's words mean something else
    (``not: backward kernels``, a compute kernel): it does not count as a use.
    """
    english, chinese = prose(english), prose(chinese)
    misses = []
    for words, term in pairs:
        alternatives = [w.strip() for w in words.split(";") if w.strip()]
        wanted = [w for w in alternatives if not w.lower().startswith("not:")]
        text = english
        for other in (w[4:].strip() for w in alternatives if w.lower().startswith("not:")):
            text = re.sub(_phrase(other), " ", text, flags=re.IGNORECASE)
        used = any(re.search(_phrase(w), text, re.IGNORECASE) for w in wanted)
        if used and term.lower() not in chinese.lower():
            misses.append(f"{wanted[0]} → {term}")
    return misses
