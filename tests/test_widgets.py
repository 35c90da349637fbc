"""cnncourse.widgets.Explorer: moving a control re-computes and re-draws, without a browser."""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from cnncourse.widgets import Explorer


def square(n):
    return n * n


def draw(result):
    fig, ax = plt.subplots()
    ax.set_title(f"n² = {result}")
    return fig


def test_changing_a_control_recomputes():
    ex = Explorer(square, draw, summary=lambda r: f"result {r}", n=widgets.IntSlider(3, 1, 10))
    assert ex.result == 9
    ex.controls["n"].value = 7
    assert ex.result == 49 and ex.values() == {"n": 7}
    assert ex.describe(ex.result) == "n=7 → result 49"
    assert "cnncourse-explorer" in ex.widget._dom_classes
    assert ex.seconds >= 0
    assert ex.static_figure().axes[0].get_title() == "n² = 49"


def test_controls_are_validated():
    with pytest.raises(ValueError, match="at least one control"):
        Explorer(square, draw)
    with pytest.raises(TypeError, match="must be an ipywidgets control"):
        Explorer(square, draw, n=3)


def test_static_fallback_has_the_default_view_as_png():
    import base64

    ex = Explorer(square, draw, summary=lambda r: f"result {r}", n=widgets.IntSlider(4, 1, 10))
    bundle = ex.mimebundle()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert bundle["text/plain"].startswith("n=4 → result 16")
