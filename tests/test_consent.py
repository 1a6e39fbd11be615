"""Tests of the consent ledger (fairrec.consent) and the audit log (fairrec.audit)."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairrec.audit import AuditLog
from fairrec.consent import PURPOSES, ConsentFileWarning, ConsentLedger, ConsentState
from fairrec.consent._jsonl import line_bytes
from fairrec.errors import ConsentError, DataError, ParameterError, UnknownPurposeError

BASE = pd.Timestamp("2024-01-01", tz="UTC")


def at(seconds: float) -> pd.Timestamp:
    return BASE + pd.Timedelta(seconds=seconds)


def snapshot(state: ConsentState) -> dict:
    out = state.to_dict()
    out.pop("version")
    return out


# ------------------------------------------------------------------------------ basics


def test_default_deny_grants_nothing_and_allow_grants_everything(ledger_factory):
    deny = ledger_factory.make()
    for p in PURPOSES:
        assert not deny.allowed("stranger", p)
    assert deny.state("stranger").purposes == frozenset()
    allow = ledger_factory.make(default="allow")
    for p in PURPOSES:
        assert allow.allowed("stranger", p)
    assert allow.state("stranger").purposes == frozenset(PURPOSES)
    assert allow.since("stranger", "training") is None  # allowed by default, not by a grant
    allow.revoke("stranger", "training")  # opt-out without a grant is fine under "allow"
    assert not allow.allowed("stranger", "training")
    assert allow.explain("stranger")["purposes"]["training"]["basis"] == "withdrawn"
    assert allow.explain("stranger")["purposes"]["personalization"]["basis"] == "default"


def test_bad_default_is_a_parameter_error():
    with pytest.raises(ParameterError, match="'default' parameter of ConsentLedger"):
        ConsentLedger(default="maybe")


def test_grant_revoke_since_and_replay_at_time(ledger_factory):
    led = ledger_factory.make()
    v0 = led.version
    led.grant("u42", ["personalization", "training", "stated_interests"], at=at(0))
    assert led.version == v0 + 1
    led.grant("u42", "training", at=at(10))  # a repeated grant keeps the start of the grant
    led.revoke("u42", "training", at=at(20))
    led.grant("u42", "training", at=at(30))
    assert led.since("u42", "personalization") == at(0)
    assert led.since("u42", "training") == at(30)
    assert led.allowed("u42", "training", at=at(15))
    assert not led.allowed("u42", "training", at=at(25))
    assert not led.allowed("u42", "training", at=at(-1))
    assert led.allowed("u42", "training", at=at(30))
    assert led.allowed("u42", "training")
    assert led.state("u42").purposes == frozenset(PURPOSES)
    # naive datetimes and ISO strings are read as UTC
    assert not led.allowed("u42", "training", at="2024-01-01T00:00:25")
    assert led.allowed("u42", "training", at=(BASE + pd.Timedelta(seconds=15)).tz_localize(None))


def test_ids_are_compared_as_strings(ledger_factory):
    led = ledger_factory.make()
    led.grant(42, "training", at=at(0))
    assert led.allowed("42", "training") and led.allowed(np.int64(42), "training")
    assert led.users() == ["42"]
    with pytest.raises(ParameterError, match="str or int"):
        led.grant(4.2, "training")
    with pytest.raises(ParameterError, match="bool"):
        led.grant(True, "training")


def test_revoke_before_grant_is_a_typed_readable_error(ledger_factory):
    led = ledger_factory.make()
    with pytest.raises(ConsentError, match="revoke before grant") as info:
        led.revoke("u1", "training")
    assert "u1" in str(info.value) and "deny()" in str(info.value)
    led.grant("u1", "training", at=at(10))
    with pytest.raises(ConsentError, match="revoke before grant"):
        led.revoke("u1", ["training", "personalization"], at=at(20))  # one never granted
    assert led.allowed("u1", "training")  # the failed multi-purpose revoke changed nothing
    # a withdrawal dated before the grant it follows still withdraws it (withdrawal wins)
    led.revoke("u1", "training", at=at(5))
    assert not led.allowed("u1", "training")
    assert not led.allowed("u1", "training", at=at(12))  # the grant of t=10 is void
    led.deny("u2", "training")  # a refusal is fine without a grant
    assert not led.allowed("u2", "training")
    assert led.explain("u2")["purposes"]["training"]["basis"] == "refused"


def test_unknown_purpose_lists_the_valid_ones(ledger_factory):
    led = ledger_factory.make()
    with pytest.raises(UnknownPurposeError) as info:
        led.grant("u1", ["training", "advertising"])
    msg = str(info.value)
    assert "advertising" in msg and all(p in msg for p in PURPOSES)
    assert isinstance(info.value, ConsentError)
    with pytest.raises(UnknownPurposeError):
        led.allowed("u1", "ads")
    with pytest.raises(UnknownPurposeError):
        led.allowed_mask(["u1"], "ads")
    with pytest.raises(ConsentError, match="no purpose"):
        led.grant("u1", [])
    assert led.version == 0
    led.grant("u1", ["Personalisation", "Stated-Interests"])  # spelling variants
    assert led.state("u1").purposes == {"personalization", "stated_interests"}


def test_conflicting_events_at_identical_time_are_refused(ledger_factory):
    led = ledger_factory.make()
    led.grant("u1", "training", at=at(5))
    led.grant("u1", "training", at=at(5))  # same effect at the same time: fine
    assert led.allowed("u1", "training")
    led.deny("u1", "training", at=at(5))  # a withdrawal at the same time wins
    assert not led.allowed("u1", "training")
    with pytest.raises(ConsentError, match="conflicting events"):
        led.grant("u1", "training", at=at(5))  # a grant cannot outrank it at that time


def test_backdated_events_take_their_place_in_time(ledger_factory):
    led = ledger_factory.make()
    led.grant("u1", "training", at=at(0))
    led.revoke("u1", "training", at=at(100))
    led.grant("u1", "training", at=at(200))
    led.grant("u2", "training", at=at(0))
    led.revoke("u2", "training", at=at(100))
    led.grant("u2", "training", at=at(50))  # a late grant takes its place in time
    assert led.allowed("u2", "training", at=at(60)) and not led.allowed("u2", "training")
    led.revoke("u1", "training", at=at(50))  # arrives late, dated in the past
    assert led.allowed("u1", "training", at=at(40))
    assert not led.allowed("u1", "training", at=at(60))
    # ... and, received after the grant of t=200, it voids that grant: withdrawal wins
    assert not led.allowed("u1", "training", at=at(250))
    assert not led.allowed("u1", "training")
    assert led.since("u1", "training") is None
    frame = led.events()
    assert frame["timestamp"].is_monotonic_increasing
    assert list(frame[frame["user_id"] == "u1"]["seq"]) == [1, 7, 2, 3]


def test_future_timestamps_are_refused():
    led = ConsentLedger()
    with pytest.raises(ConsentError, match="in the future"):
        led.grant("u1", "training", at=pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1))
    with pytest.raises(ParameterError, match="'at' parameter"):
        led.grant("u1", "training", at="not a time")


# ------------------------------------------------------------------------------ replay property

_OP = st.tuples(
    st.sampled_from(["grant", "revoke", "deny"]),
    st.sampled_from(["a", "b", 7]),
    st.sampled_from(["personalization", "training"]),
    st.integers(0, 12),
)


def _effective(events, user, purpose):
    """A viewer's events of one purpose in force: a withdrawal voids every grant received
    (recorded) before it and stamped at or after its own time."""
    out = []
    for e in sorted(events, key=lambda e: e[4]):
        if e[0] != str(user) or e[1] != purpose:
            continue
        if e[3] != "grant":
            out = [g for g in out if not (g[3] == "grant" and g[2] >= e[2])]
        out.append(e)
    return out


def _reference(events, user, purpose, t, default):
    """Allowed at time t: the last accepted event in force at t, in (effective time, order)."""
    relevant = [e for e in _effective(events, user, purpose) if e[2] <= t]
    if not relevant:
        return default == "allow"
    return max(relevant, key=lambda e: (e[2], e[4]))[3] == "grant"


def _reference_since(events, user, purpose):
    relevant = sorted(_effective(events, user, purpose), key=lambda e: (e[2], e[4]))
    start = None
    for e in relevant:
        if e[3] == "grant":
            start = e[2] if start is None else start
        else:
            start = None
    return start


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(_OP, max_size=30), default=st.sampled_from(["deny", "allow"]))
def test_replay_matches_a_reference_model(ops, default, ledger_factory):
    led = ledger_factory.make(default=default)
    accepted = []  # (user, purpose, t, op, order)
    for order, (op, user, purpose, t) in enumerate(ops):
        same_time = [e for e in accepted if e[:3] == (str(user), purpose, t)]
        conflict = op == "grant" and any(e[3] != "grant" for e in same_time)
        early_revoke = (
            op == "revoke"
            and default == "deny"
            and not any(
                e[0] == str(user) and e[1] == purpose and e[3] == "grant" for e in accepted
            )
        )
        if conflict or early_revoke:
            with pytest.raises(ConsentError):
                getattr(led, op)(user, purpose, at=at(t))
        else:
            getattr(led, op)(user, purpose, at=at(t))
            accepted.append((str(user), purpose, t, op, order))
    users = ["a", "b", 7, "never-seen"]
    for purpose in ("personalization", "training"):
        for q in (-1, 0, 3, 6, 9, 12, 13):
            want = [_reference(accepted, u, purpose, q, default) for u in users]
            assert [led.allowed(u, purpose, at=at(q)) for u in users] == want
            assert led.allowed_mask(users, purpose, at=at(q)).tolist() == want
        now = [_reference(accepted, u, purpose, 99, default) for u in users]
        assert [led.allowed(u, purpose) for u in users] == now
        assert led.allowed_mask(users, purpose).tolist() == now
        for u in users:
            start = _reference_since(accepted, u, purpose)
            assert led.since(u, purpose) == (None if start is None else at(start))
    replica = ledger_factory.reopen(led)  # another process's view of the same store
    for u in users:
        assert snapshot(replica.state(u)) == snapshot(led.state(u))
        assert replica.allowed(u, "training", at=at(6)) == led.allowed(u, "training", at=at(6))
    with tempfile.TemporaryDirectory() as tmp:
        led.save(Path(tmp) / "c.jsonl")
        back = ConsentLedger.load(Path(tmp) / "c.jsonl", key=ledger_factory.key)
        assert back.default == default
        for u in users:
            assert snapshot(back.state(u)) == snapshot(led.state(u))
            for q in (0, 6, 12):
                assert back.allowed(u, "training", at=at(q)) == led.allowed(u, "training", at=at(q))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(_OP, max_size=25), default=st.sampled_from(["deny", "allow"]))
def test_importing_accepted_events_equals_applying_them(ops, default, ledger_factory):
    """Events imported one export at a time (received in the same order) give the same
    ledger as the same calls; a row identical to a recorded event is skipped by an import
    (re-importing an export is harmless), so the calls skip exact repeats too."""
    led = ledger_factory.make(default=default)
    imported = ConsentLedger(default=default)
    seen = set()
    time_ordered = []
    for op, user, purpose, t in ops:
        if (op, str(user), purpose, t) in seen:
            continue
        try:
            getattr(led, op)(user, purpose, at=at(t))
        except ConsentError:
            continue
        seen.add((op, str(user), purpose, t))
        row = {"user_id": [user], "action": [op], "purpose": [purpose], "timestamp": [at(t)]}
        assert imported.import_frame(pd.DataFrame(row)) == 1
        time_ordered.append((t, op, user, purpose))
    assert imported.users() == led.users()
    for u in led.users():
        assert snapshot(imported.state(u)) == snapshot(led.state(u))
        for q in range(0, 13, 3):
            for p in ("personalization", "training"):
                assert imported.allowed(u, p, at=at(q)) == led.allowed(u, p, at=at(q))
    # a whole export received at once is a history: its rows apply in time order
    rows = sorted(time_ordered, key=lambda r: r[0])
    calls = ConsentLedger(default=default)
    for t, op, user, purpose in rows:
        try:
            getattr(calls, op)(user, purpose, at=at(t))
        except ConsentError:
            return  # same-time opposite rows or revoke-first: refused as a table too
    table = pd.DataFrame(
        [{"user_id": u, "action": op, "purpose": p, "timestamp": at(t)} for t, op, u, p in rows],
        columns=["user_id", "action", "purpose", "timestamp"],
    )
    if any(
        a[0] == b[0] and a[2:] == b[2:] and (a[1] == "grant") != (b[1] == "grant")
        for a in rows
        for b in rows
    ):
        with pytest.raises(ConsentError, match="conflicting events"):
            ConsentLedger.from_frame(table, default=default)  # one export: ambiguous
        return
    whole = ConsentLedger.from_frame(table, default=default)
    for u in calls.users():
        assert snapshot(whole.state(u)) == snapshot(calls.state(u))


# ------------------------------------------------------------------------------ masks


@pytest.mark.parametrize("default", ["deny", "allow"])
def test_allowed_mask_equals_per_user_allowed(default, ledger_factory):
    rng = random.Random(3)
    led = ledger_factory.make(default=default)
    users = [f"u{i}" for i in range(60)] + list(range(40))
    for u in users:
        r = rng.random()
        if r < 0.4:
            led.grant(u, rng.sample(PURPOSES, rng.randint(1, 3)), at=at(rng.randint(0, 50)))
        elif r < 0.6:
            led.deny(u, "training", at=at(rng.randint(0, 50)))
    for u in users[:10]:
        led.forget(u)
    query = users + ["nobody", 999]
    for purpose in PURPOSES:
        for when in (None, at(25), at(60)):
            mask = led.allowed_mask(query, purpose, at=when)
            assert mask.dtype == bool and mask.shape == (len(query),)
            assert mask.tolist() == [led.allowed(u, purpose, at=when) for u in query]
        ints = np.arange(40)
        assert led.allowed_mask(ints, purpose).tolist() == [led.allowed(i, purpose) for i in ints]
        assert led.allowed_mask(pd.Series(query[:5], dtype=object), purpose).shape == (5,)
    assert led.allowed_mask([], "training").shape == (0,)
    with pytest.raises(ParameterError, match="dtype float64"):
        led.allowed_mask(np.array([1.0, 2.0]), "training")


# ------------------------------------------------------------------------------ exclusions, interests


def test_exclusions_and_include(ledger_factory):
    led = ledger_factory.make()
    led.exclude("u1", genres=["Horror", "Gore"], items=["i9", 10], max_maturity="PG-13")
    st_ = led.state("u1")
    assert st_.excluded_genres == {"Horror", "Gore"}
    assert st_.excluded_items == {"i9", "10"}
    assert st_.max_maturity == "PG-13"
    assert st_.purposes == frozenset()  # exclusions need no consent and grant nothing
    led.include("u1", genres="Gore", items=[10])
    led.exclude("u1", max_maturity=12)  # replaces the cap
    st_ = led.state("u1")
    assert st_.excluded_genres == {"Horror"} and st_.excluded_items == {"i9"}
    assert st_.max_maturity == 12
    led.include("u1", clear_maturity=True)
    assert led.state("u1").max_maturity is None
    with pytest.raises(ConsentError, match="nothing to exclude"):
        led.exclude("u1")
    with pytest.raises(ParameterError, match="non-empty strings"):
        led.exclude("u1", genres=[None])


def test_stated_interests_add_move_and_replace(ledger_factory):
    led = ledger_factory.make()
    led.state_interests("u7", genres=["Documentary", "Drama"], disliked_items=["i1"])
    led.state_interests("u7", disliked_genres="Drama", items=["i1"])  # moves both
    s = led.state("u7")
    assert s.liked_genres == {"Documentary"} and s.disliked_genres == {"Drama"}
    assert s.liked_items == {"i1"} and s.disliked_items == frozenset()
    led.state_interests("u7", genres=["Anime"], replace=True)
    s = led.state("u7")
    assert s.liked_genres == {"Anime"} and not s.disliked_genres and not s.liked_items
    with pytest.raises(ConsentError, match="both liked and disliked"):
        led.state_interests("u7", genres=["X"], disliked_genres=["X"])
    assert not led.allowed("u7", "stated_interests")  # stating is not consenting to use


def test_snapshot_is_immutable_and_stable(ledger_factory):
    led = ledger_factory.make()
    led.grant("u1", ["personalization"], at=at(0))
    led.exclude("u1", genres=["Horror"])
    snap = led.state("u1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.purposes = frozenset(PURPOSES)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        snap.excluded_genres.add("Drama")  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        snap.since["training"] = BASE  # type: ignore[index]
    led.revoke("u1", "personalization", at=at(5))
    led.include("u1", genres=["Horror"])
    assert snap.purposes == {"personalization"} and snap.excluded_genres == {"Horror"}
    assert led.state("u1").purposes == frozenset() and led.state("u1").version > snap.version
    assert hash(snap) == hash(snap)
    json.dumps(snap.to_dict())
    json.dumps(led.explain("u1"))


# ------------------------------------------------------------------------------ erasure


def test_forget_leaves_only_a_tombstone_and_refuses_resurrection(tmp_path):
    path = tmp_path / "consent.jsonl"
    led = ConsentLedger(path=path)
    secret = "alice-1f3b9"
    led.grant(secret, PURPOSES, at=at(0))
    led.exclude(secret, genres=["Horror"], items=["title-of-" + secret])
    led.state_interests(secret, genres=["Documentary"])
    led.import_frame(
        pd.DataFrame({"user_id": [secret], "action": ["deny"], "purpose": ["training"]})
    )
    led.grant("bob", "training", at=at(0))
    assert secret.encode() in path.read_bytes()
    assert led.forget(secret) is True
    assert led.forget(secret) is False  # idempotent
    raw = path.read_bytes()
    assert secret.encode() not in raw and b"bob" in raw
    assert led.is_forgotten(secret) and not led.is_forgotten("bob")
    assert led.users() == ["bob"] and secret not in led
    assert all(led.events()["user_id"] != secret)
    st_ = led.state(secret)
    assert st_.forgotten and not st_.purposes and not st_.excluded_genres
    assert led.explain(secret)["purposes"]["training"]["basis"] == "erased"
    with pytest.raises(ConsentError, match="erased") as info:
        led.grant(secret, "training")
    assert secret not in str(info.value)  # the refusal does not echo the erased id
    table = pd.DataFrame(
        {"user_id": ["carol", secret], "action": ["grant", "grant"], "purpose": ["training"] * 2}
    )
    version = led.version
    with pytest.raises(ConsentError, match="row 1, column 'user_id'"):
        led.import_frame(table)
    assert led.version == version and "carol" not in led
    # after save / load (key from the sidecar file) the tombstone still holds
    key_file = Path(str(path) + ".key")
    assert key_file.is_file() and (key_file.stat().st_mode & 0o777) == 0o600
    again = ConsentLedger.load(path)
    assert again.is_forgotten(secret) and again.users() == ["bob"]
    with pytest.raises(ConsentError, match="re-import cannot resurrect"):
        again.import_frame(table)
    with pytest.warns(ConsentFileWarning, match="1 row"):
        assert again.import_frame(table, on_forgotten="skip") == 1
    assert secret.encode() not in path.read_bytes()
    # an explicit reinstate (a new consent by the person) lifts the tombstone
    assert again.reinstate(secret) is True
    again.grant(secret, "training")
    assert again.allowed(secret, "training")
    assert ConsentLedger.load(path).allowed(secret, "training")


def test_forget_of_a_never_seen_viewer_blocks_a_later_import(tmp_path):
    led = ConsentLedger(path=tmp_path / "c.jsonl")
    led.forget("u13")
    assert led.n_forgotten == 1 and b"u13" not in (tmp_path / "c.jsonl").read_bytes()
    with pytest.raises(ConsentError):
        ConsentLedger.load(tmp_path / "c.jsonl").grant("u13", "training")


def test_in_memory_ledger_saved_keeps_tombstones(tmp_path):
    led = ConsentLedger(default="allow")
    led.grant("u1", "training")
    led.forget("u1")
    led.save(tmp_path / "c.jsonl")
    assert b"u1" not in (tmp_path / "c.jsonl").read_bytes()
    back = ConsentLedger.load(tmp_path / "c.jsonl")
    assert back.default == "allow" and back.is_forgotten("u1")
    assert not back.allowed("u1", "training")  # erased viewers get nothing, even under "allow"
    assert back.allowed_mask(["u1", "u2"], "training").tolist() == [False, True]


def test_key_handling_refuses_missing_or_wrong_keys(tmp_path):
    path = tmp_path / "c.jsonl"
    ConsentLedger(path=path, key=b"k" * 32).forget("u1")
    assert not Path(str(path) + ".key").exists()  # a key passed in is never written out
    with pytest.raises(ConsentError, match="key file .* is missing"):
        ConsentLedger.load(path)
    with pytest.raises(ConsentError, match="does not match"):
        ConsentLedger.load(path, key=b"x" * 32)
    assert ConsentLedger.load(path, key=b"k" * 32).is_forgotten("u1")
    with pytest.raises(ParameterError, match="at least 16 bytes"):
        ConsentLedger(key=b"short")
    with pytest.raises(ConsentError, match="default='deny'"):
        ConsentLedger(default="allow", path=path, key=b"k" * 32)


# ------------------------------------------------------------------------------ persistence


def test_every_event_is_appended_and_reloads(tmp_path):
    path = tmp_path / "c.jsonl"
    led = ConsentLedger(path=path)
    led.grant("u1", PURPOSES, at=at(0))
    led.revoke("u1", "training", at=at(5))
    led.exclude("u1", genres=["Horror"])
    lines = path.read_bytes().splitlines()
    assert json.loads(lines[0])["format"] == "fairrec-consent" and len(lines) == 4
    back = ConsentLedger(path=path)
    assert snapshot(back.state("u1")) == snapshot(led.state("u1"))
    assert back.allowed("u1", "training", at=at(3))
    pd.testing.assert_frame_equal(back.events(), led.events())


def test_torn_last_line_is_reported_skipped_and_repaired(tmp_path):
    path = tmp_path / "c.jsonl"
    led = ConsentLedger(path=path)
    led.grant("u1", "training", at=at(0))
    led.grant("u2", "training", at=at(1))
    with open(path, "ab") as fh:  # a crash in the middle of an append
        fh.write(b'{"seq":3,"op":"grant","at":"2024-01-01T00:00:02+00:00","user":"u3","purp')
    with pytest.warns(ConsentFileWarning, match="line 4 .* incomplete"):
        back = ConsentLedger.load(path)
    assert back.users() == ["u1", "u2"]
    back.grant("u3", "training")  # appends cleanly after the repair
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = ConsentLedger.load(path)
    assert again.users() == ["u1", "u2", "u3"]


def test_malformed_line_in_the_middle_is_corruption(tmp_path):
    path = tmp_path / "c.jsonl"
    led = ConsentLedger(path=path)
    for i in range(3):
        led.grant(f"u{i}", "training", at=at(i))
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"seq": 2, "op": "gra\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(ConsentError, match="line 3 .*malformed"):
        ConsentLedger.load(path)
    lines[2] = b'{"seq": 2, "op": "teleport", "at": "2024-01-01T00:00:00+00:00"}\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(ConsentError, match="line 3 fails its checksum"):
        ConsentLedger.load(path)
    lines[2] = line_bytes({"seq": 2, "op": "teleport", "at": "2024-01-01T00:00:00+00:00"})
    path.write_bytes(b"".join(lines))
    with pytest.raises(ConsentError, match="line 3 is not a valid ledger event"):
        ConsentLedger.load(path)


def test_torn_header_of_a_fresh_file_starts_afresh(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"format": "fairrec-con')
    with pytest.warns(ConsentFileWarning, match="line 1"):
        led = ConsentLedger(path=path)
    led.grant("u1", "training")
    assert ConsentLedger.load(path).allowed("u1", "training")


def test_events_frame_and_explain(ledger_factory):
    led = ledger_factory.make()
    led.grant("u1", ["training", "personalization"], at=at(0))
    led.exclude("u1", genres=["Horror"], at=at(1))
    frame = led.events()
    assert list(frame.columns) == ["seq", "timestamp", "user_id", "action", "purpose", "detail"]
    assert len(frame) == 3 and set(frame["purpose"].dropna()) == {"training", "personalization"}
    assert json.loads(frame["detail"].iloc[2])["genres"] == ["Horror"]
    assert str(frame["timestamp"].dt.tz) == "UTC"
    info = led.explain("u1")
    assert info["purposes"]["training"] == {
        "allowed": True,
        "since": "2024-01-01T00:00:00+00:00",
        "basis": "consent",
    }
    assert info["purposes"]["stated_interests"]["basis"] == "not granted"
    assert info["exclusions"]["genres"] == ["Horror"]
    assert "u1" in led and "u2" not in led and len(led) == 1
    empty = ledger_factory.make().events()
    assert empty.empty and list(empty.columns) == list(frame.columns)


def test_import_error_names_the_index_label():
    table = pd.DataFrame(
        {"user_id": ["a", "b"], "action": ["grant", "grant"], "purpose": ["training", "ads"]},
        index=["first", "second"],
    )
    with pytest.raises(UnknownPurposeError, match=r"row 1 \(index 'second'\)"):
        ConsentLedger().import_frame(table)


def test_loading_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_text('{"hello": 1}\n{"x": 2}\n')
    with pytest.raises(ConsentError, match="not a fairrec consent ledger"):
        ConsentLedger.load(path)
    with pytest.raises(ConsentError, match="no consent ledger file"):
        ConsentLedger.load(tmp_path / "missing.jsonl")


# ------------------------------------------------------------------------------ import


def test_import_reads_common_cmp_spellings():
    table = pd.DataFrame(
        {
            "User_ID": [1, 1, 2, 2, "u3", "u3", "u4"],
            "Action": ["Granted", "opt-in", "OPT-OUT", "grant", "exclude", "like", True],
            "Purpose": [
                "training",
                "Personalisation",
                "training",
                "stated interests",
                None,
                None,
                "training",
            ],
            "genre": [None, None, None, None, "Horror", "Documentary", None],
            "timestamp": ["2024-01-01T00:00:00Z", BASE, 1.7e9, None, None, None, None],
            "cmp_vendor": ["x"] * 7,  # unknown columns are ignored
        }
    )
    led = ConsentLedger.from_frame(table)
    assert led.state(1).purposes == {"training", "personalization"}
    assert led.state(2).purposes == {"stated_interests"}
    assert led.state("u3").excluded_genres == {"Horror"}
    assert led.state("u3").liked_genres == {"Documentary"}
    assert led.allowed("u4", "training")
    assert led.since(1, "training") == BASE
    # re-importing the same export records nothing new
    version = led.version
    assert led.import_frame(table.iloc[:3]) == 0 and led.version == version


@pytest.mark.parametrize(
    ("table", "error", "pattern"),
    [
        (
            {"user_id": [1, 2], "action": ["grant", "maybe"], "purpose": ["training"] * 2},
            ConsentError,
            "row 1, column 'action': unknown action 'maybe'",
        ),
        (
            {"user_id": [1, 2], "action": ["grant"] * 2, "purpose": ["training", "ads"]},
            UnknownPurposeError,
            "row 1, column 'purpose'.*personalization, training",
        ),
        (
            {"user_id": [1, None], "action": ["grant"] * 2, "purpose": ["training"] * 2},
            ConsentError,
            "row 1, column 'user_id': missing",
        ),
        ({"user_id": [1], "purpose": ["training"]}, ConsentError, "no column 'action'"),
        (
            {
                "user_id": [1, 1],
                "action": ["grant", "revoke"],
                "purpose": ["training"] * 2,
                "timestamp": ["2024-01-02", "2024-01-01"],
            },
            ConsentError,
            "row 1, column 'action': revoke before grant",
        ),
        (
            {"user_id": [1, 1], "action": ["grant", "denied"], "purpose": ["training"] * 2},
            ConsentError,
            "row 1, column 'action': conflicting events: row 0",
        ),
        (
            {
                "user_id": [1, 1],
                "action": ["grant"] * 2,
                "purpose": ["training"] * 2,
                "timestamp": ["2024-01-01", "yesterday"],
            },
            ConsentError,
            "row 1, column 'timestamp': cannot read 'yesterday'",
        ),
        (
            {
                "user_id": [1],
                "action": ["grant"],
                "purpose": ["training"],
                "timestamp": ["2999-01-01"],
            },
            ConsentError,
            "row 0, column 'timestamp'",
        ),
        (
            {"user_id": [1], "action": ["like"], "purpose": ["training"]},
            ConsentError,
            "row 0, column 'purpose': a 'like' row takes no purpose",
        ),
        ({"user_id": [1], "action": ["exclude"]}, ConsentError, "row 0, column 'genre'"),
        (
            {"user_id": [1.5], "action": ["grant"], "purpose": ["training"]},
            ConsentError,
            "row 0, column 'user_id'",
        ),
    ],
)
def test_malformed_tables_name_row_and_column(table, error, pattern):
    with pytest.raises(error, match=pattern):
        ConsentLedger().import_frame(pd.DataFrame(table))


def test_failed_import_leaves_ledger_and_file_unchanged(tmp_path):
    path = tmp_path / "c.jsonl"
    led = ConsentLedger(path=path)
    led.grant("u1", "training", at=at(0))
    before_bytes = path.read_bytes()
    before_events = led.events()
    before_state = led.state("u1")
    version = led.version
    n = 500
    table = pd.DataFrame(
        {
            "user_id": [f"v{i}" for i in range(n)] + ["u1"],
            "action": ["grant"] * n + ["revoke"],
            "purpose": ["training"] * n + ["personalization"],  # u1 never granted it
            "timestamp": [at(i) for i in range(n)] + [at(-10)],
        }
    )
    with pytest.raises(ConsentError, match=f"row {n}, column 'action': revoke before grant"):
        led.import_frame(table)
    assert path.read_bytes() == before_bytes
    assert led.version == version and led.users() == ["u1"]
    assert led.state("u1") is before_state
    pd.testing.assert_frame_equal(led.events(), before_events)
    assert led.import_frame(table.iloc[:n]) == n  # the valid part imports as one line
    assert len(path.read_bytes().splitlines()) == 3


def test_import_conflict_with_existing_event(ledger_factory):
    led = ledger_factory.make()
    led.deny("u1", "training", at=at(5))
    table = pd.DataFrame(
        {"user_id": ["u1"], "action": ["granted"], "purpose": ["training"], "timestamp": [at(5)]}
    )
    with pytest.raises(ConsentError, match="conflicting events.*already has a revoke/deny"):
        led.import_frame(table)
    led.grant("u2", "training", at=at(5))
    table["user_id"], table["action"] = "u2", "denied"
    assert led.import_frame(table) == 1  # a withdrawal at the time of a grant wins
    assert not led.allowed("u2", "training")


# ------------------------------------------------------------------------------ threads


def test_concurrent_mutations_and_reads_see_consistent_snapshots(ledger_factory):
    led = ledger_factory.make()
    users = [f"u{i}" for i in range(8)]
    for u in users:
        led.grant(u, PURPOSES)
    failures: list[BaseException] = []
    done = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(40):
                u = rng.choice(users)
                r = rng.random()
                if r < 0.4:
                    led.revoke(u, PURPOSES)
                elif r < 0.8:
                    led.grant(u, PURPOSES)
                elif r < 0.9:
                    led.exclude(u, genres=["A", "B"], items=["x", "y"])
                else:
                    led.include(u, genres=["A", "B"], items=["x", "y"])
        except BaseException as exc:
            failures.append(exc)

    def eraser() -> None:
        try:
            for _ in range(10):
                led.grant("ephemeral", PURPOSES)
                led.forget("ephemeral")
                led.reinstate("ephemeral")
        except BaseException as exc:
            failures.append(exc)

    def reader() -> None:
        try:
            while not done.is_set():
                for u in [*users, "ephemeral"]:
                    s = led.state(u)
                    assert s.purposes in (frozenset(), frozenset(PURPOSES)), s
                    assert set(s.since) == set(s.purposes), s
                    assert s.excluded_genres in (frozenset(), frozenset({"A", "B"})), s
                    assert len(s.excluded_items) == len(s.excluded_genres), s
                    assert not (s.forgotten and s.purposes)
                mask = led.allowed_mask(users, "training")
                assert mask.shape == (len(users),)
                led.events()
        except BaseException as exc:
            failures.append(exc)

    writers = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    writers.append(threading.Thread(target=eraser))
    readers = [threading.Thread(target=reader) for _ in range(3)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in readers:
        t.join()
    assert not failures, failures[0]
    back = ledger_factory.reopen(led)
    for u in [*users, "ephemeral"]:
        assert snapshot(back.state(u)) == snapshot(led.state(u))


# ------------------------------------------------------------------------------ audit


def test_audit_log_holds_no_raw_id_and_reads_back(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    secret = "viewer-7c1e2"
    rec = log.record(
        secret, ["personalization"], ["watch_history", "popularity"], page_kind="home", n_items=40
    )
    log.record(12345, [], "popularity", page_kind="home", n_items=20)
    raw = path.read_bytes()
    assert secret.encode() not in raw and b"12345" not in raw
    assert rec["viewer"] == log.viewer_hash(secret) and len(rec["viewer"]) == 64
    frame = AuditLog.read(path)
    assert list(frame.columns) == [
        "time",
        "viewer",
        "purposes",
        "data_used",
        "page_kind",
        "n_items",
    ]
    assert len(frame) == 2 and frame["time"].dt.tz is not None
    assert frame.loc[0, "purposes"] == ["personalization"] and frame.loc[1, "n_items"] == 20
    # the same key (sidecar) gives the same pseudonym after a restart
    assert AuditLog(path).viewer_hash(secret) == rec["viewer"]
    with pytest.raises(DataError, match="does not match"):
        AuditLog(path, key=b"z" * 32)
    with pytest.raises(ParameterError, match="data category"):
        log.record(secret, ["personalization"], ["i watched: Alien (1979)"])
    with pytest.raises(UnknownPurposeError):
        log.record(secret, ["ads"], ["popularity"])
    assert log.erase(secret) == 1 and len(AuditLog.read(path)) == 1


def test_audit_log_threads_and_torn_line(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, fsync=False)
    threads = [
        threading.Thread(
            target=lambda k=k: [log.record(f"u{k}", ["training"], ["history"]) for _ in range(25)]
        )
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(AuditLog.read(path)) == 100
    with open(path, "ab") as fh:
        fh.write(b'{"time": "2024-01-01T00:00:00+00:00", "vie')
    with pytest.warns(ConsentFileWarning, match="line 102"):
        assert len(AuditLog.read(path)) == 100
    with pytest.warns(ConsentFileWarning):
        reopened = AuditLog(path)
    reopened.record("u1", [], ["popularity"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(AuditLog.read(path)) == 101


def test_tombstone_and_audit_hashes_are_unlinkable(tmp_path):
    key = b"s" * 32
    led = ConsentLedger(path=tmp_path / "c.jsonl", key=key)
    led.forget("u1")
    log = AuditLog(tmp_path / "a.jsonl", key=key)
    tomb = json.loads((tmp_path / "c.jsonl").read_bytes().splitlines()[-1])["hash"]
    assert tomb != log.viewer_hash("u1")


def test_key_file_permissions_are_private(tmp_path):
    AuditLog(tmp_path / "a.jsonl")
    if os.name == "posix":
        assert (Path(str(tmp_path / "a.jsonl") + ".key").stat().st_mode & 0o077) == 0


def test_audit_log_with_a_damaged_non_ascii_key_check_raises_a_data_error(tmp_path):
    import json

    from fairrec.audit import AuditLog
    from fairrec.errors import DataError

    path = tmp_path / "audit.jsonl"
    AuditLog(path, key=b"k" * 32).record("u1", ["personalization"], ["watch_history"])
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    header["key_check"] = "é" * 8
    lines[0] = json.dumps(header)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="key does not match"):
        AuditLog(path, key=b"k" * 32)
