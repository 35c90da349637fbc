"""Write each chapter's run-time label from measured times, or check the labels against them.

    python tools/time_labels.py            # rewrite the labels from notebooks/timings.json
    python tools/time_labels.py --check    # exit 1 if a label is missing or off by more than 2x

``notebooks/timings.json`` is written by ``tools/render_course.py`` (``make site PROFILE=...``),
one entry per profile it ran, so the labels come from a measured run, never from a guess.
The label is one line of the chapter's first markdown cell::

    **Run time** (2 CPU cores, measured by `make site`): smoke ≈ 40 s · cpu ≈ 2.5 min

The Chinese edition (``notebooks/zh/``) gets the same label in Chinese (``**运行时间**（2 个 CPU 核心，
由 `make site` 测得）：…``). Where its cell was translated from the English cell as it was before,
the new label keeps it up to date: its recorded hash (tools/nbzh.py) becomes the new English cell's,
since the label is all that changed. A cell that was already stale stays stale.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = ROOT / "notebooks" / "timings.json"
LABEL = re.compile(r"^\*\*Run time\*\*.*$", re.MULTILINE)
ZH_LABEL = re.compile(r"^\*\*运行时间\*\*.*$", re.MULTILINE)
PART = re.compile(r"(smoke|cpu|gpu) ≈ ([\d.]+) (s|min)")
ORDER = ("smoke", "cpu", "gpu")


def human(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _times(name: str, timings: dict) -> str | None:
    """"smoke ≈ 40 s · cpu ≈ 2.5 min": the measured times of notebook ``name`` (None: none measured)."""
    parts = [f"{profile} ≈ {human(timings[profile][name])}" for profile in ORDER
             if name in timings.get(profile, {})]
    return " · ".join(parts) if parts else None


def label_for(name: str, timings: dict) -> str | None:
    times = _times(name, timings)
    if times is None:
        return None
    where = timings.get("hardware", "2 CPU cores")
    return f"**Run time** ({where}, measured by `make site`): {times}"


def zh_label_for(name: str, timings: dict) -> str | None:
    """The Chinese edition's label: the same numbers as :func:`label_for`."""
    times = _times(name, timings)
    if times is None:
        return None
    where = re.sub(r"^(\d+) CPU cores?$", r"\1 个 CPU 核心", timings.get("hardware", "2 CPU cores"))
    return f"**运行时间**（{where}，由 `make site` 测得）：{times}"


def _relabel_zh(path: Path, cell_id: str, old_english: str, new_english: str, label: str) -> bool:
    """Put ``label`` in the Chinese edition's copy of cell ``cell_id``; re-record its hash if it was up to date."""
    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    import nbzh

    target = nbzh.zh_path(path)
    if not target.is_file():
        return False
    nb = nbformat.read(target, as_version=4)
    cell = next((c for c in nb.cells if c.get("id") == cell_id and c.cell_type == "markdown"), None)
    if cell is None or not ZH_LABEL.search(cell.source):
        return False
    fresh = nbzh.translates(cell, old_english)
    source = ZH_LABEL.sub(label, cell.source)
    if source == cell.source and not fresh:
        return False
    cell.source = source
    if fresh:
        nbzh.record_translation(cell, new_english)
    nbformat.write(nb, target)
    return True


def read_label(nb) -> dict[str, float]:
    """{profile: seconds} from a notebook's label (empty if it has none)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = LABEL.search(cell.source)
            if match:
                return {p: float(v) * (60 if unit == "min" else 1) for p, v, unit in PART.findall(match.group(0))}
            return {}
    return {}


def stale(notebooks: list[Path], timings: dict, factor: float = 2.0) -> list[str]:
    """Problems: a notebook without a label, or a labelled time off by more than ``factor``."""
    problems = []
    for path in notebooks:
        labelled = read_label(nbformat.read(path, as_version=4))
        if not labelled:
            problems.append(f"{path.name}: no **Run time** label in its first markdown cell")
        for profile, measured in ((p, timings.get(p, {}).get(path.name)) for p in ORDER):
            if measured is None:
                if profile in ("smoke", "cpu"):
                    problems.append(f"{path.name}: no measured {profile} time in {TIMINGS.name}; run make site PROFILE={profile}")
                continue
            said = labelled.get(profile)
            if said is None or not (measured / factor <= said <= measured * factor):
                problems.append(f"{path.name}: label says {profile} {said} s, measured {measured:.0f} s")
    return problems


def write_labels(notebooks: list[Path], timings: dict) -> int:
    changed = 0
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        label = label_for(path.name, timings)
        cell = next((c for c in nb.cells if c.cell_type == "markdown"), None)
        if label is None or cell is None:
            continue
        source = LABEL.sub(label, cell.source) if LABEL.search(cell.source) else cell.source.rstrip() + "\n\n" + label
        if source != cell.source:
            old, cell.source = cell.source, source
            nbformat.write(nb, path)
            changed += 1
            _relabel_zh(path, cell.get("id"), old, source, zh_label_for(path.name, timings))
    return changed


def load_timings() -> dict:
    return json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    timings = load_timings()
    if args.check:
        problems = stale(notebooks, timings)
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    print(f"updated {write_labels(notebooks, timings)} label(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
