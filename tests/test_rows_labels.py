"""Every reason a row kind writes names its data with the one label table
(:func:`fairrec.page.describe_data_used` over :func:`fairrec.page.data_label`): the
parenthesised label of a reason is exactly the label of the categories the reason declares in
``data_used``, and no row module hand-types a label (issue 17)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import pytest

import fairrec as fr
import fairrec.rows as rows_pkg
from fairrec.page import DATA_LABELS, describe_data_used
from fairrec.rows import MoreLikeThis, NewForYou, OutsideYourBubble, default_rows

NOW = pd.Timestamp("2025-07-01")
LABELS = sorted(set(DATA_LABELS.values()))
# a parenthesised group that starts with a label: "(your watch history)",
# "(your stated interests and your watch history)", "(no personal data)"
NOTE = re.compile(r"\(((?:" + "|".join(map(re.escape, LABELS)) + r")[^()]*)\)")


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """String constants of a module, docstrings left out (f-string parts included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_row_module_hand_types_a_data_label():
    found = []
    for path in sorted(Path(rows_pkg.__file__).parent.glob("*.py")):
        for line, text in _string_literals(path):
            found += [f"{path.name}:{line}: {text!r}" for label in LABELS if f"({label}" in text]
    assert found == []


def test_the_literal_scan_finds_a_hand_typed_label(tmp_path):
    # the scan above can fail: a hand-typed label in a string (f-string part too) is found
    bad = tmp_path / "bad.py"
    bad.write_text(
        '"""(your watch history) in a docstring is fine."""\nx = f"{1} (your watch history)"\n'
    )
    texts = [t for _, t in _string_literals(bad)]
    assert any("(your watch history)" in t for t in texts)
    assert not any("docstring" in t for t in texts)


@pytest.fixture(scope="module")
def pages(small_data):
    data = small_data
    ledger = fr.ConsentLedger(default="allow")
    users = list(data.user_ids[:40])
    for v in users[:12]:
        ledger.grant(v, "stated_interests")
        ledger.state_interests(v, genres=["Drama"])
    for v in users[12:20]:  # not personalized: popular rows, stated interests alone
        ledger.revoke(v, "personalization")
    for v in users[16:20]:
        ledger.grant(v, "stated_interests")
        ledger.state_interests(v, genres=["Comedy"])
    rec = fr.Recommender(
        model=fr.models.ALS(factors=8, iterations=4, random_state=0),
        consent=ledger,
        clock=lambda: NOW,
        row_size=8,
        rows=[
            *default_rows(),
            OutsideYourBubble(min_neighbors=2, max_overlap=0.5, max_popularity=1.0),
            NewForYou(),
            MoreLikeThis(),
        ],
        min_row_items=1,
        max_rows=20,
    ).fit(data)
    rec.add_titles(pd.DataFrame({"item_id": ["n1", "n2"], "genres": [["Drama"], ["Comedy"]]}))
    return [rec.home(u) for u in users]


def test_every_reason_names_exactly_the_label_of_its_declared_data(pages):
    kinds = set()
    checked = 0
    for page in pages:
        for row in page.rows:
            kinds.add(row.kind)
            for reason in [row.reason, *(item.reason for item in row.items)]:
                expected = describe_data_used(reason.data_used)
                assert NOTE.findall(reason.text) == [expected], (row.kind, reason.text)
                assert reason.text.endswith(f"({expected})"), (row.kind, reason.text)
                checked += 1
    assert checked > 100
    # the row kinds whose reasons were checked: every kind of the default page and both live
    # kinds, in personalized and non-personalized variants
    assert {
        "top_picks",
        "because_you_watched",
        "stated_interests",
        "hidden_gems",
        "off_the_mainstream",
        "outside_your_bubble",
        "diverse_popular",
        "popular_in_genre",
        "new_for_you",
        "more_like_this",
    } <= kinds, kinds
