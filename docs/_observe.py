"""Facts the docs show, produced by running fairrec at build time (called from ``conf.py``).

The pages about consent, files and row kinds must say what the code *does*, and the code
changes. Rather than copying strings that can go stale, the build runs a small synthetic
example and writes what it observed into ``docs/_generated/*.md``, which the pages include:

* ``rows_observed.md`` -- for three viewers with different consent, every row of their page:
  row kind, title, reason and the data categories it declares;
* ``model_files.md`` -- every file and every array of a saved model directory, with dtype and
  shape, and what it holds (descriptions below; an array without one fails the build);
* ``ledger_lines.md`` / ``audit_lines.md`` -- the lines the consent ledger and the audit log
  write for a few actions, verbatim.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

import fairrec as fr

#: What each array of ``arrays.npz`` holds (keys are array names or ``prefix/`` groups).
ARRAY_MEANING = {
    "model/item_factors": "one vector per catalog title, as learned at training time",
    "model/user_factors": "one vector per saved training row, i.e. per viewer with "
    "`training` consent at save time, re-solved from exactly that row",
    "train/": "the training rows (CSR: `data` = interaction weights, `indices` = title "
    "indices, `indptr` = row offsets, `oldest` = time of each cell's oldest play, if any) of the viewers with `training` consent at save time, "
    "only cells inside the retention window at save time; serving never reads them, they "
    "are kept so that `forget(update_items=True)` can re-solve item vectors after `load`",
    "history/": "serving histories (viewer row, title, weight, time in ns) of the viewers with "
    "`personalization` consent at save time, inside the retention window at save time",
    "stats/": "per-title sums and counts of the explicit ratings of the saved training cells "
    "(only when the data has ratings)",
    "model/": "model arrays",
}

#: What each JSON file holds.
JSON_MEANING = {
    "meta.json": "format name and version, model kind and parameters, serving parameters, "
    "fit and save times, catalog size, SHA-256 of every other file and of its own content",
    "catalog.json": "title ids, titles, genres, maturity ratings, `popularity` (per title, "
    "the number of saved training viewers who played it) and `like_label` (the words reasons "
    "use for a positive event)",
    "ids.json": "external viewer ids in clear: `train_user_ids` (rows of the training matrix "
    "and of `model/user_factors`) and `history_user_ids` (viewers of `history/`)",
}


def _meaning(name: str) -> str | None:
    if name in ARRAY_MEANING:
        return ARRAY_MEANING[name]
    for key, text in ARRAY_MEANING.items():
        if key.endswith("/") and name.startswith(key) and key != "model/":
            return text
    return None


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def _example() -> tuple[object, object, dict[str, str], object]:
    data = fr.datasets.synthetic(n_users=400, n_items=300, seed=3)
    consent = fr.ConsentLedger(default="deny")
    users = [str(u) for u in data.user_ids]
    for u in users[:300]:
        consent.grant(u, ["training", "personalization"])
    full, opted_out, stated = users[0], users[-1], users[-2]
    liked, excluded = data.genre_names[1], data.genre_names[2]
    consent.grant(full, "stated_interests")
    consent.state_interests(full, genres=[liked])
    consent.grant(stated, "stated_interests")
    consent.state_interests(stated, genres=[liked])
    consent.exclude(stated, genres=[excluded])
    rec = fr.Recommender(
        model=fr.models.ALS(factors=8, iterations=4, random_state=0), consent=consent, row_size=6
    ).fit(data)
    viewers = {
        full: "`training`, `personalization`, `stated_interests` (likes " + liked + ")",
        opted_out: "no purpose granted",
        stated: f"`stated_interests` only (likes {liked}, excludes {excluded})",
    }
    return data, rec, viewers, consent


def rows_observed(
    rec: object, viewers: dict[str, str], data: object, consent: object, problems: list[str]
) -> str:
    out = []
    for user, label in viewers.items():
        page = rec.home(user)  # type: ignore[attr-defined]
        violations = fr.audit.verify_page(page, data, consent, recommender=rec)
        problems += [f"verify_page, viewer {user}: {v}" for v in violations]
        out.append(
            f"**Viewer `{user}`**, consent: {label}. Page personalized: "
            f"`{page.personalized}`; page `data_used`: "
            f"{', '.join(f'`{d}`' for d in page.data_used) or 'none'}; "
            f"`verify_page` violations: {len(violations)}.\n"
        )
        rows = []
        for row in page.rows:
            item_reasons = sorted({it.reason.text for it in row.items} - {row.reason.text})
            rows.append(
                [
                    f"`{row.kind}`",
                    row.title,
                    row.reason.text,
                    ", ".join(f"`{d}`" for d in row.reason.data_used),
                    f"{len(item_reasons)} other reason(s), e.g. \u201c{item_reasons[0]}\u201d"
                    if item_reasons
                    else "same as the row",
                ]
            )
        out.append(
            _md_table(["row kind", "row title", "row reason", "data used", "item reasons"], rows)
        )
    return "\n".join(out)


def model_files(rec: object) -> tuple[str, list[str]]:
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        rec.save(path)  # type: ignore[attr-defined]
        rows = []
        for f in sorted(path.iterdir()):
            if f.suffix == ".json":
                keys = json.loads(f.read_text(encoding="utf-8"))
                text = JSON_MEANING.get(f.name)
                if text is None:
                    problems.append(f"model file {f.name} has no description in docs/_observe.py")
                rows.append([f"`{f.name}`", ", ".join(f"`{k}`" for k in keys), text or "?"])
        groups: dict[str, list[str]] = {}
        with np.load(path / "arrays.npz", allow_pickle=False) as z:
            for name in z.files:
                text = _meaning(name)
                if text is None:
                    problems.append(
                        f"array {name} of arrays.npz has no description in docs/_observe.py"
                    )
                groups.setdefault(text or "?", []).append(
                    f"`{name}` {z[name].dtype} {tuple(z[name].shape)}"
                )
        arrays = [[", ".join(names), text] for text, names in groups.items()]
        unknown = {f.name for f in path.iterdir()} - set(JSON_MEANING) - {"arrays.npz"}
        problems += [f"model file {n} has no description in docs/_observe.py" for n in unknown]
    text = _md_table(["file", "keys", "holds"], rows)
    text += "\n`arrays.npz` (numpy, read with `allow_pickle=False`), for the example above "
    text += "(400 viewers, 300 titles, 300 with `training`):\n\n"
    text += _md_table(["arrays (dtype, shape)", "hold"], arrays)
    return text, problems


def ledger_lines() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "consent.jsonl"
        ledger = fr.ConsentLedger(path=path, default="deny")
        ledger.grant("u1", ["training", "personalization"], at="2026-01-01T00:00:00Z")
        ledger.exclude("u1", genres=["Horror"], at="2026-01-02T00:00:00Z")
        ledger.revoke("u1", "training", at="2026-01-03T00:00:00Z")
        ledger.grant("u2", "stated_interests", at="2026-01-01T00:00:00Z")
        ledger.state_interests("u2", genres=["Drama"], at="2026-01-01T00:00:00Z")
        ledger.forget("u2")
        lines = path.read_text(encoding="utf-8")
        files = sorted(p.name for p in Path(tmp).iterdir())
    return (
        "```python\n"
        'ledger = fr.ConsentLedger(path="consent.jsonl", default="deny")\n'
        'ledger.grant("u1", ["training", "personalization"], at="2026-01-01T00:00:00Z")\n'
        'ledger.exclude("u1", genres=["Horror"], at="2026-01-02T00:00:00Z")\n'
        'ledger.revoke("u1", "training", at="2026-01-03T00:00:00Z")\n'
        'ledger.grant("u2", "stated_interests", at="2026-01-01T00:00:00Z")\n'
        'ledger.state_interests("u2", genres=["Drama"], at="2026-01-01T00:00:00Z")\n'
        'ledger.forget("u2")\n'
        "```\n\n"
        f"leaves the files {', '.join(f'`{f}`' for f in files)}; `consent.jsonl` then reads, "
        "in full:\n\n```json\n" + lines + "```\n"
    )


def sqlite_rows() -> str:
    """The same actions on a SQLite store: the rows of fairrec's tables, and a byte search of
    the database files for the erased viewer's id."""
    import sqlite3

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "consent.db"
        ledger = fr.ConsentLedger(store=f"sqlite:///{db}", default="deny", key=b"k" * 32)
        ledger.grant("u1", ["training", "personalization"], at="2026-01-01T00:00:00Z")
        ledger.exclude("u1", genres=["Horror"], at="2026-01-02T00:00:00Z")
        ledger.grant("u2", "stated_interests", at="2026-01-01T00:00:00Z")
        ledger.state_interests("u2", genres=["Drama"], at="2026-01-01T00:00:00Z")
        ledger.forget("u2")
        if hasattr(ledger, "close"):
            ledger.close()
        con = sqlite3.connect(db)
        try:
            tables = [
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            rows = [
                list(map(str, r))
                for r in con.execute(
                    "SELECT seq, op, user_id, at, body FROM fairrec_consent_events ORDER BY seq"
                )
            ]
        finally:
            con.close()
        leftovers = sorted(p.name for p in Path(tmp).iterdir() if b'"u2"' in p.read_bytes())
    text = (
        "The same ledger on `sqlite:///consent.db` (grant and exclusion for `u1`, stated "
        'interests for `u2`, then `forget("u2")`) has the tables '
        + ", ".join(f"`{t}`" for t in tables)
        + "; `fairrec_consent_events` then holds:\n\n"
        + _md_table(["seq", "op", "user_id", "at", "body"], [[f"`{c}`" for c in r] for r in rows])
        + '\nDatabase files still containing the erased id `"u2"` after `forget`: '
        + (", ".join(f"`{n}`" for n in leftovers) or "none")
        + ".\n"
    )
    return text


def audit_lines(rec: object, users: list[str]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        log = fr.audit.AuditLog(path)
        rec.audit_log = log  # type: ignore[attr-defined]
        try:
            for u in users:
                rec.home(u)  # type: ignore[attr-defined]
        finally:
            rec.audit_log = None  # type: ignore[attr-defined]
        lines = path.read_text(encoding="utf-8")
        files = sorted(p.name for p in Path(tmp).iterdir())
    return (
        f"Serving the pages of viewers {', '.join(f'`{u}`' for u in users)} with an "
        f'`AuditLog("audit.jsonl")` attached leaves {", ".join(f"`{f}`" for f in files)}; '
        "`audit.jsonl` reads, in full:\n\n```json\n" + lines + "```\n"
    )


def write_all(out: Path) -> list[str]:
    """Write the snippets to ``out``; return the problems (each becomes a build warning)."""
    out.mkdir(exist_ok=True)
    data, rec, viewers, consent = _example()
    files, problems = model_files(rec)
    snippets = {
        "rows_observed.md": rows_observed(rec, viewers, data, consent, problems),
        "model_files.md": files,
        "ledger_lines.md": ledger_lines(),
        "sqlite_rows.md": sqlite_rows(),
        "audit_lines.md": audit_lines(rec, list(viewers)[:2]),
    }
    for name, text in snippets.items():
        target = out / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return problems
