"""The purposes a viewer's data may be used for, and how their names are read.

``PURPOSES`` is the one list of purposes in fairrec: the ledger, the gate, the Spark jobs and
the audit log all take it from here.

* ``personalization``: use the viewer's history for the viewer's own page;
* ``training``: use the viewer's interactions to train the shared model;
* ``stated_interests``: use what the viewer told us (zero-party data: liked / disliked genres
  and titles).

Names are matched case-insensitively, with ``-`` or a space read as ``_``; the British
``personalisation`` and the singular ``stated_interest`` are accepted. Anything else raises
:class:`~fairrec.errors.UnknownPurposeError`, whose message lists the valid purposes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fairrec.errors import ConsentError, UnknownPurposeError

__all__ = [
    "PURPOSES",
    "PERSONALIZATION",
    "TRAINING",
    "STATED_INTERESTS",
    "DEFAULTS",
    "canonical_purpose",
    "canonical_purposes",
]

#: Use the viewer's history for the viewer's own page.
PERSONALIZATION = "personalization"
#: Use the viewer's interactions to train the shared model.
TRAINING = "training"
#: Use what the viewer told us: liked / disliked genres and titles.
STATED_INTERESTS = "stated_interests"
#: Every purpose, in the order fairrec lists them.
PURPOSES: tuple[str, ...] = (PERSONALIZATION, TRAINING, STATED_INTERESTS)
#: A ledger's default: ``"deny"`` (nothing before a grant) or ``"allow"`` (an opt-out regime).
DEFAULTS: tuple[str, ...] = ("deny", "allow")

_ALIASES = {p: p for p in PURPOSES} | {
    "personalisation": PERSONALIZATION,
    "stated_interest": STATED_INTERESTS,
}


def normalize_word(text: str) -> str:
    """Lower case, outer spaces stripped, runs of spaces and ``-`` read as ``_``."""
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def canonical_purpose(value: object, where: str = "") -> str:
    """The canonical name of one purpose.

    Parameters
    ----------
    value : str
        A purpose name in any accepted spelling.
    where : str, optional
        Who asks (a method name), put in front of the error message.

    Returns
    -------
    str
        One of :data:`PURPOSES`.

    Raises
    ------
    UnknownPurposeError
        ``value`` is not a purpose; the message lists the valid ones.

    Examples
    --------
    >>> canonical_purpose("Personalisation"), canonical_purpose("stated-interests")
    ('personalization', 'stated_interests')
    """
    if isinstance(value, str):
        canon = _ALIASES.get(normalize_word(value))
        if canon is not None:
            return canon
    prefix = f"{where}: " if where else ""
    raise UnknownPurposeError(
        f"{prefix}unknown purpose {value!r}. Valid purposes: {', '.join(PURPOSES)}."
    )


def canonical_purposes(purposes: object, where: str) -> tuple[str, ...]:
    """A purpose name or an iterable of them -> their canonical names, in order, no repeats.

    Raises
    ------
    UnknownPurposeError
        A name is not a purpose, or ``purposes`` is neither a str nor an iterable.
    ConsentError
        No purpose was given.

    Examples
    --------
    >>> canonical_purposes(["training", "TRAINING", "personalization"], "grant")
    ('training', 'personalization')
    """
    if isinstance(purposes, str):
        items: list[object] = [purposes]
    elif isinstance(purposes, Iterable):
        items = list(purposes)
    else:
        raise UnknownPurposeError(
            f"{where}: purposes must be a purpose name or a list of them; got {purposes!r}. "
            f"Valid purposes: {', '.join(PURPOSES)}."
        )
    out = tuple(dict.fromkeys(canonical_purpose(p, where) for p in items))
    if not out:
        raise ConsentError(f"{where}: no purpose given. Valid purposes: {', '.join(PURPOSES)}.")
    return out
