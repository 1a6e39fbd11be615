"""Constants of the consent package and its file warning."""

from __future__ import annotations

from pathlib import Path

from fairrec._durable import JsonlScan, scan_jsonl
from fairrec.errors import ConsentError

FORMAT = "fairrec-consent"
FORMAT_VERSION = 2  # 2: every line carries a checksum ("crc")
FUTURE_TOLERANCE_NS = 5 * 60 * 1_000_000_000  # timestamps up to 5 minutes ahead are clock skew

_CONSENT_OPS = frozenset({"grant", "revoke", "deny"})
_USER_OPS = _CONSENT_OPS | {"exclude", "include", "interests"}
_HASH_OPS = frozenset({"forget", "reinstate"})
_TOMBSTONE_DOMAIN = b"fairrec:tombstone:"


class ConsentFileWarning(UserWarning):
    """A consent or audit file needed repair on load (e.g. a torn last line was skipped)."""


def _scan_jsonl(
    path: Path,
    what: str,
    error: type[Exception] = ConsentError,
    *,
    data: bytes | None = None,
    first_line: int = 1,
    base: int = 0,
) -> JsonlScan:
    """:func:`fairrec._durable.scan_jsonl` with the consent ledger's error and warning."""
    return scan_jsonl(
        path, what, error, warning=ConsentFileWarning, data=data, first_line=first_line, base=base
    )
