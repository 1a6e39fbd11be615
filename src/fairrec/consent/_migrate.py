"""Move a JSON-lines consent ledger into a database: ``fairrec consent migrate``.

The move is done so that it is never half-done:

1. the source file is locked (no writer can append while it is copied) and read whole;
2. the target must be empty -- or hold exactly a completed copy of this very file (same
   SHA-256), in which case the move resumes at step 4;
3. every event is copied with its sequence number in **one transaction**, together with
   metadata naming the source and its SHA-256: a crash leaves the target empty;
4. the target is read back into a ledger and compared with the source, viewer by viewer and
   tombstone by tombstone;
5. the source's header is rewritten (atomically) to say where the ledger went: a ledger
   refuses to open a moved file, so no process keeps writing where no replica reads.

A target holding anything else (another ledger, or a copy of an older state of the file) is
refused with :class:`~fairrec.errors.ConsentStoreError` and nothing is changed.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from fairrec._durable import atomic_write, iso_ns
from fairrec.consent._jsonl import JsonlStore, _check_line, line_bytes
from fairrec.consent._store import open_store, redact
from fairrec.consent.keys import key_file_for, read_key_file
from fairrec.errors import ConsentError, ConsentStoreError, ParameterError

__all__ = ["migrate"]


def migrate(
    source: str | Path,
    target: str,
    *,
    key: bytes | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Move the JSON-lines ledger ``source`` into the store ``target`` (a URL).

    Parameters
    ----------
    source : str or Path
        The JSON-lines ledger file.
    target : str
        ``sqlite:///path.db`` or ``postgresql://...``.
    key : bytes, optional
        The tombstone key; default: the source's ``<file>.key``. A SQLite target gets the
        same key in its own ``<db>.key`` (mode 0600).
    log : callable, default print
        Where progress lines go.

    Returns
    -------
    dict
        ``events``, ``viewers``, ``tombstones`` copied, ``target``, ``resumed``.
    """
    from fairrec.consent._ledger import ConsentLedger
    from fairrec.consent._sql import SqliteStore, _SqlStore

    src = JsonlStore(source)
    dst = open_store(target)
    if not isinstance(dst, _SqlStore):
        raise ParameterError(
            f"fairrec consent migrate moves a JSON-lines ledger into sqlite:///... or "
            f"postgresql://...; got {target!r}."
        )
    if not src.path.is_file():
        raise ConsentError(f"no consent ledger file at {src.path}.")
    if key is None:
        key = read_key_file(key_file_for(src.path))
    with src._locked():
        raw = src.path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        lines = raw.split(b"\n")
        import json

        try:
            header = json.loads(lines[0])
        except ValueError:
            raise ConsentError(
                f"{src.path}: line 1 is not a fairrec consent ledger header."
            ) from None
        moved = header.get("moved_to")
        source_sha = header.get("source_sha256", digest) if moved else digest
        # the source as a ledger (read-only copy in memory), to copy and to compare with
        original = _source_ledger(src.path, raw, header, key)
        meta = dst.open(original.default, key)
        if isinstance(dst, SqliteStore):
            key_file = key_file_for(dst.path)
            if not key_file.exists():
                atomic_write(key_file, [(key.hex() + "\n").encode("ascii")])
        info = dst.meta()
        with dst._conn_guard() as conn:
            cur = conn.cursor()
            cur.execute("SELECT count(*) FROM fairrec_consent_events")
            (n_target,) = cur.fetchone()
        resumed = False
        if n_target or info.get("migrated_from_sha256"):
            if info.get("migrated_from_sha256") == source_sha:
                resumed = True
                log(
                    f"{redact(target)} already holds a complete copy of {src.path} "
                    f"({n_target} events); checking it and finishing the move."
                )
            else:
                raise ConsentStoreError(
                    f"refusing to migrate into {redact(target)}: it already holds {n_target} "
                    f"events that are not a completed copy of {src.path} as it is now"
                    + (
                        " (a copy of an earlier state of the file: events were written to the "
                        "file after that move began)"
                        if info.get("migrated_from") == str(src.path.resolve())
                        else ""
                    )
                    + ". Migrate into an empty database; nothing was changed."
                )
        elif moved:
            raise ConsentStoreError(f"{src.path} was already moved to {moved}; nothing to do here.")
        events = list(original._log)
        if not resumed:
            with dst.transaction(0) as tx:
                if tx.batch.events:
                    raise ConsentStoreError(
                        f"refusing to migrate into {redact(target)}: it is not empty."
                    )
                if events:
                    tx.append(events, False, time.time_ns())
                tx.set_meta(
                    {
                        "migrated_from": str(src.path.resolve()),
                        "migrated_from_sha256": source_sha,
                        "migrated_events": str(len(events)),
                        "migrated_at": iso_ns(time.time_ns()),
                    }
                )
            log(f"copied {len(events)} events into {redact(target)} in one transaction.")
        copy = ConsentLedger(store=dst, key=key, follow=False)
        try:
            _compare(original, copy, target)
        finally:
            copy.close()
        if not moved:
            header = dict(
                header,
                moved_to=redact(target),
                moved_at=iso_ns(time.time_ns()),
                source_sha256=source_sha,
            )
            header.pop("crc", None)
            atomic_write(src.path, [line_bytes(header), *(ln + b"\n" for ln in lines[1:] if ln)])
            log(f"marked {src.path} as moved: ledgers now refuse to open it.")
        del meta
    return {
        "events": len(events),
        "viewers": len(original.users()),
        "tombstones": original.n_forgotten,
        "target": redact(target),
        "resumed": resumed,
    }


def _source_ledger(path: Path, raw: bytes, header: dict[str, Any], key: bytes) -> Any:
    """The source file as an in-memory ledger (a moved file's header is set aside)."""
    import tempfile

    from fairrec.consent._ledger import ConsentLedger

    lines = raw.split(b"\n")
    clean = dict(header)
    for name in ("moved_to", "moved_at", "source_sha256", "crc"):
        clean.pop(name, None)
    if header.get("version", 1) >= 2 and not header.get("moved_to") and not _check_line(lines[0]):
        raise ConsentError(f"{path}: line 1 (the header) fails its checksum; the file is damaged.")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "source.jsonl"
        copy.write_bytes(b"\n".join([line_bytes(clean)[:-1], *lines[1:]]))
        on_disk = ConsentLedger(default=clean.get("default"), path=copy, key=key)
        memory = ConsentLedger(default=on_disk.default, key=key)
        # an in-memory twin holding the same log (the temporary file goes away)
        memory._rebuild(list(on_disk._log), [("", ev) for ev in on_disk._log])
        memory._seq = on_disk._seq
        on_disk.close()
    return memory


def _compare(a: Any, b: Any, target: str) -> None:
    """Refuse unless both ledgers hold the same viewers, states and tombstones."""
    if a.users() != b.users() or a.n_forgotten != b.n_forgotten or a._tombstones != b._tombstones:
        raise ConsentStoreError(
            f"the copy in {redact(target)} differs from the source (viewers or tombstones); "
            f"the source file was not marked as moved."
        )
    for u in a.users():
        x, y = a.state(u).to_dict(), b.state(u).to_dict()
        x.pop("version")
        y.pop("version")
        if x != y:
            raise ConsentStoreError(
                f"the copy in {redact(target)} differs from the source for one viewer; the "
                f"source file was not marked as moved."
            )
