"""The Chinese edition (issue 17): notebooks/zh/ and exercises/zh/ are what tools/nbzh.py makes of the English.

For every Chinese notebook committed: its cells are the English notebook's (ids, kinds, order), its
code is the English code (plus ``nbzh.LANG_LINES`` on the set-up cell), no markdown cell is stale or
untranslated, every markdown cell holds Chinese, the glossary's terms are used, and regenerating it
(``zh-sync``) changes nothing. Then the mechanism itself on small notebooks, the message catalogue
(``cnncourse.i18n``: both languages have the same keys and placeholders) and the figures' fonts.
"""
from __future__ import annotations

import importlib.util
import io
import json
import os
import string
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cnncourse import i18n

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    """Import a script of tools/ (not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # nbtool's zh commands `import nbzh`: the same module
    spec.loader.exec_module(module)
    return module


nbzh = _load("nbzh")
nbtool = _load("nbtool")

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
CHINESE = sorted((ROOT / "notebooks" / "zh").glob("*.ipynb")) + sorted((ROOT / "exercises" / "zh").glob("*.ipynb"))
PAIRS = nbzh.glossary()


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ----------------------------------------------------------------------------- the committed Chinese notebooks

committed = pytest.mark.parametrize(
    "path", CHINESE or [pytest.param(None, marks=pytest.mark.skip(reason="no Chinese notebook committed yet"))],
    ids=[_name(p) for p in CHINESE] or ["none"])


def _pair(path: Path):
    english = nbzh.english_path(path)
    assert english.is_file(), f"{_name(path)} has no English notebook {_name(english)}"
    return nbzh.read(english), nbzh.read(path)


@committed
def test_cells_and_code_are_the_english_ones(path):
    english, zh = _pair(path)
    assert nbzh.code_differences(english, zh) == []
    first = nbzh.first_code_index(english)
    assert first is not None and zh.cells[first].source.startswith(nbzh.LANG_LINES)


@committed
def test_no_cell_is_stale_or_untranslated_and_every_markdown_cell_is_chinese(path):
    english, zh = _pair(path)
    todo = [f"{s.cell_id} {s.status}" for s in nbzh.stale_cells(english, zh)]
    assert todo == [], f"{_name(path)}: run `python tools/nbtool.py zh-stale {_name(nbzh.english_path(path))}`"
    silent = [c.id for c in zh.cells if c.cell_type == "markdown" and not nbzh.has_chinese(c.source)]
    assert silent == [], f"{_name(path)}: markdown cells without Chinese text"


@committed
def test_the_glossary_terms_are_used(path):
    english, zh = _pair(path)
    mine = {c.id: c for c in zh.cells}
    misses = [f"{c.id}: {miss}" for c in english.cells if c.cell_type == "markdown" and c.id in mine
              for miss in nbzh.glossary_misses(c.source, mine[c.id].source, PAIRS)]
    assert misses == [], f"{_name(path)} does not use the glossary's term (notebooks/zh/GLOSSARY.md): {misses}"


@committed
def test_regenerating_changes_nothing(path, tmp_path):
    english, zh = _pair(path)
    again = tmp_path / path.name
    nbtool._save(nbtool.strip_notebook(nbzh.sync(english, zh, where=str(path))), again)
    assert again.read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), \
        f"{_name(path)} is not what zh-sync writes: run `python tools/nbtool.py zh-sync {_name(nbzh.english_path(path))}`"


def test_every_english_chapter_and_exercise_has_a_chinese_edition():
    missing = [_name(nbzh.zh_path(p)) for p in CHAPTERS + EXERCISES if not nbzh.zh_path(p).is_file()]
    assert missing == [], f"{len(missing)} Chinese notebooks missing: {', '.join(missing)}"


def test_the_glossary_parses_and_names_each_english_term_once():
    assert len(PAIRS) >= 40 and ("feature map; feature maps", "特征映射") in PAIRS
    words = [w.strip().lower() for english, _ in PAIRS for w in english.split(";") if not w.strip().startswith("not:")]
    # "precision and recall" has two rows on purpose (精确率 and 召回率); no other term is listed twice
    repeated = {w for w in words if words.count(w) > 1} - {"precision and recall"}
    assert not repeated, f"glossary lists {sorted(repeated)} in two rows"
    assert all(nbzh.has_chinese(term) or term.isascii() for _, term in PAIRS)


# ----------------------------------------------------------------------------- the mechanism, on small notebooks

LEDGER_LINE = "[pool.robustness] supported (smoke run: recorded, not compared with the text)"


def english_notebook() -> nbformat.NotebookNode:
    nb = new_notebook(cells=[
        new_markdown_cell("# Pooling\n\nA kernel slides over the feature map.", id="title"),
        new_code_cell("import cnncourse", id="setup"),
        new_markdown_cell("The stride is 2; `stride=2` in code is not prose.", id="stride"),
        new_code_cell("# NBVAL_CHECK_OUTPUT\nprint('ok')", id="checked", outputs=[
            new_output("stream", name="stdout", text=f"shape (1, 6)\n{LEDGER_LINE}\n")]),
        new_markdown_cell("Done.", id="end"),
    ])
    nb.metadata["kernelspec"] = nbtool.KERNELSPEC
    return nb


CHINESE_TEXT = {"title": "# 池化\n\n卷积核在特征映射上滑动。", "stride": "步长为 2；代码里的 `stride=2` 不算正文。",
                "end": "完成。"}


def translated(english: nbformat.NotebookNode, texts: dict = CHINESE_TEXT) -> nbformat.NotebookNode:
    """The Chinese notebook after a translator exported every cell, translated it and imported it."""
    zh = nbzh.sync(english, None)
    blocks = nbzh.parse_blocks(nbzh.export_text(english, zh, everything=True))
    text = "".join(f"<!-- cell {cid} from {h} -->\n{texts[cid]}\n\n" for cid, (h, _) in blocks.items())
    nbzh.import_text(english, zh, text)
    return nbzh.sync(english, zh)


def test_sync_copies_the_code_and_starts_the_setup_cell_with_the_language():
    english = english_notebook()
    zh = nbzh.sync(english)
    assert [(c.id, c.cell_type) for c in zh.cells] == [(c.id, c.cell_type) for c in english.cells]
    assert zh.cells[1].source == nbzh.LANG_LINES + "import cnncourse"
    assert zh.cells[3].source == english.cells[3].source
    assert 'os.environ["CNNCOURSE_LANG"] = "zh"' in nbzh.LANG_LINES
    assert zh.metadata["cnncourse"]["edition"] == "zh"
    assert nbzh.code_differences(english, zh) == []
    zh.cells[3].source += "\nprint('edited by hand')"
    assert nbzh.code_differences(english, zh) == ["code cell checked differs from the English one: "
                                                  "run zh-sync (never edit code here)"]
    assert nbzh.code_differences(english, nbzh.sync(english, zh)) == []  # zh-sync puts the English code back


def test_a_translated_notebook_is_up_to_date_and_keeps_its_translations():
    english = english_notebook()
    zh = translated(english)
    assert nbzh.stale_cells(english, zh) == []
    assert zh.cells[0].source == CHINESE_TEXT["title"]
    assert zh.cells[0].metadata["cnncourse"]["translated_from"] == nbzh.cell_hash(english.cells[0].source)
    assert nbzh.sync(english, zh) == zh  # syncing again keeps every translation


def test_an_edited_english_cell_makes_its_translation_stale():
    english = english_notebook()
    zh = translated(english)
    english.cells[2].source = "The stride is 3."
    assert [(s.cell_id, s.status) for s in nbzh.stale_cells(english, nbzh.sync(english, zh))] == [("stride", "stale")]
    assert "stride" in nbzh.export_text(english, zh) and "title" not in nbzh.export_text(english, zh)


def test_a_stale_block_is_refused_on_import():
    english = english_notebook()
    zh = nbzh.sync(english)
    exported = nbzh.export_text(english, zh)
    english.cells[2].source = "The stride is 3."  # the English changes while the translator works
    answer = exported.replace("The stride is 2; `stride=2` in code is not prose.", "步长为 2。") \
                     .replace("# Pooling\n\nA kernel slides over the feature map.", "# 池化\n\n卷积核在特征映射上滑动。") \
                     .replace("Done.", "完成。")
    before = copy_of(zh)
    with pytest.raises(ValueError, match="stride: the English cell changed since it was exported; export it again"):
        nbzh.import_text(english, zh, answer)
    assert zh == before  # nothing taken, not even the blocks that were fine


def copy_of(nb):
    return nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))


def test_a_block_without_chinese_is_refused():
    english = english_notebook()
    zh = nbzh.sync(english)
    exported = nbzh.export_text(english, zh)  # the English text, not translated
    with pytest.raises(ValueError, match="title: the block holds no Chinese text"):
        nbzh.import_text(english, zh, exported)
    zh.cells[0].source = "# Pooling"  # a hash recorded on English text (an edit by hand) is caught too
    zh.cells[0].metadata["cnncourse"] = {"translated_from": nbzh.cell_hash(english.cells[0].source)}
    assert ("title", "not Chinese") in [(s.cell_id, s.status) for s in nbzh.stale_cells(english, zh)]


def test_a_dropped_english_cell_drops_its_translation():
    english = english_notebook()
    zh = translated(english)
    del english.cells[2]
    again = nbzh.sync(english, zh)
    assert [c.id for c in again.cells] == ["title", "setup", "checked", "end"]
    assert nbzh.stale_cells(english, again) == [] and nbzh.code_differences(english, again) == []
    assert nbzh.code_differences(english, zh) == [
        "the cells (ids, kinds, order) are not the English notebook's: run zh-sync"]


def test_a_new_english_cell_arrives_untranslated():
    english = english_notebook()
    zh = translated(english)
    english.cells.insert(3, new_markdown_cell("Max pooling keeps the largest value.", id="new"))
    again = nbzh.sync(english, zh)
    assert [c.id for c in again.cells] == ["title", "setup", "stride", "new", "checked", "end"]
    assert again.cells[3].source == "Max pooling keeps the largest value."
    assert "cnncourse" not in again.cells[3].metadata
    assert [(s.cell_id, s.status) for s in nbzh.stale_cells(english, again)] == [("new", "untranslated")]
    assert again.cells[2].source == CHINESE_TEXT["stride"]  # the others keep their translations


def test_import_into_a_cell_the_chinese_notebook_lacks_says_run_zh_sync():
    english = english_notebook()
    zh = nbzh.sync(english)
    english.cells.insert(3, new_markdown_cell("Max pooling keeps the largest value.", id="new"))
    block = f"<!-- cell new from {nbzh.cell_hash(english.cells[3].source)} -->\n最大池化保留最大值。\n"
    with pytest.raises(ValueError, match="new: the Chinese notebook has no such markdown cell yet; run zh-sync first"):
        nbzh.import_text(english, zh, block)


def test_an_exported_file_saved_with_windows_line_ends_and_a_bom_imports():
    english = english_notebook()
    zh = nbzh.sync(english)
    text = "".join(f"<!-- cell {cid} from {h} -->\n{CHINESE_TEXT[cid]}\n\n"
                   for cid, (h, _) in nbzh.parse_blocks(nbzh.export_text(english, zh)).items())
    windows = "\ufeff" + text.replace("\n", "\r\n")
    assert nbzh.import_text(english, zh, windows) == ["title", "stride", "end"]
    assert zh.cells[0].source == CHINESE_TEXT["title"]


def test_the_checked_outputs_are_the_english_ones_as_the_chinese_run_prints_them():
    english = english_notebook()
    zh = nbzh.sync(english)
    text = zh.cells[3].outputs[0]["text"]
    assert text == "shape (1, 6)\n" + i18n.message("claims.recorded_smoke", "zh", id="pool.robustness",
                                                    verdict="supported") + "\n"
    assert english.cells[3].outputs[0]["text"].endswith(LEDGER_LINE + "\n")  # the English is left alone


def test_glossary_misses_reads_prose_not_code():
    pairs = [("kernel; kernels", "卷积核"), ("stride", "步长")]
    assert nbzh.glossary_misses("A kernel slides.", "核在图上滑动。", pairs) == ["kernel → 卷积核"]
    assert nbzh.glossary_misses("A kernel slides.", "卷积核在图上滑动。", pairs) == []
    assert nbzh.glossary_misses("Set `stride=2` and `kernel_size`.", "设置参数。", pairs) == []
    assert nbzh.glossary_misses("Call `F.conv2d(x, w,\nstride=2)` here.", "在这里调用。", pairs) == []  # a span that wraps
    assert nbzh.glossary_misses("a ` tick\n\nthen the stride", "然后", pairs) == ["stride → 步长"]  # not across paragraphs
    assert nbzh.glossary_misses("Kernels, strides.", "卷积核。", pairs) == []  # "strides" is not listed
    assert nbzh.glossary_misses("a feature\nmap", "一个特征图", [("feature map", "特征映射")]) == ["feature map → 特征映射"]
    other = [("kernel; kernels; not: backward kernels", "卷积核")]  # a compute kernel is not a convolution kernel
    assert nbzh.glossary_misses("PyTorch's backward\nkernels.", "PyTorch 的反向计算内核。", other) == []
    assert nbzh.glossary_misses("backward kernels and a 3x3 kernel", "反向计算内核和 3x3 的核", other) == ["kernel → 卷积核"]


def test_the_command_line_round_trip(tmp_path, capsys):
    english_path = tmp_path / "notebooks" / "04_pooling.ipynb"
    english_path.parent.mkdir()
    nbformat.write(english_notebook(), english_path)
    assert nbtool.main(["zh-sync", str(english_path)]) == 0
    target = tmp_path / "notebooks" / "zh" / "04_pooling.ipynb"
    assert target.is_file() and "3 markdown cells to translate" in capsys.readouterr().out
    assert nbtool.main(["zh-stale", str(english_path)]) == 1
    assert "title untranslated: # Pooling" in capsys.readouterr().out
    exported = tmp_path / "todo.md"
    assert nbtool.main(["zh-export", str(english_path), "--to", str(exported)]) == 0
    blocks = nbzh.parse_blocks(exported.read_text(encoding="utf-8"))
    exported.write_text("".join(f"<!-- cell {cid} from {h} -->\n{CHINESE_TEXT[cid]}\n\n"
                                for cid, (h, _) in blocks.items()), encoding="utf-8")
    assert nbtool.main(["zh-import", str(english_path), "--text", str(exported)]) == 0
    assert "3 cells translated; 0 left" in capsys.readouterr().out
    assert nbtool.main(["zh-stale", str(english_path)]) == 0
    assert "the Chinese edition is up to date" in capsys.readouterr().out
    written = target.read_text(encoding="utf-8")
    assert nbtool.main(["zh-sync", str(english_path)]) == 0 and target.read_text(encoding="utf-8") == written

    # a cell added to the English after the last zh-sync: exported, translated and imported without a zh-sync
    english = nbformat.read(english_path, as_version=4)
    english.cells.insert(3, new_markdown_cell("Max pooling keeps the largest value.", id="new"))
    nbformat.write(english, english_path)
    assert nbtool.main(["zh-export", str(english_path), "--to", str(exported)]) == 0
    [(cid, (h, _))] = nbzh.parse_blocks(exported.read_text(encoding="utf-8")).items()
    exported.write_text(f"<!-- cell {cid} from {h} -->\n最大池化保留最大值。\n", encoding="utf-8")
    assert nbtool.main(["zh-import", str(english_path), "--text", str(exported)]) == 0
    assert "1 cells translated; 0 left" in capsys.readouterr().out
    assert nbtool.main(["zh-stale", str(english_path)]) == 0


# ----------------------------------------------------------------------------- the message catalogue

def _fields(template: str) -> set[tuple[str, str | None]]:
    """(name, conversion) of every placeholder: ``{response!r}`` -> ("response", "r")."""
    return {(name, conversion) for _, name, _, conversion in string.Formatter().parse(template) if name is not None}


def test_both_catalogues_have_the_same_keys_and_placeholders():
    en, zh = i18n.catalogue("en"), i18n.catalogue("zh")
    assert sorted(set(en) ^ set(zh)) == [], "cnncourse/messages/en.json and zh.json must have the same keys"
    differ = [key for key in en if _fields(en[key]) != _fields(zh[key])]
    assert differ == [], f"placeholders differ between en.json and zh.json: {differ}"
    untranslated = [key for key in zh if zh[key] == en[key] and not key.startswith("info.label_")]
    assert untranslated == [], f"zh.json repeats the English text of {untranslated}"


def test_the_language_comes_from_cnncourse_lang(monkeypatch):
    monkeypatch.delenv("CNNCOURSE_LANG", raising=False)
    assert i18n.language() == "en" and i18n.message("quiz.pick_first") == "Pick an answer first."
    for value in ("zh", "zh_CN", "zh-Hans", "ZH"):
        monkeypatch.setenv("CNNCOURSE_LANG", value)
        assert i18n.language() == "zh"
    assert i18n.message("quiz.pick_first") == "请先选择一个答案。"
    monkeypatch.setenv("CNNCOURSE_LANG", "fr")
    with pytest.raises(ValueError, match=r"^CNNCOURSE_LANG='fr' is not a language of the course; use one of \['en', 'zh'\]"):
        i18n.language()
    with pytest.raises(KeyError, match="is not in the message catalogue"):
        i18n.message("no.such.key", "en")
    with pytest.raises(KeyError, match="needs the field 'installed'"):
        i18n.message("info.require_ok", "en", needed="0.1")


@pytest.mark.parametrize("key", [k for k, _ in i18n._line_patterns()])
def test_a_printed_english_line_comes_out_as_the_chinese_run_prints_it(key):
    fields = {name: f"<{name}>" for name, _ in _fields(i18n.catalogue("en")[key])}
    english = i18n.message(key, "en", **fields)
    assert i18n.localize_output(f"x\n{english}\ny", "zh") == f"x\n{i18n.message(key, 'zh', **fields)}\ny"


def test_chinese_words_are_padded_by_their_width():
    assert i18n.columns("数据集") == 6 and i18n.ljust("数据集", 8) == "数据集  " and i18n.ljust("data", 6) == "data  "


def test_the_setup_report_quiz_and_ledger_speak_chinese(monkeypatch, tmp_path, smoke_profile):
    from cnncourse import claims, info, quiz, report

    monkeypatch.setenv("CNNCOURSE_LANG", "zh")
    monkeypatch.setenv("CNNCOURSE_HOME", str(tmp_path))
    out = io.StringIO()
    info.require("0.1", file=out)
    described = info.describe(file=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("cnncourse 0.1.0（本笔记本需要 >= 0.1）")
    assert any(line.startswith("运行配置    : smoke (") for line in lines)  # aligned as 12 columns
    assert len({line.index(" : ") + i18n.columns(line[:line.index(" : ")]) - len(line[:line.index(" : ")])
                for line in lines[1:]}) == 1
    assert set(described) >= {"platform", "gpu", "profile", "data"}  # the keys stay names
    question = quiz.load_quiz("01_introduction")[0]
    assert quiz.grade(question, None) == (False, "请先选择一个答案。")
    ledger = claims.Ledger("04_pooling", "smoke", file=io.StringIO())
    ledger.record("pool.robustness", "supported", expected="supported")
    assert ledger._file.getvalue() == "[pool.robustness] supported（smoke 运行：只记录，不与正文比较）\n"
    assert ledger.table().splitlines()[0].startswith("论断") and "未记录：" in ledger.table()
    assert report.key_numbers(accuracy=0.5) == {"accuracy": 0.5}


# ----------------------------------------------------------------------------- figures: Chinese only where it can be drawn

def _history():
    from types import SimpleNamespace

    return SimpleNamespace(epoch=[1, 2], train_loss=[1.0, 0.5], train_acc=[0.5, 0.8], val_loss=[1.1, 0.6],
                           val_acc=[0.4, 0.7])


def test_without_a_cjk_font_the_labels_stay_english(monkeypatch):
    from cnncourse import viz

    monkeypatch.setenv("CNNCOURSE_LANG", "zh")
    monkeypatch.setattr(viz, "cjk_font", lambda: None)
    with matplotlib.rc_context():
        families = list(matplotlib.rcParams["font.family"])
        assert viz.label("figure.epoch") == "epoch" and not viz.language_fonts()
        fig = viz.plot_history(_history())
        assert [ax.get_xlabel() for ax in fig.axes] == ["epoch", "epoch"]
        assert fig.axes[0].get_legend().get_texts()[1].get_text() == "validation"
        assert list(matplotlib.rcParams["font.family"]) == families


def test_with_a_cjk_font_the_labels_are_chinese_and_the_font_is_a_fallback(monkeypatch):
    from cnncourse import viz

    monkeypatch.setenv("CNNCOURSE_LANG", "zh")
    monkeypatch.setattr(viz, "cjk_font", lambda: "Some CJK Font")
    with matplotlib.rc_context():
        first = list(matplotlib.rcParams["font.family"])
        assert viz.language_fonts()
        assert list(matplotlib.rcParams["font.family"]) == first + ["Some CJK Font"]
        viz.language_fonts()  # added once
        assert list(matplotlib.rcParams["font.family"]) == first + ["Some CJK Font"]
        assert viz.label("figure.epoch") == "轮" and viz.label("figure.confusion_matrix") == "混淆矩阵"
    monkeypatch.setenv("CNNCOURSE_LANG", "en")
    assert viz.label("figure.epoch") == "epoch"


def test_chinese_labels_render_with_the_installed_font(monkeypatch):
    from cnncourse import viz

    font = viz.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk; .ci/run installs it)")
    monkeypatch.setenv("CNNCOURSE_LANG", "zh")
    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph ("boxes") warns
        viz.language_fonts()
        fig = viz.plot_history(_history(), title="训练曲线")
        assert fig.axes[0].get_xlabel() == "轮"
        fig.savefig(io.BytesIO(), format="png")


# ----------------------------------------------------------------------------- the rendered site: both editions, linked

def test_the_site_renders_both_editions_with_a_language_switch(tmp_path):
    src = tmp_path / "nb"
    (src / "zh").mkdir(parents=True)
    for path, title, lang in ((src / "99_tiny.ipynb", "# 99 · A tiny chapter", "en"),
                              (src / "zh" / "99_tiny.ipynb", "# 99 · 一个小章节", "zh")):
        nb = new_notebook(cells=[
            new_markdown_cell(title),
            new_code_cell(f"import os\nos.environ['CNNCOURSE_LANG'] = '{lang}'\nPROFILE = None",
                          metadata={"tags": ["parameters"]}),
            new_code_cell("from cnncourse.report import key_numbers\nkey_numbers(answer=42)"),
        ])
        nb.metadata["kernelspec"] = nbtool.KERNELSPEC
        nbformat.write(nb, path)
    out = tmp_path / "site"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "render_course.py"), "--profile", "smoke", "--out", str(out),
                          str(src / "99_tiny.ipynb"), str(src / "zh" / "99_tiny.ipynb")],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "CNNCOURSE_HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    english = (out / "99_tiny.html").read_text(encoding="utf-8")
    chinese = (out / "zh" / "99_tiny.html").read_text(encoding="utf-8")
    assert 'href="zh/99_tiny.html" hreflang="zh-Hans">中文版</a>' in english
    assert 'href="../99_tiny.html" hreflang="en">English</a>' in chinese and "本章测得的数值" in chinese
    index, zh_index = (out / "index.html").read_text(encoding="utf-8"), (out / "zh" / "index.html").read_text(encoding="utf-8")
    assert 'href="zh/index.html"' in index and "A tiny chapter" in index and "key numbers it measured" in index
    assert 'href="../index.html"' in zh_index and "一个小章节" in zh_index and "answer = 42" in zh_index
    assert "原文的论断" in zh_index and "章节" in zh_index and "未测量" in zh_index
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings["seconds"]) == {"99_tiny.ipynb"}  # the English run's times only
    assert not (out / "zh" / "timings.json").exists() and not (out / "zh" / "claims.json").exists()
