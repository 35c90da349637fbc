"""The claims ledger: every testable claim of the article, the verdict this run measured, and what the text says.

``cnncourse/claims.md`` (a copy of the course's ``CLAIMS.md``) lists the article's claims, one id
each. A chapter opens its ledger once and records each of its claims in the cell that measures it::

    ledger = claims.Ledger("04_pooling", P)          # P: the run profile
    v = stats.decide("max pool vs no pool, 2 px shift", stats.paired(a, b), metric="test acc")
    ledger.record("pool.robustness", v, expected="supported")

``expected`` is the verdict the chapter's prose states. In the ``cpu`` and ``gpu`` profiles a
measured verdict that differs from it prints a warning in that cell (the prose is wrong for that
run); in ``smoke`` (CI: one epoch, tiny data) verdicts are recorded, not compared. Each record is
written at once to ``<course home>/outputs/claims/<notebook stem>.json``; ``make site`` gathers
those files into ``site/claims.json`` and a table on the index page.

Taught in every chapter's "evidence" sections; the rule lives in :mod:`cnncourse.stats`. The fixed
words it prints come from the message catalogue (:mod:`cnncourse.i18n`); verdict words and ids do not change.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .i18n import columns, ljust, message
from .runtime import Profile, output_dir
from .stats import VERDICTS, Verdict

__all__ = ["Claim", "catalog", "claims_of_chapter", "Ledger", "ledger_path", "read_ledgers"]


@dataclass(frozen=True)
class Claim:
    """One row of claims.md: id, owning chapter ("04"), the article's words, the claim in English."""

    id: str
    chapter: str
    article: str
    english: str


_ROW = re.compile(r"^\|\s*(?P<id>[a-z]+\.[a-z0-9-]+)\s*\|\s*(?P<chapter>\d\d)\s*\|(?P<article>.*)\|(?P<english>.*)\|\s*$")


def _parse(text: str) -> dict[str, Claim]:
    found: dict[str, Claim] = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            claim = Claim(m["id"], m["chapter"], m["article"].strip(), m["english"].strip())
            if claim.id in found:
                raise ValueError(f"claims.md lists {claim.id} twice")
            found[claim.id] = claim
    return found


_CATALOG: dict[str, Claim] | None = None


def catalog() -> dict[str, Claim]:
    """Every claim id of the course, in the order of claims.md."""
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = _parse(resources.files("cnncourse").joinpath("claims.md").read_text(encoding="utf-8"))
    return dict(_CATALOG)


def claims_of_chapter(chapter: str) -> list[Claim]:
    """The claims a chapter owns; ``chapter`` is "04" or a notebook stem like "04_pooling"."""
    number = str(chapter)[:2]
    return [c for c in catalog().values() if c.chapter == number]


def ledger_path(notebook: str) -> Path:
    """``<course home>/outputs/claims/<notebook stem>.json``."""
    return output_dir() / "claims" / f"{Path(notebook).stem}.json"


def _plain(value):
    """JSON-safe numbers: numpy and torch scalars to float/int, NaN/inf to None, containers recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return _plain(value.item())
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return str(value)


class Ledger:
    """A chapter's claims ledger. Creating it starts this run's file afresh (no stale verdicts)."""

    def __init__(self, notebook: str, profile: Profile | str, seed: int | None = None, file=None):
        stem = Path(notebook).stem
        if not re.match(r"^\d\d_", stem):
            raise ValueError(f"Ledger needs the notebook's name, like '04_pooling', got {notebook!r}")
        self.notebook = stem
        self.profile = profile.name if isinstance(profile, Profile) else str(profile)
        self.seed = seed
        self.path = ledger_path(stem)
        self.records: list[dict] = []
        self._file = file
        self._owned = {c.id for c in claims_of_chapter(stem)}
        self._save()

    @property
    def compares(self) -> bool:
        """Whether verdicts are checked against the text (not in ``smoke``, whose runs are too small)."""
        return self.profile != "smoke"

    def record(self, claim_id: str, verdict: Verdict | str, *, expected: str, summary: str | None = None,
               reason: str | None = None, **numbers) -> dict:
        """Record one claim's verdict (a :class:`stats.Verdict` or a verdict word) and what the text says."""
        known = catalog()
        if claim_id not in known:
            raise KeyError(f"{claim_id!r} is not a claim id of claims.md; known ids start with "
                           f"{sorted({k.split('.')[0] for k in known})}")
        if claim_id not in self._owned:
            raise ValueError(f"{claim_id} belongs to chapter {known[claim_id].chapter}, not to {self.notebook}")
        word = verdict.verdict if isinstance(verdict, Verdict) else str(verdict)
        for name, value in (("verdict", word), ("expected", expected)):
            if value not in VERDICTS:
                raise ValueError(f"{name} must be one of {VERDICTS}, got {value!r}")
        if summary is None:
            summary = verdict.summary if isinstance(verdict, Verdict) else word
        if word == "undecided" and expected == "undecided" and not reason:
            raise ValueError(f"{claim_id}: an undecided claim needs reason='why, and what would decide it'")
        nums = dict(verdict.numbers) if isinstance(verdict, Verdict) else {}
        nums.update(numbers)
        entry = {"id": claim_id, "verdict": word, "expected": expected, "summary": summary,
                 "profile": self.profile, "seed": self.seed, "notebook": self.notebook,
                 "chapter": known[claim_id].chapter, "numbers": _plain(nums)}
        if reason:
            entry["reason"] = reason
        self.records = [r for r in self.records if r["id"] != claim_id] + [entry]
        self._save()
        out = self._file or sys.stdout
        if not self.compares:
            print(message("claims.recorded_smoke", id=claim_id, verdict=word), file=out)
        elif word == expected:
            print(message("claims.as_text_says", id=claim_id, verdict=word), file=out)
        else:
            print(message("claims.differs", id=claim_id, verdict=word, expected=expected, summary=summary),
                  file=self._file or sys.stderr)
        return entry

    def missing(self) -> list[str]:
        """Claim ids of this chapter not recorded yet."""
        done = {r["id"] for r in self.records}
        return [c.id for c in claims_of_chapter(self.notebook) if c.id not in done]

    def table(self) -> str:
        """One line per recorded claim: id, verdict, what the text says, summary."""
        if not self.records:
            return message("claims.table_none")
        width = max(len(r["id"]) for r in self.records)
        verdict, says = (max(10, columns(message(f"claims.table_{k}"))) for k in ("verdict", "text_says"))
        lines = [f"{ljust(message('claims.table_claim'), width)}  {ljust(message('claims.table_verdict'), verdict)} "
                 f"{ljust(message('claims.table_text_says'), says)} {message('claims.table_summary')}"]
        for r in self.records:
            lines.append(f"{r['id']:<{width}}  {r['verdict']:<{verdict}} {r['expected']:<{says}} {r['summary']}")
        missing = self.missing()
        if missing:
            lines.append(message("claims.table_missing", ids=", ".join(missing)))
        return "\n".join(lines)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".json.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self.records, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        finally:
            if tmp.exists():
                tmp.unlink()


def read_ledgers(folder: str | Path | None = None) -> list[dict]:
    """Every record in ``folder`` (default ``<course home>/outputs/claims``), in claims.md order."""
    folder = Path(folder) if folder is not None else output_dir() / "claims"
    records: list[dict] = []
    for path in sorted(folder.glob("[0-9][0-9]_*.json")):
        try:
            records.extend(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"claims ledger {path} is unreadable ({err}); delete it and re-run its chapter") from err
    order = {cid: i for i, cid in enumerate(catalog())}
    return sorted(records, key=lambda r: order.get(r.get("id"), len(order)))

