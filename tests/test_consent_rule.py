"""The ordering rule of consent events is stated once (fairrec.consent._replay) and the two
ways in -- a ledger method and an imported table -- accept and refuse the same events."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairrec.consent import ConsentLedger
from fairrec.consent._replay import first_problem
from fairrec.errors import ConsentError

BASE = pd.Timestamp("2024-01-01", tz="UTC")


def at(seconds: int) -> pd.Timestamp:
    return BASE + pd.Timedelta(seconds=seconds)


_events = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.sampled_from(["grant", "revoke", "deny"]),
        st.sampled_from(["training", "personalization"]),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(events=_events, default=st.sampled_from(["deny", "allow"]))
def test_a_method_and_a_one_row_table_accept_and_refuse_the_same_events(events, default):
    """Event by event, through ``grant`` / ``revoke`` / ``deny`` on one ledger and one-row
    tables on another: the same events are refused (for the same reason) and both ledgers
    answer the same, now and at every time."""
    by_call = ConsentLedger(default=default)
    by_table = ConsentLedger(default=default)
    recorded = set()
    for event in events:
        user, op, purpose, t = event
        if event in recorded:  # a row identical to a recorded event is skipped by an import
            continue  # (re-importing an export is harmless); a method call records it again
        try:
            getattr(by_call, op)(user, purpose, at=at(t))
            refused_call = None
        except ConsentError as exc:
            refused_call = str(exc)
        row = pd.DataFrame(
            {"user_id": [user], "action": [op], "purpose": [purpose], "timestamp": [at(t)]}
        )
        try:
            by_table.import_frame(row)
            refused_table = None
        except ConsentError as exc:
            refused_table = str(exc)
        assert (refused_call is None) == (refused_table is None), (refused_call, refused_table)
        if refused_call is None:
            recorded.add(event)
        if refused_call is not None:  # the same rule, named the same way
            kind = "revoke before grant" if "revoke before grant" in refused_call else "conflict"
            assert kind in refused_table
    for user in ("a", "b"):
        assert by_call.state(user).purposes == by_table.state(user).purposes
        for t in range(4):
            for p in ("training", "personalization"):
                assert by_call.allowed(user, p, at=at(t)) == by_table.allowed(user, p, at=at(t))


def test_first_problem_states_each_case_of_the_rule():
    led = ConsentLedger(default="deny")
    led.grant("u", "training", at=at(5))
    led.deny("v", "training", at=at(5))
    lines = led._by_user
    # 1. a grant at the time of a recorded withdrawal: conflict (naming the withdrawal)
    p = first_problem([("v", "grant", "training", at(5).value)], lines, False)
    assert p is not None and p.kind == "conflict" and p.recorded_op == "deny"
    # ... a withdrawal at the time of a recorded grant simply wins
    assert first_problem([("u", "deny", "training", at(5).value)], lines, False) is None
    # 2. inside one batch, opposite actions at one time conflict whatever their order
    batch = [("w", "deny", "training", 7), ("w", "grant", "training", 7)]
    p = first_problem(batch, lines, True)
    assert p is not None and (p.kind, p.index, p.other) == ("conflict", 1, 0)
    p = first_problem(batch[::-1], lines, True)
    assert p is not None and (p.kind, p.index, p.other) == ("conflict", 1, 0)
    # 3. revoke before grant (default deny only): a recorded grant counts at any time ...
    assert first_problem([("u", "revoke", "training", at(1).value)], lines, False) is None
    p = first_problem([("u", "revoke", "personalization", 9)], lines, False)
    assert p is not None and p.kind == "revoke before grant" and p.known_user
    p = first_problem([("new", "revoke", "training", 9)], lines, False)
    assert p is not None and not p.known_user
    assert first_problem([("new", "revoke", "training", 9)], lines, True) is None
    # ... a grant of the same batch only when dated earlier
    assert (
        first_problem([("n", "revoke", "training", 9), ("n", "grant", "training", 8)], {}, False)
        is None
    )
    p = first_problem([("n", "grant", "training", 9), ("n", "revoke", "training", 8)], {}, False)
    assert p is not None and p.kind == "revoke before grant" and p.index == 1
    # conflicts are reported before revoke-before-grant problems
    batch = [
        ("n", "revoke", "training", 1),
        ("m", "grant", "training", 2),
        ("m", "deny", "training", 2),
    ]
    p = first_problem(batch, {}, False)
    assert p is not None and (p.kind, p.index) == ("conflict", 2)


def test_the_ledger_methods_and_the_import_use_the_one_rule(monkeypatch):
    """Both ways in call _replay.first_problem: replacing it changes both."""
    import fairrec.consent._import as imp
    import fairrec.consent._ledger as ledger_mod

    calls = []

    def spy(drafts, timelines, allow):
        calls.append(list(drafts))
        return first_problem(drafts, timelines, allow)

    monkeypatch.setattr(ledger_mod, "first_problem", spy)
    monkeypatch.setattr(imp, "first_problem", spy)
    led = ConsentLedger()
    led.grant("u", ["training", "personalization"], at=at(1))
    led.import_frame(
        pd.DataFrame(
            {"user_id": ["u"], "action": ["revoke"], "purpose": ["training"], "timestamp": [at(2)]}
        )
    )
    assert calls == [
        [("u", "grant", "training", at(1).value), ("u", "grant", "personalization", at(1).value)],
        [("u", "revoke", "training", at(2).value)],
    ]
    with pytest.raises(ConsentError, match="revoke before grant"):
        led.revoke("u", "stated_interests", at=at(3))
