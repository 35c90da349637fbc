"""The widget pattern every chapter follows: a pure compute function + a thin ipywidgets wrapper.

    compute(**control_values) -> result      # tensors or a small dataclass; tested directly
    draw(result) -> matplotlib Figure        # thin
    Explorer(compute, draw, kernel=IntSlider(...), ...)   # re-computes and re-draws on change

Run the compute function once as a plain cell before wrapping it (STYLE.md). Tests drive
an Explorer without a browser: set ``explorer.controls["kernel"].value = 5`` and assert
on ``explorer.result``.

Taught in notebooks/01_introduction.ipynb.
"""
from __future__ import annotations

import base64
import io
import time
from typing import Any, Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import Image, clear_output, display

__all__ = ["Explorer"]

# A fixed title height: matplotlib otherwise measures every tick label to place each title,
# about a tenth of a redraw; the titles land where they would anyway.
_FAST = {"axes.titley": 1.0}


class Explorer:
    """Controls that re-run ``compute`` and re-draw ``draw(result)`` whenever a value changes.

    Above the figure one line shows the controls' values and, with ``summary(result) -> str``,
    what they gave (e.g. the output shape), so the text changes with every move and reads
    the same in a static export. ``result`` holds the latest computed value, ``seconds``
    how long the last update took and ``timings`` its parts (compute, draw, render to PNG). The box carries the CSS class
    ``cnncourse-explorer`` (the browser tests find widgets by it).
    """

    def __init__(
        self,
        compute: Callable[..., Any],
        draw: Callable[[Any], Any],
        summary: Callable[[Any], str] | None = None,
        title: str | None = None,
        **controls: widgets.ValueWidget,
    ):
        if not controls:
            raise ValueError("Explorer needs at least one control, e.g. kernel=IntSlider(3, 1, 7)")
        for name, control in controls.items():
            if not hasattr(control, "value"):
                raise TypeError(f"Explorer control {name!r} must be an ipywidgets control with a .value")
            control.observe(self._on_change, names="value")
        self.compute, self.draw, self.summary = compute, draw, summary
        self.controls = controls
        self.output = widgets.Output()
        header = [widgets.HTML(f"<b>{title}</b>")] if title else []
        self.widget = widgets.VBox(header + [widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")), self.output])
        self.widget.add_class("cnncourse-explorer")
        self.result: Any = None
        self.seconds = 0.0
        self.timings: dict[str, float] = {}
        self.refresh()

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> Any:
        """Compute with the current values and redraw; returns the result."""
        start = time.perf_counter()
        result = self.compute(**self.values())
        self.result = result
        computed = drawn = time.perf_counter()
        with self.output:
            clear_output(wait=True)
            print(self.describe(result))
            with plt.rc_context(_FAST):
                fig = self.draw(result)
                drawn = time.perf_counter()
                if fig is not None:
                    display(Image(data=_png(fig)))
                    plt.close(fig)
        end = time.perf_counter()
        self.seconds = end - start
        self.timings = {"compute": computed - start, "draw": drawn - computed, "render": end - drawn}
        return result

    def describe(self, result: Any) -> str:
        """The one line printed above the figure: control values, then the summary."""
        values = ", ".join(f"{name}={_short(value)}" for name, value in self.values().items())
        return f"{values} → {self.summary(result)}" if self.summary is not None else values

    def _on_change(self, _change) -> None:
        self.refresh()

    def static_figure(self):
        """The default view as a plain figure (for exports without a live kernel)."""
        return self.draw(self.compute(**self.values()))

    def mimebundle(self) -> dict:
        """The widget view plus a static copy of the current view (PNG and text).

        Frontends with a live kernel render the widget; GitHub, nbviewer, VS Code without a
        kernel and static HTML exports fall back to the PNG, so the notebook still reads.
        """
        fig = self.static_figure()
        png = _png(fig)
        plt.close(fig)
        return {
            "application/vnd.jupyter.widget-view+json": {
                "model_id": self.widget.model_id, "version_major": 2, "version_minor": 0},
            "image/png": base64.b64encode(png).decode("ascii"),
            "text/plain": f"{self.describe(self.result)} (interactive widget; static view shown)",
        }

    def _ipython_display_(self) -> None:
        display(self.mimebundle(), raw=True)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _png(fig) -> bytes:
    """The figure as PNG bytes, rendered once at its own size and dpi.

    The inline backend's ``bbox_inches="tight"`` renders every figure twice (once to find the
    bounding box); widgets lay their figures out themselves, so one pass is enough and halves
    the redraw time.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
