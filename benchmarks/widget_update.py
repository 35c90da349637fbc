"""How long one widget update takes (compute + redraw + PNG), in each chapter's real kernel.

    python benchmarks/widget_update.py [notebooks/02_convolution.ipynb ...]

For every chapter with an ``Explorer``, runs the notebook (profile ``smoke``) up to the cell
that builds it, then moves its first control through 12 values in the same kernel and records
``explorer.seconds`` (the compute function, the draw function and the inline backend's PNG
rendering, all inside the update). Prints a table and, last,
``widget_update: <worst chapter median> ms (target <= 150 ms)``.
"""
from __future__ import annotations

import json
import logging
import os
import statistics
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
UPDATES = 12
MOVE = f"""
import json as _json
_control = next(iter(explorer.controls.values()))
if hasattr(_control, "options") and _control.options:
    _labels = list(_control.options)
    _values = [o[1] if isinstance(o, tuple) else o for o in _labels]
else:
    _lo, _hi = _control.min, _control.max
    _values = [_lo + (_hi - _lo) * k / {UPDATES} for k in range({UPDATES} + 1)]
    _values = [type(_control.value)(v) for v in _values]
_seconds = []
for _v in (_values * {UPDATES})[:{UPDATES} + 1]:
    if _v == _control.value:
        continue
    _control.value = _v
    _seconds.append([explorer.seconds, explorer.timings["compute"], explorer.timings["draw"], explorer.timings["render"]])
print("WIDGET_TIMES " + _json.dumps(_seconds[:{UPDATES}]))
"""


def time_widget(path: Path) -> list[list[float]]:
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    last = max(i for i, c in enumerate(cells) if c.cell_type == "code" and "Explorer(" in c.source)
    nb.cells = cells[: last + 1] + [nbformat.v4.new_code_cell(MOVE)]
    os.environ["CNNCOURSE_PROFILE"] = "smoke"
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    for output in nb.cells[-1].outputs:
        text = output.get("text", "")
        if "WIDGET_TIMES" in text:
            return json.loads(text.split("WIDGET_TIMES", 1)[1].strip().splitlines()[0])
    raise RuntimeError(f"{path.name}: the timing cell printed nothing")


def main(argv: list[str]) -> int:
    logging.getLogger("tornado").setLevel(logging.CRITICAL)  # kernel shutdown chatter, not results
    paths = [Path(a) for a in argv] or sorted(
        p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if "Explorer(" in p.read_text())
    medians = {}
    print(f"{'chapter':<28}{'median ms':>10}{'max ms':>9}{'compute':>9}{'draw':>7}{'render':>8}  updates")
    for path in paths:
        rows = time_widget(path)
        seconds = [row[0] for row in rows]
        medians[path.name] = statistics.median(seconds) * 1000
        parts = [statistics.median(row[k] for row in rows) * 1000 for k in (1, 2, 3)]
        print(f"{path.stem:<28}{medians[path.name]:>10.0f}{max(seconds) * 1000:>9.0f}"
              f"{parts[0]:>9.0f}{parts[1]:>7.0f}{parts[2]:>8.0f}  {len(seconds)}", flush=True)
    worst = max(medians, key=medians.get)
    print(f"widget_update: {medians[worst]:.0f} ms median in the slowest chapter, {worst} (target <= 150 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
