"""The consent ledger: purpose-bound, timestamped consent, exclusions, stated interests, erasure.

A :class:`ConsentLedger` records what each viewer allowed, refused, excluded and told us, as an
**event log**. Every question fairrec asks about a viewer's data ("may I personalize this
page?", "may this viewer's interactions train the shared model?", "what was allowed on
1 March?") is answered from that log.

Purposes
--------
``PURPOSES = ("personalization", "training", "stated_interests")``, the one list of purposes
in fairrec (:mod:`fairrec.consent.purposes`):

* ``personalization``: use the viewer's history for the viewer's own page;
* ``training``: use the viewer's interactions to train the shared model;
* ``stated_interests``: use what the viewer told us (zero-party data: liked / disliked genres
  and titles).

Purpose names are matched case-insensitively, with ``-`` or a space read as ``_`` and the
British ``personalisation`` accepted. Anything else raises
:class:`~fairrec.errors.UnknownPurposeError`, whose message lists the valid purposes.

Defaults
--------
``default="deny"`` (privacy by default): a purpose is allowed only after a grant. A viewer the
ledger has never seen gets no purpose. ``default="allow"`` is for an existing opt-out regime
(a legal basis other than consent, e.g. legitimate interest, documented by the operator):
every purpose is allowed until the viewer revokes or refuses it. Under both defaults a
forgotten (erased) viewer has no purpose at all, at any time.

Events and time
---------------
Consent actions are ``grant`` (give consent), ``revoke`` (withdraw a consent given earlier)
and ``deny`` (record a refusal; valid at any time). Under ``default="deny"`` a ``revoke`` of a
purpose that was never granted before it raises ``ConsentError("... revoke before grant
...")``; use :meth:`ConsentLedger.deny` to record a refusal instead. Every event carries a
UTC timestamp (``at``: a datetime, pandas Timestamp, ISO-8601 string or Unix seconds; naive
times are read as UTC; ``None`` means now). Timestamps more than five minutes in the future are
refused.

The log is ordered by time. An event dated *earlier* than events already recorded for the same
viewer and purpose (a late export from a consent-management platform) is **inserted at its
place in time**, so ``allowed(user, purpose, at=t)`` answers what was allowed at ``t`` from
the events dated at or before ``t``; the current state is the state after the latest event.

**Withdrawal always wins.** A revoke or deny *voids* every grant of the same viewer and
purpose that was received (recorded) before it and is stamped at or after the withdrawal's own
time: such a grant is never in force. So no grant received before a withdrawal can outrank
it, whatever its stamp -- a grant stamped minutes ahead by clock skew, or a withdrawal that
arrives after a later-dated grant. A grant received after a withdrawal is new consent and
takes its place in time. Under ``default="deny"`` a revoke needs an earlier-received grant of
the purpose. A grant at the identical timestamp of a recorded withdrawal of the same purpose
is a conflict (``ConsentError``); a withdrawal at the time of a grant simply wins. Events at
the same timestamp with the same effect are applied in the order they were recorded. The rows
of one imported table are a history, numbered in time order (same-time opposite rows of one
table are a conflict).

Exclusions and stated interests
-------------------------------
:meth:`ConsentLedger.exclude` records genres, titles and a maximum maturity rating the viewer
never wants to see; they apply to **every** page, personalized or not, whatever the purposes.
:meth:`ConsentLedger.include` undoes them. :meth:`ConsentLedger.state_interests` records
liked / disliked genres and titles; the Recommender uses them only while ``stated_interests``
is allowed. Ids (viewers and titles) are compared in the project's one canonical form
(:func:`fairrec.ids.canon_id`): ``42``, ``np.int64(42)``, ``"42"``, ``"042"``, ``" 42"``,
fullwidth and zero-width-space spellings are the same id, NFC and NFD spellings of a name
too, so a tombstone catches every spelling. Genres and maturity ratings are stored as given.

Erasure
-------
:meth:`ConsentLedger.forget` removes every event and detail of a viewer, from memory and from
the JSON-lines file (rewritten atomically: temporary file in the same folder, flush, fsync,
``os.replace``). What remains is a **tombstone** holding only ``HMAC-SHA256(key, id)``, so a
later grant or re-import of that viewer is refused with ``ConsentError`` instead of silently
resurrecting them. :meth:`ConsentLedger.reinstate` lifts a tombstone when the person comes back
of their own accord; it grants nothing.

Keys. The tombstone hash needs a secret key that outlives the process. With ``key=None`` and a
``path``, the ledger keeps a random 32-byte key in a sidecar file ``<path>.key`` (mode 0600),
created on first use. The key is deliberately *not* in the ledger file: viewer ids are often
enumerable (``u1``, ``u2``, ...), so anyone holding both the file and the key could test which
ids were erased. Keeping the key apart (or passing your own ``key=`` from a secret store, in
which case no sidecar is written) means a leaked ledger file alone reveals nothing about
erased viewers. The trade-off: **lose the key and tombstones can no longer be checked**; the
ledger then refuses to open the file (it stores a short key fingerprint in its header and also
refuses a wrong key) rather than silently stop protecting erased viewers.

Stores
------
The events live in a store, chosen with ``ConsentLedger(store=...)`` (a URL or a store
object) or ``path=`` (a JSON-lines file): :class:`JsonlStore` (a file; notebooks, one
process), :class:`SqliteStore` (``"sqlite:///consent.db"``: WAL, one host, many processes)
and :class:`PostgresStore` (``"postgresql://..."``, the ``postgres`` extra: many hosts).
Every write is one transaction under the store's exclusive write lock: the ledger first
applies what other writers committed, then validates, numbers (``last + 1``) and commits, and
only then publishes in memory -- so many writers never reuse a sequence number or lose an
event, and a writer killed mid-transaction leaves nothing. A ledger on SQLite or PostgreSQL
follows the store (a background poll every ``poll_interval`` seconds, default 0.1);
``max_staleness`` (default 1.0 s) bounds how old the consent behind a page may be: past it
(the store down or out of reach), :meth:`ConsentLedger.state` answers a fallback snapshot
(``stale=True``: nothing allowed, no stated interests, the last known exclusions), so pages
are non-personalized, while writes raise :class:`~fairrec.errors.ConsentStoreUnavailableError`
and :meth:`ConsentLedger.allowed_mask` raises :class:`~fairrec.errors.ConsentStaleError`.
``ledger.version`` is the sequence number of the last event applied: the same on every
replica. The database schema is created and versioned by fairrec
(``fairrec_schema_migrations``); ``fairrec consent migrate --from FILE --to URL`` (or
:func:`migrate`) moves a file into a database, all or nothing.

Persistence (the JSON-lines file)
---------------------------------
Line 1 is a header::

    {"format": "fairrec-consent", "version": 2, "default": "deny", "key_check": "...",
     "created": "2024-05-01T10:00:00+00:00", "crc": "..."}

Each further line is one transaction, appended with flush + ``os.fsync`` under an exclusive
lock on ``<path>.lock``, e.g. ``{"seq": 7, "op": "grant", "at": "...", "user": "u42",
"purposes": ["training"], "crc": "..."}``; a bulk import is one line ``{"op": "import", "at":
..., "n": 3, "events": [...]}`` so that a crash never leaves half an import on disk. Every line
ends with ``"crc"``, 16 hex digits of SHA-256 of the line before it: a line whose checksum does
not match is corruption (``ConsentError`` naming the line). A writer reads what other writers
appended before writing, so two ledgers (or processes) on one file take turns instead of
reusing sequence numbers. On load, a torn **last** line (a crash mid-append) is reported with
a :class:`ConsentFileWarning` naming the line, skipped, and cut from the file before the next
append; every complete event is kept. A malformed line anywhere else is corruption. Files of
format 1 (no checksums) are read and rewritten as format 2.

Import table format
-------------------
:meth:`ConsentLedger.import_frame` / :meth:`ConsentLedger.from_frame` take a long table, one
event per row (column names matched case-insensitively; other columns are ignored):

==============  ========  ==============================================================
column          required  meaning
==============  ========  ==============================================================
user_id         yes       viewer id (str or int; integral floats from a column with
                          missing values are read as ints)
action          yes       see below
purpose         consent   one of the purposes, required in consent rows; empty in others
timestamp       no        ISO-8601 string, datetime, or Unix seconds; empty -> the time of
                          the import (one time for all such rows)
genre           no        a genre, for exclude / include / like / dislike rows
item_id         no        a title id, for exclude / include / like / dislike rows
max_maturity    no        exclude: the highest maturity rating allowed; include: any value
                          clears it
==============  ========  ==============================================================

Actions (case-insensitive; ``-`` and spaces read as ``_``):

* grant: ``grant granted allow allowed accept accepted opt_in optin consent consented given
  yes y true 1`` (and ``True`` in a boolean column);
* revoke (withdraw an earlier grant): ``revoke revoked withdraw withdrawn``;
* deny (a refusal, valid without an earlier grant): ``deny denied reject rejected decline
  declined refuse refused opt_out optout no n false 0`` (and ``False``);
* ``exclude`` / ``include`` (exclusions) and ``like`` / ``dislike`` (stated interests).

Any other action raises ``ConsentError`` naming the row and the column. An import is atomic:
every row is validated first (ids, actions, purposes, timestamps, conflicts, revoke before
grant, forgotten viewers) and on the first bad row ``ConsentError`` names the row and column
and the ledger (memory and file) is unchanged. Rows identical to an event already recorded
(same viewer, action, purpose or target, and timestamp) are skipped, so re-importing the same
export is harmless. Rows without a timestamp share the import time, so a table that both
grants and revokes the same purpose of a viewer without timestamps is a conflict.

Thread safety
-------------
Mutations take one re-entrant lock (catch up, validate, commit to the store, then publish). Each viewer's
state is an immutable :class:`ConsentState` replaced as a whole (copy-on-write), so
:meth:`ConsentLedger.state` and ``allowed(user, purpose)`` are a dict lookup without a lock
and a page built from one snapshot sees one consistent state, never half a revocation.
:meth:`ConsentLedger.allowed_mask` takes the lock only to rebuild a per-version index.

Modules
-------
Public: :mod:`fairrec.consent.purposes` (the purposes and how their names are read) and
:mod:`fairrec.consent.keys` (key files and keyed hashes, shared with :mod:`fairrec.audit`).
Internal, one job each: ``_ledger`` (the :class:`ConsentLedger` API), ``_reads`` (its
reads), ``_core`` (the in-memory log and snapshots, kept in step with the store), ``_replay``
(the ordering rule above, stated once, and the replay into :class:`ConsentState`),
``_events`` (the event record and its JSON form), ``_state`` (:class:`ConsentState`),
``_masks`` (the indexes behind :meth:`ConsentLedger.allowed_mask`), ``_parse`` (argument
parsing), ``_table`` / ``_import`` (consent tables: parsing, then checks against the
ledger), ``_store`` (the store interface and URLs), ``_jsonl`` / ``_sql`` / ``_postgres``
(the stores), ``_migrate`` (file to database).
"""

from __future__ import annotations

from fairrec.consent._common import FORMAT as FORMAT
from fairrec.consent._common import FORMAT_VERSION as FORMAT_VERSION
from fairrec.consent._common import FUTURE_TOLERANCE_NS as FUTURE_TOLERANCE_NS
from fairrec.consent._common import ConsentFileWarning
from fairrec.consent._jsonl import JsonlStore
from fairrec.consent._ledger import ConsentLedger
from fairrec.consent._migrate import migrate
from fairrec.consent._state import ConsentState
from fairrec.consent._store import ConsentStore, open_store
from fairrec.consent.purposes import DEFAULTS as DEFAULTS
from fairrec.consent.purposes import PURPOSES


def __getattr__(name: str) -> object:
    # the database stores load lazily (PostgresStore needs the optional psycopg)
    if name == "SqliteStore":
        from fairrec.consent._sql import SqliteStore

        return SqliteStore
    if name == "PostgresStore":
        from fairrec.consent._postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module 'fairrec.consent' has no attribute {name!r}")


__all__ = [
    "PURPOSES",
    "ConsentLedger",
    "ConsentState",
    "ConsentFileWarning",
    "ConsentStore",
    "JsonlStore",
    "SqliteStore",
    "PostgresStore",
    "open_store",
    "migrate",
]
