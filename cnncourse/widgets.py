"""The widget pattern every chapter follows: a pure compute function + a thin ipywidgets wrapper.

    compute(**control_values) -> result      # tensors or a small dataclass; tested directly
    draw(result) -> matplotlib Figure        # thin
    Explorer(compute, draw, kernel=IntSlider(...), ...)   # re-computes and re-draws on change

A draw function may come with ``update(fig, result) -> moving parts`` (passed as ``update=``,
or carried as ``draw.update``): it changes a figure that ``draw`` made to show another result
and returns the artists it changed (an Axes stands for everything in it), or None when it
changed more than it can name. The widget then draws its figure once and, at every move,
updates it and re-renders only the moving parts over a cached rendering of the rest (the
surface, the axes whose limits stay, the legend), instead of building and rendering a whole
new figure: most of an update's time went to axes, ticks and text that did not change.

Run the compute function once as a plain cell before wrapping it (STYLE.md). Tests drive
an Explorer without a browser: set ``explorer.controls["kernel"].value = 5`` and assert
on ``explorer.result``, ``explorer.error`` and ``explorer.output.outputs`` (what the widget shows).

Taught in notebooks/01_introduction.ipynb.
"""
from __future__ import annotations

import base64
import contextlib
import io
import time
from typing import Any, Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

__all__ = ["Explorer", "update_mismatches"]

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

    ``update(fig, result)`` (default: ``draw.update`` where ``draw`` has one) must leave ``fig``
    looking as ``draw(result)`` would and return the artists it changed, or None to have the
    whole figure rendered anew; the moving parts are drawn over the rest, in zorder (so no
    other artist may cover them). ``figure`` is the kept figure; a failed update drops it, and
    the next move draws a new one.
    """

    def __init__(
        self,
        compute: Callable[..., Any],
        draw: Callable[[Any], Any],
        summary: Callable[[Any], str] | None = None,
        title: str | None = None,
        update: Callable[[Any, Any], Any] | None = None,
        **controls: widgets.ValueWidget,
    ):
        if not controls:
            raise ValueError("Explorer needs at least one control, e.g. kernel=IntSlider(3, 1, 7)")
        for name, control in controls.items():
            if not hasattr(control, "value"):
                raise TypeError(f"Explorer control {name!r} must be an ipywidgets control with a .value")
            control.observe(self._on_change, names="value")
        self.compute, self.draw, self.summary = compute, draw, summary
        self.update = update if update is not None else getattr(draw, "update", None)
        self.figure: Any = None  # with ``update``: the figure kept and updated between moves
        self._moving: Any = None  # what the last update changed (None: the whole figure)
        self._background: tuple | None = None  # (the moving parts, a rendering of the rest)
        self.controls = controls
        self.output = widgets.Output()
        header = [widgets.HTML(f"<b>{title}</b>")] if title else []
        self.widget = widgets.VBox(header + [widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")), self.output])
        self.widget.add_class("cnncourse-explorer")
        self.result: Any = None
        self.error: str | None = None  # the one line shown in place of the figure when an update failed
        self.seconds = 0.0
        self.timings: dict[str, float] = {}
        self.refresh()

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self, raise_errors: bool = True) -> Any:
        """Compute with the current values and redraw into the widget's output; returns the result.

        compute and draw run for the output: what they print appears above the figure, and an
        exception replaces line and figure with its one line (``error``; ``result`` becomes None),
        so the old figure never stands next to the new values. The next good value redraws.
        Moving a control never raises (the widget shows the error); a direct call re-raises
        after showing it, so a notebook cell with a broken default fails visibly.
        """
        start = time.perf_counter()
        computed = drawn = start
        printed = io.StringIO()
        figures_before = set(plt.get_fignums())
        try:
            with contextlib.redirect_stdout(printed):
                result = self.compute(**self.values())
                computed = time.perf_counter()
                with plt.rc_context(_FAST):
                    fig = self._drawn(result)
                    drawn = time.perf_counter()
                    png = self._render(fig) if fig is not None else None
        except Exception as err:  # noqa: BLE001 - any failure is shown in the widget
            for number in set(plt.get_fignums()) - figures_before:
                plt.close(number)  # a half-drawn figure
            self.result = None
            self.error = f"✗ {self._values_text()}: {type(err).__name__}: {_first_line(err)}"
            self.output.outputs = _stdout(printed.getvalue() + self.error + "\n")
            self.seconds = time.perf_counter() - start
            self.timings = {}
            if raise_errors:
                raise
            return None
        if fig is not None:
            plt.close(fig)
        self.result, self.error = result, None
        outputs = _stdout(f"{self.describe(result)}\n{printed.getvalue()}")
        if png is not None:
            outputs += ({"output_type": "display_data", "metadata": {},
                         "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<Figure>"}},)
        self.output.outputs = outputs  # one assignment: the frontend swaps line and figure at once
        end = time.perf_counter()
        self.seconds = end - start
        self.timings = {"compute": computed - start, "draw": drawn - computed, "render": end - drawn}
        return result

    def _drawn(self, result: Any):
        """``result``'s figure: the kept one, updated, where there is one; else a new one from ``draw``."""
        self._moving = None
        if self.figure is not None:
            fig, self.figure = self.figure, None  # dropped if the update fails
            moving = self.update(fig, result)
            self.figure = fig
            if moving is None:
                self._background = None  # the rest changed too
            else:
                self._moving = tuple(moving)
            return fig
        self._background = None
        fig = self.draw(result)
        if self.update is not None and fig is not None:
            self.figure = fig
        return fig

    def _render(self, fig) -> bytes:
        """The figure as PNG: all of it, or after an update that named its moving parts, those
        parts drawn over a rendering of the rest (made once, and again when the parts differ)."""
        if self._moving is None or fig is not self.figure:
            return _png(fig)
        canvas = _agg_canvas(fig)
        moving = sorted(self._moving, key=lambda artist: artist.get_zorder())
        if self._background is None or self._background[0] != self._moving:
            visible = [artist.get_visible() for artist in moving]
            for artist in moving:
                artist.set_visible(False)
            try:
                canvas.draw()
            finally:
                for artist, shown in zip(moving, visible):
                    artist.set_visible(shown)
            self._background = (self._moving, canvas.copy_from_bbox(fig.bbox))
        canvas.restore_region(self._background[1])
        renderer = canvas.get_renderer()
        for artist in moving:
            artist.draw(renderer)
        return _encode(canvas)

    def _values_text(self) -> str:
        return ", ".join(f"{name}={_short(value)}" for name, value in self.values().items())

    def describe(self, result: Any) -> str:
        """The one line printed above the figure: control values, then the summary."""
        values = self._values_text()
        return f"{values} → {self.summary(result)}" if self.summary is not None else values

    def _on_change(self, _change) -> None:
        self.refresh(raise_errors=False)  # an exception in a traitlets callback would vanish into the kernel log

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


def _stdout(text: str) -> tuple[dict, ...]:
    return ({"output_type": "stream", "name": "stdout", "text": text},)


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else "(no message)"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _png(fig) -> bytes:
    """The figure as PNG bytes, rendered once at its own size and dpi.

    The inline backend's ``bbox_inches="tight"`` renders every figure twice (once to find the
    bounding box); widgets lay their figures out themselves, so one pass is enough and halves
    the redraw time.
    """
    canvas = _agg_canvas(fig)
    canvas.draw()
    return _encode(canvas)


def _agg_canvas(fig) -> FigureCanvasAgg:
    """The figure's Agg canvas, attached once: a closed figure would otherwise get a new canvas
    and renderer per PNG, so a kept figure could not reuse the measured sizes of its texts."""
    return fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)


def _encode(canvas: FigureCanvasAgg) -> bytes:
    """What the canvas last rendered, as PNG bytes: RGB where it is opaque everywhere (a quarter
    fewer bytes to compress), at zlib's fastest level (half the time of the default for about
    15 % more bytes)."""
    rgba = np.asarray(canvas.buffer_rgba())
    image = Image.fromarray(rgba)
    if rgba[..., 3].min() == 255:
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def update_mismatches(draw: Callable[[Any], Any], results: Sequence[Any],
                      update: Callable[[Any, Any], Any] | None = None) -> list[int]:
    """Where an ``update`` breaks its promise: the positions in ``results`` (two or more) at which
    a widget that draws ``results[0]`` and then moves through the rest, updating its figure,
    shows other pixels than ``draw(result)`` rendered anew. ``[]``: the update is faithful.
    ``update`` defaults to ``draw.update``, as in :class:`Explorer`.
    """
    if len(results) < 2:
        raise ValueError("update_mismatches needs two or more results: the first is drawn, the others updated")
    explorer = Explorer(lambda i: results[i], draw, update=update, i=widgets.IntSlider(0, 0, len(results) - 1))
    if explorer.update is None:
        raise ValueError(f"{getattr(draw, '__name__', draw)!r} has no update: pass update= or set draw.update")
    mismatches = []
    for i in range(len(results)):
        if i:
            explorer.controls["i"].value = i
        shown = next(o for o in explorer.output.outputs if "image/png" in o.get("data", {}))["data"]["image/png"]
        with plt.rc_context(_FAST):
            fig = draw(results[i])
            fresh = _png(fig)
            plt.close(fig)
        if not np.array_equal(_pixels(base64.b64decode(shown)), _pixels(fresh)):
            mismatches.append(i)
    return mismatches


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
