"""Secret keys and keyed hashes: tombstones of erased viewers and pseudonyms in the audit log.

A keyed hash ``HMAC-SHA256(key, domain + canonical id)`` stands for a viewer where the raw
id must not be written: a consent tombstone, an audit-log line. Each use has its own
*domain* (a byte prefix), so hashes of one id made for different uses never match, even
under one key. Without the key a hash cannot be tested against guessed ids; with it, an
operator can still find a person's lines.

Key files hold the key as hex text and are created with mode 0600; a key file readable by
other users is reported with :class:`~fairrec.consent.ConsentFileWarning`. Each file that
relies on a key stores a short *fingerprint* of it (:func:`key_fingerprint`), so a wrong or
lost key is refused rather than silently producing hashes that match nothing.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
import warnings
from pathlib import Path

from fairrec._durable import fsync_dir
from fairrec.consent._common import ConsentFileWarning
from fairrec.errors import ConsentError, ParameterError

__all__ = [
    "coerce_key",
    "key_file_for",
    "read_key_file",
    "load_or_create_key",
    "key_fingerprint",
    "keyed_hash",
]

MIN_KEY_BYTES = 16


def coerce_key(key: object, owner: str) -> bytes | None:
    """A key given by a caller as bytes (a ``str`` is UTF-8 encoded); ``None`` stays ``None``.

    Raises
    ------
    ParameterError
        ``key`` is not bytes or str, or is shorter than 16 bytes.

    Examples
    --------
    >>> coerce_key("a secret of 16 bytes", "AuditLog")
    b'a secret of 16 bytes'
    """
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise ParameterError(
            f"The 'key' parameter of {owner} must be bytes or str. "
            f"Got {type(key).__name__} instead."
        )
    if len(key) < MIN_KEY_BYTES:
        raise ParameterError(
            f"The 'key' parameter of {owner} must be at least {MIN_KEY_BYTES} bytes long. "
            f"Got {len(key)} bytes instead."
        )
    return bytes(key)


def key_file_for(path: str | os.PathLike[str]) -> Path:
    """The sidecar key file of a ledger or audit file: ``<path>.key``.

    Examples
    --------
    >>> key_file_for("consent.jsonl").name
    'consent.jsonl.key'
    """
    p = Path(path)
    return p.with_name(p.name + ".key")


def read_key_file(key_file: str | os.PathLike[str]) -> bytes:
    """Read a key file (hex text, at least 16 bytes).

    Raises
    ------
    ConsentError
        The file cannot be read, is not hex, or holds fewer than 16 bytes.

    Warns
    -----
    ConsentFileWarning
        The file is readable by other users (POSIX).
    """
    key_file = Path(key_file)
    try:
        mode = key_file.stat().st_mode
        text = key_file.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConsentError(f"cannot read the key file {key_file}: {exc}") from None
    if len(key) < MIN_KEY_BYTES:
        raise ConsentError(f"the key file {key_file} holds fewer than {MIN_KEY_BYTES} bytes.")
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(
            f"the key file {key_file} is readable by other users (mode {oct(mode & 0o777)}); "
            f"chmod 600 it.",
            ConsentFileWarning,
            stacklevel=4,
        )
    return key


def load_or_create_key(key_file: str | os.PathLike[str]) -> bytes:
    """Read ``key_file``; create it first (32 random bytes, hex, mode 0600) if it is missing.

    Creation is exclusive (``O_EXCL``): two processes creating the key at once end up with
    the same key, the one written first.
    """
    key_file = Path(key_file)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key_file(key_file)
    try:
        os.write(fd, (key.hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(key_file.parent)
    return key


def key_fingerprint(key: bytes, domain: bytes) -> str:
    """A short fingerprint of ``key`` for one kind of file (32 hex digits), stored in the
    file's header to refuse a wrong key. It reveals nothing about the key."""
    return hmac.digest(key, b"fairrec:key-check:" + domain, "sha256").hex()[:32]


def keyed_hash(key: bytes, domain: bytes, canon_id: str) -> str:
    """``HMAC-SHA256(key, domain + canon_id)`` as 64 hex digits.

    ``canon_id`` must already be canonical (:func:`fairrec.data.ids.canon_id`), so every
    spelling of one id hashes alike.

    Examples
    --------
    >>> len(keyed_hash(b"k" * 16, b"fairrec:audit-viewer:", "42"))
    64
    """
    return hmac.digest(key, domain + canon_id.encode("utf-8"), "sha256").hex()
