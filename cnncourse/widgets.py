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
from IPython.display import clear_output, display

__all__ = ["Explorer"]


class Explorer:
    """Controls that re-run ``compute`` and re-draw ``draw(result)`` whenever a value changes.

    Above the figure one line shows the controls' values and, with ``summary(result) -> str``,
    what they gave (e.g. the output shape), so the text changes with every move and reads
    the same in a static export. ``result`` holds the latest computed value and ``seconds``
    how long the last compute + draw took. The box carries the CSS class
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
        self.widget = widgets.VBox(header + [widgets.HBox(list(controls.values())), self.output])
        self.widget.add_class("cnncourse-explorer")
        self.result: Any = None
        self.seconds = 0.0
        self.refresh()

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> Any:
        """Compute with the current values and redraw; returns the result."""
        start = time.perf_counter()
        result = self.compute(**self.values())
        self.result = result
        with self.output:
            clear_output(wait=True)
            print(self.describe(result))
            fig = self.draw(result)
            if fig is not None:
                display(fig)
                plt.close(fig)
        self.seconds = time.perf_counter() - start
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
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
        plt.close(fig)
        return {
            "application/vnd.jupyter.widget-view+json": {
                "model_id": self.widget.model_id, "version_major": 2, "version_minor": 0},
            "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "text/plain": f"{self.describe(self.result)} (interactive widget; static view shown)",
        }

    def _ipython_display_(self) -> None:
        display(self.mimebundle(), raw=True)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
