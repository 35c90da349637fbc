"""Render the whole course: execute every notebook with papermill, write HTML pages and an index.

    python tools/render_course.py --profile cpu            # all of notebooks/ into site/
    python tools/render_course.py --profile smoke notebooks/01_introduction.ipynb -p EPOCHS 3

Each chapter is executed in the chosen profile (its ``parameters`` cell gets ``PROFILE`` and
any ``-p NAME VALUE``), saved executed (with widget state) under ``site/executed/``, converted
to ``site/NN_name.html``, and timed. ``site/index.html`` links the chapters with their run
times and the key numbers each measured (``cnncourse.report.key_numbers``);
``site/timings.json`` keeps the times for the chapters' time labels. Each chapter's claims ledger
(``outputs/claims/<stem>.json``, written by ``cnncourse.claims.Ledger`` as it runs) is gathered into
``site/claims.json`` (every claim id of claims.md, with this run's verdict or ``null``) and a table
on the index page.

The Chinese edition (``notebooks/zh/``, see ``tools/nbzh.py``) is rendered too when it has chapters:
``site/zh/NN_name.html`` and ``site/zh/index.html``, in Chinese words, each page linked to its
English page and back (``--editions en`` renders the English alone). It runs before the English
one, so ``outputs/claims/`` ends with the English ledgers; ``site/claims.json``, ``site/timings.json``
and ``notebooks/timings.json`` come from the English run only.
"""
from __future__ import annotations

import argparse
import ast
import html
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnncourse import claims as claims_ledger  # noqa: E402
from cnncourse.i18n import message  # noqa: E402
from cnncourse.report import KEY_NUMBERS_MIME, format_value  # noqa: E402
from nbzh import EDITION  # noqa: E402  (the Chinese edition's folder under notebooks/, and here under site/)


def chapter_title(nb) -> str:
    """The first markdown heading of a notebook."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return "untitled"


def key_numbers_of(nb) -> dict:
    """All key numbers a notebook's outputs declared, in order."""
    found: dict = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if KEY_NUMBERS_MIME in data:
                found.update(data[KEY_NUMBERS_MIME].get("values", {}))
    return found


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def render(notebooks: list[Path], out: Path, profile: str, parameters: dict, timeout: int = 1800) -> list[dict]:
    """Execute and convert each notebook; return one record per chapter."""
    import papermill
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    (out / "executed").mkdir(exist_ok=True)
    os.environ["CNNCOURSE_PROFILE"] = profile  # also for anything a kernel starts
    exporter = HTMLExporter(template_name="lab")
    records = []
    for path in notebooks:
        executed = out / "executed" / path.name
        ledger = claims_ledger.ledger_path(path.stem)
        if ledger.exists():
            ledger.unlink()  # a chapter that fails early must not report an older run's verdicts
        start = time.perf_counter()
        error = None
        try:
            papermill.execute_notebook(
                str(path), str(executed), parameters={"PROFILE": profile, **parameters},
                cwd=str(path.parent), progress_bar=False, execution_timeout=timeout,
            )
        except Exception as err:  # noqa: BLE001 - one failing chapter must not hide the others
            error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
        seconds = time.perf_counter() - start
        nb = nbformat.read(executed, as_version=4) if executed.exists() else nbformat.read(path, as_version=4)
        body, _ = exporter.from_notebook_node(nb)
        page = out / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        recorded = json.loads(ledger.read_text(encoding="utf-8")) if ledger.exists() else []
        record = {"notebook": path.name, "title": chapter_title(nb), "page": page.name, "seconds": round(seconds, 1),
                  "key_numbers": key_numbers_of(nb), "error": error, "claims": recorded}
        records.append(record)
        status = "FAILED " + error if error else "ok"
        print(f"{path.name}: {seconds:6.1f} s  {status}", flush=True)
    return records


def gather_claims(records: list[dict]) -> list[dict]:
    """Every claim of claims.md with the verdict this run recorded for it (``None`` where no chapter did)."""
    measured = {c["id"]: c for r in records for c in r.get("claims", [])}
    rows = []
    for claim in claims_ledger.catalog().values():
        got = measured.get(claim.id, {})
        rows.append({"id": claim.id, "chapter": claim.chapter, "article": claim.article, "claim": claim.english,
                     "verdict": got.get("verdict"), "expected": got.get("expected"), "summary": got.get("summary"),
                     "reason": got.get("reason"), "profile": got.get("profile"), "seed": got.get("seed"),
                     "notebook": got.get("notebook"), "numbers": got.get("numbers")})
    return rows


_VERDICT_COLOUR = {"supported": "#060", "refuted": "#b00", "undecided": "#a60", None: "#888"}
LANG = {"en": "en", EDITION: "zh-Hans"}  # <html lang=...>


def edition_of(path: Path) -> str:
    """``"zh"`` for a notebook in a ``zh/`` folder, else ``"en"``."""
    return EDITION if Path(path).parent.name == EDITION else "en"


def _claims_table(rows: list[dict], lang: str = "en") -> str:
    def say(key, **fields):
        return message(f"site.{key}", lang, **fields)

    lines = []
    for r in rows:
        verdict = r["verdict"] or say("not_measured")
        flag = "" if r["verdict"] is None or r["verdict"] == r["expected"] or r["profile"] == "smoke" else \
            f' <b style="color:#b00">{html.escape(say("text_says", expected=r["expected"]))}</b>'
        lines.append(f'<tr><td><code>{html.escape(r["id"])}</code><br>{html.escape(r["claim"])}</td>'
                     f'<td>{html.escape(r["article"])}</td><td>{r["chapter"]}</td>'
                     f'<td style="color:{_VERDICT_COLOUR.get(r["verdict"], "#888")}">{html.escape(verdict)}{flag}</td>'
                     f'<td>{html.escape(r["summary"] or "")}</td></tr>')
    heads = "".join(f"<th>{html.escape(say(k))}</th>" for k in ("claim", "article", "chapter", "verdict", "summary"))
    return (f"<h2>{html.escape(say('claims_heading'))}</h2>\n<table><tr>{heads}</tr>\n" + "\n".join(lines)
            + "\n</table>")


def _switch(href: str, lang: str) -> str:
    """The link to the other edition's page, named in that edition's language."""
    return (f'<p class="cnncourse-edition" style="text-align:right;margin:.5em 1em">'
            f'<a href="{html.escape(href)}" hreflang="{LANG["en" if lang == EDITION else EDITION]}">'
            f'{html.escape(message("site.other_edition", lang))}</a></p>')


def link_editions(english: list[dict], chinese: list[dict], out: Path) -> int:
    """Put a language switch at the top of each chapter page that exists in both editions; returns how many pairs."""
    pages = {r["notebook"]: r["page"] for r in chinese}
    pairs = 0
    for r in english:
        if r["notebook"] not in pages:
            continue
        en_page, zh_page = out / r["page"], out / EDITION / pages[r["notebook"]]
        for page, href, lang in ((en_page, f"{EDITION}/{pages[r['notebook']]}", "en"), (zh_page, f"../{r['page']}", EDITION)):
            text = page.read_text(encoding="utf-8")
            if 'class="cnncourse-edition"' not in text:
                text = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + _switch(href, lang), text, count=1)
                page.write_text(text, encoding="utf-8")
        pairs += 1
    return pairs


def write_index(records: list[dict], out: Path, profile: str, parameters: dict, edition: str = "en",
                other: str | None = None) -> Path:
    """site/index.html, site/claims.json and site/timings.json; for the Chinese edition (``edition="zh"``,
    ``out`` = site/zh) its index.html alone, in Chinese words. ``other``: the other edition's index, linked."""
    lang = "zh" if edition == EDITION else "en"

    def say(key, **fields):
        return message(f"site.{key}", lang, **fields)

    rows = []
    for r in records:
        numbers = "<br>".join(f"{html.escape(k)} = {html.escape(format_value(v))}" for k, v in r["key_numbers"].items())
        status = f'<span style="color:#b00">{html.escape(say("failed", error=r["error"]))}</span>' if r["error"] else numbers
        rows.append(f'<tr><td><a href="{html.escape(r["page"])}">{html.escape(r["title"])}</a></td>'
                    f'<td style="text-align:right">{r["seconds"]:.0f} s</td><td>{status}</td></tr>')
    total = sum(r["seconds"] for r in records)
    import platform

    import torch

    hardware = f"{platform.machine()}, {os.cpu_count()} cores" + (
        f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    params = ", ".join(f"{k}={v!r}" for k, v in parameters.items()) or "none"
    claim_rows = gather_claims(records)
    if edition == "en":
        (out / "claims.json").write_text(json.dumps(claim_rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    executed = say("executed", profile=html.escape(profile), hardware=html.escape(hardware), parameters=html.escape(params),
                   minutes=f"{total / 60:.1f}")
    heads = "".join(f"<th>{html.escape(say(k))}</th>" for k in ("chapter", "run_time", "key_numbers"))
    page = f"""<!doctype html><html lang="{LANG[edition]}"><head><meta charset="utf-8"><title>cnncourse</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:.3em .8em;border-bottom:1px solid #ddd;vertical-align:top}}</style>
</head><body>{_switch(other, lang) if other else ""}<h1>{html.escape(say("title"))}</h1>
<p>{executed}</p>
<table><tr>{heads}</tr>
{''.join(rows)}
</table>
{_claims_table(claim_rows, lang)}
</body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    if edition != "en":
        return index
    (out / "timings.json").write_text(json.dumps(
        {"profile": profile, "hardware": hardware, "seconds": {r["notebook"]: r["seconds"] for r in records}}, indent=1) + "\n")
    return index


def record_timings(records: list[dict], profile: str, path: Path = ROOT / "notebooks" / "timings.json") -> None:
    """Merge this run's chapter times into notebooks/timings.json (read by tools/time_labels.py)."""
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings.setdefault(profile, {}).update({r["notebook"]: r["seconds"] for r in records if not r["error"]})
    timings["hardware"] = f"{os.cpu_count()} CPU cores" if profile != "gpu" else timings.get("hardware", "")
    path.write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
    print(f"recorded {profile} times in {path}; update the chapters' labels with: python tools/time_labels.py")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument("--profile", default=os.environ.get("CNNCOURSE_PROFILE", "cpu"), choices=["smoke", "cpu", "gpu"])
    parser.add_argument("--out", type=Path, default=ROOT / "site")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a papermill parameter for every notebook, e.g. -p EPOCHS 3")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--editions", choices=["all", "en", EDITION], default="all",
                        help=f"with no notebooks given: all (notebooks/ and notebooks/{EDITION}/, default), or one edition")
    args = parser.parse_args(argv)
    if args.notebooks:
        notebooks = args.notebooks
    else:
        notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) if args.editions != EDITION else []
        if args.editions != "en":
            notebooks += sorted((ROOT / "notebooks" / EDITION).glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        print(f"render_course: no such notebook(s): {', '.join(missing)}", file=sys.stderr)
        return 2
    parameters = {name: _parse_value(value) for name, value in args.parameter}
    english = [p.resolve() for p in notebooks if edition_of(p) == "en"]
    chinese = [p.resolve() for p in notebooks if edition_of(p) == EDITION]
    # the Chinese edition first: its chapters write the same ledgers, and outputs/claims/ must end with the English ones
    zh_records = render(chinese, args.out / EDITION, args.profile, parameters, args.timeout) if chinese else []
    records = render(english, args.out, args.profile, parameters, args.timeout) if english else []
    if zh_records:
        write_index(zh_records, args.out / EDITION, args.profile, parameters, edition=EDITION,
                    other="../index.html" if records else None)
        link_editions(records, zh_records, args.out)
    index = write_index(records, args.out, args.profile, parameters, other=f"{EDITION}/index.html" if zh_records else None) \
        if records or not zh_records else args.out / EDITION / "index.html"
    if records and not parameters and all(p.parent == ROOT / "notebooks" for p in english):
        record_timings(records, args.profile)
    failed = [r["notebook"] for r in records if r["error"]] + [f"{EDITION}/{r['notebook']}" for r in zh_records if r["error"]]
    everything = records + zh_records
    print(f"wrote {index} ({len(everything)} chapters, {sum(r['seconds'] for r in everything) / 60:.1f} min)")
    if failed:
        print(f"render_course: {len(failed)} chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
