"""Key numbers: the few measured values a chapter ends with, shown and machine-readable.

A chapter's last code cell calls ``key_numbers(test_accuracy=acc, ...)``: the notebook shows a
small table, and the rendered course (``tools/render_course.py``) reads the same numbers
from the output's ``application/vnd.cnncourse.key-numbers+json`` part for its index page.
"""
from __future__ import annotations

import html
import math
import numbers

from .i18n import message
__all__ = ["KEY_NUMBERS_MIME", "key_numbers", "format_value"]

KEY_NUMBERS_MIME = "application/vnd.cnncourse.key-numbers+json"


def format_value(value) -> str:
    """4 significant digits for floats, thousands separators for ints, text as is."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    value = float(value)
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def key_numbers(title: str | None = None, **values) -> dict:
    """Show ``values`` as a table titled ``title`` (default: "What we measured", in the active language)
    and return them as plain Python values."""
    title = message("report.title") if title is None else title
    if not values:
        raise ValueError("key_numbers needs at least one name=value pair")
    plain = {name: (float(v) if isinstance(v, numbers.Real) and not isinstance(v, (bool, numbers.Integral)) else v)
             for name, v in values.items()}
    for name, value in plain.items():
        if not isinstance(value, (int, float, str, bool)):
            raise TypeError(f"key_numbers: {name} must be a number or text, got {type(value).__name__}; use .item() for tensors")
    width = max(map(len, plain))
    text = "\n".join([title] + [f"  {name:<{width}} : {format_value(v)}" for name, v in plain.items()])
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(format_value(v))}</td></tr>" for n, v in plain.items())
    bundle = {
        "text/plain": text,
        "text/html": f"<b>{html.escape(title)}</b><table>{rows}</table>",
        KEY_NUMBERS_MIME: {"title": title, "values": plain},
    }
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(bundle, raw=True)
    else:
        print(text)
    return plain
