"""Every chapter that keeps a claims ledger records each claim id it owns exactly once (static check)."""
import json
import re
from pathlib import Path

import pytest

from cnncourse import claims

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Chapters whose evidence has been rebuilt on cnncourse.stats and the ledger (issues 11 and 12: all twelve).
WITH_LEDGER = {f"{n:02d}" for n in range(1, 13)}  # every chapter


def _code(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_each_owned_claim_is_recorded_once(path):
    chapter = path.stem[:2]
    code = _code(path)
    if chapter not in WITH_LEDGER and "claims.Ledger(" not in code:
        pytest.skip(f"{path.stem} has no claims ledger yet")
    assert f'claims.Ledger("{path.stem}"' in code, f"{path.name} must open claims.Ledger(\"{path.stem}\", P, ...)"
    recorded = re.findall(r'\.record\(\s*["\']([a-z]+\.[a-z0-9-]+)["\']', code)
    owned = [c.id for c in claims.claims_of_chapter(chapter)]
    missing = sorted(set(owned) - set(recorded))
    twice = sorted({cid for cid in recorded if recorded.count(cid) > 1})
    foreign = sorted(set(recorded) - set(owned))
    assert not missing, f"{path.name} never records {missing}"
    assert not twice, f"{path.name} records {twice} more than once (record each claim in the one cell that measures it)"
    assert not foreign, f"{path.name} records claims of other chapters: {foreign}"
    assert "ledger.table()" in code, f"{path.name} should end its summary with print(ledger.table())"
