"""What the checkers and the widgets print comes from the message catalogue, in the learner's language (issue 17).

Every diagnosis and hint of every exercise is a catalogue key (``diagnosis.<exercise>.<name>``,
``hint.<exercise>.<n>``) in both languages, with no key left over; no Chinese translation in the
catalogue is stale (``zh.sources.json``), and a stale one is shown in English, never outdated; the
verdicts, hints and widget summaries speak Chinese under ``CNNCOURSE_LANG=zh`` and the English ones
are unchanged.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch

from cnncourse import i18n
from cnncourse.checks import check, checkers, hint, run_check

ROOT = Path(__file__).resolve().parents[1]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_every_diagnosis_and_hint_is_in_both_catalogues_and_no_key_is_left_over():
    en, zh = i18n.catalogue("en"), i18n.catalogue("zh")
    wanted = set()
    for name, checker in checkers().items():
        wanted |= {f"diagnosis.{name}.{d.name}" for d in checker.diagnoses}
        levels = len(checker.hints)
        assert levels >= 2, f"{name} needs tiered hints (hint.{name}.1, .2 ...)"
        wanted |= {f"hint.{name}.{level}" for level in range(1, levels + 1)}
    for lang, catalogue in (("en", en), ("zh", zh)):
        present = {key for key in catalogue if key.startswith(("diagnosis.", "hint."))}
        assert sorted(wanted - present) == [], f"messages/{lang}.json lacks these diagnoses or hints"
        assert sorted(present - wanted) == [], f"messages/{lang}.json has diagnoses or hints no checker uses"
    assert all(CHINESE.search(zh[key]) for key in wanted), "a Chinese diagnosis or hint holds no Chinese"


def test_the_checkers_code_holds_no_message_of_its_own():
    en = i18n.catalogue("en")
    texts = [t for k, t in en.items() if k.startswith(("diagnosis.", "hint.")) and len(t) > 30]
    for path in sorted((ROOT / "cnncourse" / "checks").glob("ch*.py")):
        source = path.read_text(encoding="utf-8")
        inline = [t[:60] for t in texts if t[:40] in source]
        assert inline == [], f"{path.name} repeats catalogue text in code: {inline}"


def test_no_chinese_translation_is_stale():
    stale = i18n.stale_messages("zh")
    assert stale == [], (f"cnncourse/messages/zh.json: {len(stale)} translations older than their English "
                         f"(python tools/nbtool.py zh-messages): {stale[:10]}")


def test_a_stale_translation_is_shown_in_english_and_listed(monkeypatch):
    key = "quiz.pick_first"
    recorded = dict(i18n.sources("zh"))
    recorded[key] = "0" * 12  # as if the English had changed since the translation
    monkeypatch.setattr(i18n, "sources", lambda lang: recorded if lang == "zh" else {})
    i18n._stale_set.cache_clear()
    try:
        assert key in i18n.stale_messages("zh")
        assert i18n.message(key, "zh") == i18n.message(key, "en") == "Pick an answer first."
    finally:
        monkeypatch.undo()
        i18n._stale_set.cache_clear()
    assert key not in i18n.stale_messages("zh") and i18n.message(key, "zh") == "请先选择一个答案。"


def test_the_messages_tool_says_the_catalogue_is_up_to_date(capsys):
    nbtool = _tool("nbtool")
    assert nbtool.main(["zh-messages"]) == 0
    assert "the zh message catalogue is up to date" in capsys.readouterr().out
    assert nbtool.main(["zh-messages", "--stamp", "no.such.key"]) == 2


def test_the_chinese_catalogue_uses_the_glossary_terms():
    nbzh = _tool("nbzh")
    pairs = nbzh.glossary()
    en, zh = i18n.catalogue("en"), i18n.catalogue("zh")
    misses = []
    for key, english in en.items():
        for miss in nbzh.glossary_misses(english, zh[key], pairs):
            words = next(w for w, term in pairs if miss.endswith(f"→ {term}") and miss.startswith(w.split(";")[0]))
            kept = [w.strip() for w in words.split(";") if w.strip() and not w.strip().startswith("not:")]
            if not any(re.search(nbzh._phrase(w), zh[key], re.IGNORECASE) for w in kept):  # an identifier kept as is
                misses.append(f"{key}: {miss}")
    assert misses == [], f"messages/zh.json does not use the glossary's term (notebooks/zh/GLOSSARY.md): {misses}"


def _conv_params_wrong(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k  # the biases left out


def test_a_verdict_and_its_hints_speak_chinese_and_the_english_ones_are_unchanged(monkeypatch, capsys):
    monkeypatch.delenv("CNNCOURSE_LANG", raising=False)
    english = str(run_check("conv_params", _conv_params_wrong))
    assert english.startswith("✗ conv_params: 1/10 cases; [LeNet conv1 (1->6, 5x5)] returned 150, expected 156.")
    assert "Hint: you left out the biases: one per output channel. Next: hint('conv_params')" in english
    monkeypatch.setenv("CNNCOURSE_LANG", "zh")
    chinese = str(run_check("conv_params", _conv_params_wrong))
    assert chinese.startswith("✗ conv_params：1/10 个用例通过；[LeNet conv1 (1->6, 5x5)] 返回了 150，应为 156。")
    assert i18n.message("diagnosis.conv_params.no_bias", "zh") in chinese and "下一步：hint('conv_params')" in chinese
    hint("conv_params")
    assert capsys.readouterr().out.startswith("conv_params 的提示 1/2：" + i18n.message("hint.conv_params.1", "zh"))
    check("conv_params", lambda c_in, c_out, k, bias=True: c_in * c_out * k * k + (c_out if bias else 0))
    assert capsys.readouterr().out.strip() == "✓ conv_params：10/10 个用例通过"
    stub = str(run_check("conv_params", lambda c_in, c_out, k, bias=True: (_ for _ in ()).throw(NotImplementedError)))
    assert stub == ("✗ conv_params：0/10 个用例通过；尚未实现：把 `raise NotImplementedError` 这一行换成你的代码。"
                    "下一步：hint('conv_params')")


def test_a_wrong_shape_in_a_tuple_answer_is_named_in_either_language(monkeypatch):
    from cnncourse.checks.core import compare_rel_error

    compare = compare_rel_error(1e-6, names=("dx", "dw"))
    a, b = torch.zeros(2, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    monkeypatch.delenv("CNNCOURSE_LANG", raising=False)
    assert compare((a, b[:2]), (a, b)) == "shape (2,) in dw, expected (3,)"
    monkeypatch.setenv("CNNCOURSE_LANG", "zh")
    assert compare((a, b[:2]), (a, b)) == "形状为 (2,)（在 dw 中），应为 (3,)"


def test_a_widget_summary_speaks_the_learners_language(monkeypatch):
    from cnncourse.lessons import optimizers, pooling

    view = pooling.pool_view(torch.rand(3, 8, 8), "max", 2, 2)
    monkeypatch.delenv("CNNCOURSE_LANG", raising=False)
    assert pooling.summarize_pool_view(view) == "(3, 8, 8) -> (3, 4, 4) (25.0% of the positions kept; windows tile the image)"
    monkeypatch.setenv("CNNCOURSE_LANG", "zh")
    assert pooling.summarize_pool_view(view) == "(3, 8, 8) -> (3, 4, 4)（保留 25.0% 的位置；窗口恰好铺满图像）"
    assert optimizers.summarize_explore(optimizers.explore("sgd", "rosenbrock", lr=1.0, steps=30)) == "发散了（请调低学习率）"


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts)
            if t.get_text()]


def test_a_widget_figure_draws_its_words_in_the_learners_language(monkeypatch):
    import io
    import warnings

    import matplotlib

    from cnncourse import viz
    from cnncourse.drawing import pooling as draw
    from cnncourse.lessons import pooling

    view = pooling.pool_view(torch.rand(3, 8, 8), "avg", 2, 2)
    monkeypatch.delenv("CNNCOURSE_LANG", raising=False)
    english = _texts(draw.draw_pool_view(view))
    assert english == ["input (3, 8, 8)", "avg pool K=2, S=2 -> (3, 4, 4)"]
    if viz.cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk; .ci/run installs it)")
    monkeypatch.setenv("CNNCOURSE_LANG", "zh")
    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("error")  # a glyph the font lacks warns
        viz.language_fonts()
        fig = draw.draw_pool_view(view)
        chinese = _texts(fig)
        fig.savefig(io.BytesIO(), format="png")
    assert chinese == ["输入 (3, 8, 8)", "平均池化 K=2, S=2 -> (3, 4, 4)"]


def test_a_history_plot_names_the_metric_in_the_learners_language(monkeypatch):
    import matplotlib

    from cnncourse import viz
    from cnncourse.train import History

    history = History(epoch=[1, 2], val_acc=[0.5, 0.7])
    history.extra_metric = [1.0, 2.0]
    monkeypatch.delenv("CNNCOURSE_LANG", raising=False)
    assert viz.plot_histories({"a": history}).axes[0].get_ylabel() == "val acc"
    assert viz.plot_histories({"a": history}, metric="extra_metric").axes[0].get_ylabel() == "extra metric"
    monkeypatch.setattr(viz, "cjk_font", lambda: "Some CJK Font")  # label() gives Chinese only where a font can draw it
    monkeypatch.setenv("CNNCOURSE_LANG", "zh")
    with matplotlib.rc_context():
        assert viz.label("figure.metric.val_acc") == "验证准确率"
