"""The claims ledger: ids from claims.md, one file per chapter under the course home, warnings on mismatch."""
import json
from pathlib import Path

import numpy as np
import pytest

from cnncourse import claims, runtime, stats

SHARED_CLAIMS = Path(__file__).resolve().parents[2] / "shared" / "CLAIMS.md"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNCOURSE_HOME", str(tmp_path))
    return tmp_path


def test_catalog_has_every_chapter_and_unique_ids():
    cat = claims.catalog()
    assert len(cat) >= 70
    assert {c.chapter for c in cat.values()} == {f"{n:02d}" for n in range(1, 13)}
    assert cat["pool.robustness"].chapter == "04"
    assert "池化" in cat["pool.robustness"].article


@pytest.mark.skipif(not SHARED_CLAIMS.is_file(), reason="the team's shared/CLAIMS.md is not beside this checkout")
def test_packaged_catalog_is_the_shared_one():
    packaged = claims._parse((Path(claims.__file__).parent / "claims.md").read_text(encoding="utf-8"))
    assert packaged == claims._parse(SHARED_CLAIMS.read_text(encoding="utf-8"))


def test_ledger_writes_under_the_course_home_and_replaces_rerecorded_ids(home, capsys):
    ledger = claims.Ledger("04_pooling", runtime.profile("cpu"), seed=1)
    assert ledger.path == home / "outputs" / "claims" / "04_pooling.json"
    v = stats.decide("max vs none", stats.paired([0.9, 0.91, 0.92, 0.9, 0.93], [0.8, 0.82, 0.8, 0.81, 0.8]), show=False)
    ledger.record("pool.robustness", v, expected="supported", shift=np.int64(2))
    ledger.record("pool.robustness", v, expected="supported")
    saved = json.loads(ledger.path.read_text(encoding="utf-8"))
    assert len(saved) == 1
    entry = saved[0]
    assert entry["id"] == "pool.robustness" and entry["verdict"] == "supported" and entry["expected"] == "supported"
    assert entry["profile"] == "cpu" and entry["seed"] == 1 and entry["summary"] == v.summary
    assert entry["numbers"]["wins"] == 5
    assert "as the text says" in capsys.readouterr().out
    assert claims.read_ledgers(home / "outputs" / "claims")[0]["id"] == "pool.robustness"


def test_mismatch_warns_in_cpu_but_not_in_smoke(home, capsys):
    cpu = claims.Ledger("04_pooling", "cpu")
    cpu.record("pool.max-loses-detail", "refuted", expected="supported", summary="detail kept")
    err = capsys.readouterr().err
    assert "⚠ [pool.max-loses-detail]" in err and "'refuted'" in err and "'supported'" in err
    smoke = claims.Ledger("04_pooling", "smoke")
    smoke.record("pool.max-loses-detail", "refuted", expected="supported", summary="detail kept")
    captured = capsys.readouterr()
    assert captured.err == "" and "not compared" in captured.out


def test_a_new_ledger_starts_the_file_afresh(home):
    first = claims.Ledger("04_pooling", "cpu")
    first.record("pool.robustness", "supported", expected="supported")
    second = claims.Ledger("04_pooling", "cpu")
    assert json.loads(second.path.read_text()) == []
    assert "pool.robustness" in second.missing()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(claim_id="pool.nonsense", verdict="supported", expected="supported"), KeyError, "not a claim id"),
        (dict(claim_id="conv.stride-shrinks", verdict="supported", expected="supported"), ValueError, "belongs to chapter 02"),
        (dict(claim_id="pool.robustness", verdict="yes", expected="supported"), ValueError, "verdict must be"),
        (dict(claim_id="pool.robustness", verdict="supported", expected="maybe"), ValueError, "expected must be"),
        (dict(claim_id="pool.robustness", verdict="undecided", expected="undecided"), ValueError, "needs reason"),
    ],
)
def test_record_rejects_bad_input(home, kwargs, error, match):
    ledger = claims.Ledger("04_pooling", "cpu")
    with pytest.raises(error, match=match):
        ledger.record(kwargs.pop("claim_id"), kwargs.pop("verdict"), **kwargs)


def test_ledger_needs_a_notebook_name(home):
    with pytest.raises(ValueError, match="notebook's name"):
        claims.Ledger("pooling", "cpu")


def test_table_lists_records_and_what_is_missing(home):
    ledger = claims.Ledger("04_pooling", "cpu")
    ledger.record("pool.robustness", "supported", expected="supported", summary="robust")
    table = ledger.table()
    assert "pool.robustness" in table and "robust" in table
    assert "not recorded: pool.reduces-size-widens-rf" in table
