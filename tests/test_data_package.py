"""Issue 17 (data and consent stages): the data package, the one id map, the public seams
that replace private reach-ins, and no underscored import across packages in these stages."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fairrec
from fairrec.errors import DataError

SRC = Path(__file__).resolve().parents[1] / "src" / "fairrec"


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["a", "b", "a", "c", "b"],
            "item_id": [1, 2, 3, 1, 1],
            "timestamp": [3, 1, 2, 5, 4],
        }
    )


def test_fairrec_ids_is_an_alias_of_fairrec_data_ids():
    import fairrec.data.ids as new
    import fairrec.ids as old

    assert old.canon_id is new.canon_id and old.canon_ids is new.canon_ids
    assert old.IdMap is new.IdMap and old.__all__ == new.__all__
    ds = fairrec.Dataset.from_pandas(_frame())
    assert isinstance(ds.user_map, new.IdMap) and isinstance(ds.item_map, old.IdMap)


def test_events_by_user_is_public_read_only_and_matches_events_of():
    ds = fairrec.Dataset.from_pandas(_frame(), time_col="timestamp")
    order, indptr = ds.events_by_user
    assert indptr.tolist() == [0, 2, 4, 5]
    for u in range(ds.n_users):
        mine = order[indptr[u] : indptr[u + 1]]
        assert mine.tolist() == np.flatnonzero(ds.users == u).tolist()  # event order
        assert mine.tolist() == ds.events_of(u).tolist()
    with pytest.raises(ValueError):
        order[0] = 3  # shared by every caller: not writable
    assert ds._by_user is ds.events_by_user  # the old private name still answers
    sub = ds.select(ds.users != 0)
    assert sub.events_by_user[1].tolist() == [0, 0, 2, 3]  # per dataset, not shared


def test_public_column_validators_name_the_column_and_values():
    from fairrec.data import parse_ratings, parse_timestamps, parse_weights

    assert parse_weights(pd.Series([1, 2]), "w").dtype == np.float32
    with pytest.raises(DataError, match=r"Column 'plays' holds 1 invalid weight.*-1"):
        parse_weights(pd.Series([1.0, -1.0]), "plays")
    with pytest.raises(DataError, match=r"Column 'stars' holds non-numeric ratings: 'x'"):
        parse_ratings(pd.Series([1, "x"]), "stars")
    ts = parse_timestamps(pd.Series(["2024-01-01T01:00:00+01:00"]), "when")
    assert ts[0] == np.datetime64("2024-01-01T00:00:00")  # naive UTC
    with pytest.raises(DataError, match=r"Column 'when' holds unparsable timestamps: 'soon'"):
        parse_timestamps(pd.Series(["soon"]), "when")
    # the deprecated private names are the same functions
    import fairrec.data as data

    assert data._timestamps is parse_timestamps and data._weights is parse_weights


def test_build_catalog_is_public_and_the_old_static_method_delegates():
    from fairrec.data import Dataset, build_catalog

    cat = pd.DataFrame({"item_id": [1, "02"], "title": ["One", "Two"], "genres": ["A|B", None]})
    out = build_catalog(cat, "item_id", np.array([1, 2], dtype=object), True)
    assert out["genres"].tolist() == [("A", "B"), ()]
    old = Dataset._build_catalog(cat, "item_id", np.array([1, 2], dtype=object), True)
    pd.testing.assert_frame_equal(out, old)
    with pytest.raises(DataError, match="not in the catalog"):
        build_catalog(cat, "item_id", np.array([3], dtype=object), True)


def test_one_canonical_form_everywhere_dataset_ledger_and_gate_agree():
    """The dataset, the ledger and the gate look ids up through fairrec.data.ids."""
    from fairrec.consent import ConsentLedger
    from fairrec.data.ids import canon_id

    ds = fairrec.Dataset.from_pandas(pd.DataFrame({"user_id": [7, 8], "item_id": [1, 2]}))
    led = ConsentLedger()
    for spelling in ("07", " 7", "７", 7, np.int64(7), "7\u200b"):
        assert ds.user_index([spelling]).tolist() == [0]
        led.grant(spelling, "training", at="2024-01-01")
        assert led.users() == [canon_id(7)] == ["7"]
    assert led.allowed_mask(ds.user_ids, "training").tolist() == [True, False]


def test_purposes_are_one_list():
    from fairrec import gate
    from fairrec.consent import PURPOSES, purposes

    assert purposes.PURPOSES is PURPOSES
    assert (purposes.PERSONALIZATION, purposes.TRAINING, purposes.STATED_INTERESTS) == PURPOSES
    # the gate's names are those of the one list (whether it imports them or not)
    assert {gate.PERSONALIZATION, gate.TRAINING, gate.STATED_INTERESTS} == set(PURPOSES)


def test_audit_log_uses_the_public_consent_keys(tmp_path):
    from fairrec.audit import AuditLog
    from fairrec.consent.keys import key_file_for, keyed_hash, read_key_file
    from fairrec.data.ids import canon_id

    log = AuditLog(tmp_path / "audit.jsonl")
    key = read_key_file(key_file_for(tmp_path / "audit.jsonl"))
    assert log.viewer_hash(" 01") == keyed_hash(key, b"fairrec:audit-viewer:", canon_id(1))
    log.record("u1", ["personalization"], ["watch_history"], at="2024-01-01T00:00:00.5Z")
    line = (tmp_path / "audit.jsonl").read_text().splitlines()[1]
    assert '"time":"2024-01-01T00:00:00.500000000+00:00"' in line and "u1" not in line


def _cross_package_private_imports(files: list[Path], root: Path = SRC) -> list[str]:
    """The rule of issue 17: a name or module starting with "_" is imported only inside its
    own package (fairrec.<pkg>); fairrec._columns / _checks / _durable are shared by all."""
    shared = {"_columns", "_checks", "_durable", "_version"}

    def pkg(mod: str) -> str:
        parts = mod.split(".")
        return parts[1] if len(parts) > 1 and (root / parts[1]).is_dir() else ""

    found = []
    for f in files:
        rel = f.relative_to(root.parent).with_suffix("")
        mod = ".".join(rel.parts[:-1] if f.name == "__init__.py" else rel.parts)
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = mod.split(".") if f.name == "__init__.py" else mod.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            parts = target.split(".")
            if parts[0] != "fairrec" or (len(parts) > 1 and parts[1] in shared):
                continue
            names = [a.name for a in node.names if not a.name.startswith("__")]
            private = any(p.startswith("_") and not p.startswith("__") for p in parts[1:])
            private = private or any(n.startswith("_") and n not in shared for n in names)
            if private and pkg(target) != pkg(mod):
                found.append(f"{mod}: from {target} import {', '.join(names)}")
    return found


def test_no_private_import_across_packages_in_the_data_and_consent_stages(tmp_path):
    ours = [
        *sorted((SRC / "data").glob("*.py")),
        *sorted((SRC / "consent").glob("*.py")),
        SRC / "ids.py",
        SRC / "audit.py",
        SRC / "cli.py",
        SRC / "_checks.py",
        SRC / "_durable.py",
    ]
    assert _cross_package_private_imports(ours) == []
    # the check can fail: the pre-issue-17 audit module imported consent's privates
    root = tmp_path / "fairrec"
    (root / "consent").mkdir(parents=True)
    bad = root / "audit.py"
    bad.write_text("from fairrec.consent import _keyed_hash\n", encoding="utf-8")
    assert _cross_package_private_imports([bad], root) == [
        "fairrec.audit: from fairrec.consent import _keyed_hash"
    ]
    bad.write_text("from fairrec.consent._ledger import ConsentLedger\n", encoding="utf-8")
    assert _cross_package_private_imports([bad], root) != []


def test_spark_consent_table_keys_data_viewers_by_the_one_canonical_form():
    """The Spark jobs' consent table joins the ledger (canonical ids) with the data's viewers:
    a data id spelled "007" is the ledger's viewer "7", not a second, unknown viewer."""
    pytest.importorskip("pyspark")
    from fairrec.consent import ConsentLedger
    from fairrec.models import Popularity
    from fairrec.spark._frames import KEY
    from fairrec.spark._pages import consent_table

    frame = pd.DataFrame({"user_id": ["007", "u\u3000 1", "x"], "item_id": [1, 2, 1]})
    ds = fairrec.Dataset.from_pandas(frame)
    led = ConsentLedger()
    led.grant(7, ["training", "personalization"], at="2024-01-01")
    led.grant("u 1", "personalization", at="2024-01-01")
    rec = fairrec.Recommender(model=Popularity(), consent=led).fit(ds)
    table = consent_table(rec)
    assert sorted(table[KEY]) == ["7", "u 1", "x"]  # one line per viewer
    states = dict(zip(table[KEY], table["_fairrec_state"]))
    assert states["7"] is not None and states["u 1"] is not None and states["x"] is None


def test_numbers_in_a_text_time_column_are_unix_seconds_as_in_a_numeric_column():
    """A CSV export may mix ISO strings and Unix seconds in one column: 60 is one minute
    after the epoch whatever the column's dtype (it used to be read as 60 nanoseconds)."""
    mixed = pd.Series(["1970-01-01T00:02:00Z", 60, np.int64(120), 1.5], index=[9, 8, 7, 6])
    from fairrec.data import parse_timestamps

    got = parse_timestamps(mixed, "timestamp").astype("int64").tolist()
    assert got == [120_000_000_000, 60_000_000_000, 120_000_000_000, 1_500_000_000]
    numeric = parse_timestamps(pd.Series([60, 120]), "timestamp").astype("int64").tolist()
    assert numeric == got[1:3]
    frame = pd.DataFrame({"user_id": ["a", "b"], "item_id": [1, 2], "t": ["2024-01-01", 60]})
    ds = fairrec.Dataset.from_pandas(frame, time_col="t")
    assert ds.timestamps[1] == np.datetime64("1970-01-01T00:01:00")
    with pytest.raises(DataError, match=r"Column 't' holds unparsable timestamps: True"):
        parse_timestamps(pd.Series(["2024-01-01", True]), "t")


@pytest.mark.parametrize("times", [[0, "2263-01-01"], ["2263-01-01", 5], ["1600-01-01", 7]])
def test_a_mixed_time_column_out_of_range_is_a_data_error(times):
    """Numbers among text with a time past 2262 (found by test_fuzz): a DataError naming the
    column, not pandas' OutOfBoundsDatetime."""
    frame = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2], "when": times})
    with pytest.raises(DataError, match="'when'.*1677 to 2262"):
        fairrec.Dataset.from_pandas(frame, time_col="when")
