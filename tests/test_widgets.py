"""cnncourse.widgets.Explorer: moving a control re-computes and re-draws, without a browser."""
import base64

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
    # the update's parts are timed and add up to the whole (a stale or zero timer fails here)
    assert set(ex.timings) == {"compute", "draw", "render"} and all(t > 0 for t in ex.timings.values())
    assert 0 < ex.seconds < 5 and sum(ex.timings.values()) == pytest.approx(ex.seconds, rel=0.05, abs=1e-3)
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


def shown(ex):
    """What the widget's output area holds: its printed text and how many PNG figures."""
    text = "".join(o.get("text", "") for o in ex.output.outputs if o["output_type"] == "stream")
    pngs = [o for o in ex.output.outputs if "image/png" in o.get("data", {})]
    return text, len(pngs)


def test_the_widget_output_holds_the_line_and_the_figure():
    ex = Explorer(square, draw, summary=lambda r: f"result {r}", n=widgets.IntSlider(3, 1, 10))
    assert shown(ex) == ("n=3 → result 9\n", 1)
    ex.controls["n"].value = 5
    assert shown(ex) == ("n=5 → result 25\n", 1)
    assert ex.refresh() == 25 == ex.result  # a direct refresh returns what it computed
    png = next(o for o in ex.output.outputs if "image/png" in o.get("data", {}))["data"]["image/png"]
    assert base64.b64decode(png).startswith(b"\x89PNG") and not plt.get_fignums()  # drawn, rendered, closed


def picky(n):
    print(f"computing {n}")  # what compute prints shows in the widget, above the figure
    if n == 4:
        raise ValueError("n=4 is not allowed here\nsecond line of detail")
    return n * n


def fragile_draw(result):
    fig, ax = plt.subplots()
    if result == 36:
        raise RuntimeError("cannot draw 36")  # fails half-way, with a figure already open
    ax.set_title(str(result))
    return fig


def test_an_error_for_one_value_shows_its_line_in_place_of_the_figure_and_the_next_value_redraws():
    """Driven through the widget's update path: setting a control's value, as a slider move does."""
    ex = Explorer(picky, fragile_draw, summary=lambda r: f"result {r}", n=widgets.IntSlider(3, 1, 10))
    assert shown(ex) == ("n=3 → result 9\ncomputing 3\n", 1) and ex.error is None
    ex.controls["n"].value = 4  # compute raises: no exception escapes the slider callback
    assert shown(ex) == ("computing 4\n✗ n=4: ValueError: n=4 is not allowed here\n", 0)
    assert ex.result is None and ex.error == "✗ n=4: ValueError: n=4 is not allowed here"
    ex.controls["n"].value = 6  # draw raises half-way: its figure is closed, not leaked
    assert shown(ex) == ("computing 6\n✗ n=6: RuntimeError: cannot draw 36\n", 0)
    assert not plt.get_fignums()
    ex.controls["n"].value = 7  # the next good value redraws
    assert shown(ex) == ("n=7 → result 49\ncomputing 7\n", 1) and ex.result == 49 and ex.error is None


def test_a_broken_default_still_fails_the_notebook_cell():
    with pytest.raises(ValueError, match="not allowed here"):
        Explorer(picky, fragile_draw, n=widgets.IntSlider(4, 1, 10))
