"""The rows stage as a package (issue 17): the public names and the deprecated aliases of the
modules that moved keep working, and they are the very same objects."""

from __future__ import annotations

import importlib

import fairrec.rows as rows


def test_live_rows_alias_gives_the_same_row_kinds():
    live_rows = importlib.import_module("fairrec.live_rows")
    assert live_rows.NewForYou is rows.NewForYou
    assert live_rows.MoreLikeThis is rows.MoreLikeThis
    assert set(live_rows.__all__) <= set(rows.__all__)


def test_evidence_alias_gives_the_same_functions():
    old = importlib.import_module("fairrec.evidence")
    new = importlib.import_module("fairrec.rows.evidence")
    assert old.__all__
    for name in old.__all__:
        assert getattr(old, name) is getattr(new, name), name
    assert set(new.__all__) <= set(old.__all__)


def test_every_public_name_of_rows_is_importable_from_the_package():
    for name in rows.__all__:
        obj = getattr(rows, name)
        assert obj.__module__.startswith("fairrec.rows"), name


def test_mark_taken_marks_shown_titles_only():
    import numpy as np

    taken = np.zeros((3, 5), dtype=bool)
    items = np.array([[4, 1, -1], [0, 2, 3], [1, -1, -1]])
    rows.mark_taken(taken, items, np.array([True, False, True]))
    assert taken.tolist() == [
        [False, True, False, False, True],  # -1 padding marks nothing
        [False] * 5,  # the row is not shown to viewer 1
        [False, True, False, False, False],
    ]
    assert rows._mark is rows.mark_taken  # the former private name, kept for fairrec.assembly
