"""Tests of fairrec.page: immutable home page objects and their renderers."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import importlib.util
import json
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fairrec.page as page_module
from fairrec.errors import DataError, ParameterError
from fairrec.page import (
    DATA_CATALOG_POPULARITY,
    DATA_STATED_INTERESTS,
    DATA_WATCH_HISTORY,
    FRAME_COLUMNS,
    FRAME_DTYPES,
    HomePage,
    Item,
    Reason,
    Row,
    data_used_cell,
    describe_data_used,
    evidence_cell,
    frame_from_columns,
    pages_to_frame,
    pages_to_html,
)

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "check_html_render.py"

WATCHED = Reason(
    "because_you_watched",
    "Because you watched Alien (your watch history)",
    (DATA_WATCH_HISTORY,),
    anchor="Alien",
)
GEM = Reason(
    "hidden_gems",
    "A hidden gem for fans of your stated interest Documentary (your stated interests)",
    (DATA_STATED_INTERESTS,),
    anchor="Documentary",
)
POPULAR = Reason(
    "diverse_popular", "Popular across genres (no personal data)", ("catalog_popularity",)
)


def make_page(user_id: str | int = "u42") -> HomePage:
    rows = (
        Row(
            "Because you watched Alien",
            "because_you_watched",
            (
                Item("i1", "Aliens", 0.93, WATCHED, ("Sci-Fi", "Action")),
                Item("i2", "The Thing", 0.81, WATCHED, ("Horror",)),
            ),
            reason=WATCHED,
        ),
        Row(
            "Hidden gems: Documentary",
            "hidden_gems",
            (Item(7, "Salt and Silence", 0.52, GEM, ("Documentary",)),),
            reason=GEM,
        ),
        Row(
            "Popular across genres",
            "diverse_popular",
            (
                Item("i3", "The Grand Heist", 1843.0, POPULAR),
                Item("i4", "Summer at Lake Mira", 1610.0, POPULAR, ("Romance",)),
                Item("i5", "Laugh Track", 1188.0, POPULAR, ("Comedy",)),
            ),
            reason=POPULAR,
        ),
    )
    return HomePage(
        user_id,
        rows,
        personalized=True,
        data_used=(DATA_WATCH_HISTORY, DATA_STATED_INTERESTS, DATA_CATALOG_POPULARITY),
        generated_at=pd.Timestamp("2025-01-15 09:30:00.123456789", tz="UTC"),
        consent_version=3,
    )


# ------------------------------------------------------------------ immutability, shape


def test_objects_are_frozen_and_slotted():
    page = make_page()
    targets = [
        (WATCHED, "text"),
        (page.rows[0].items[0], "score"),
        (page.rows[0], "items"),
        (page, "rows"),
        (page, "personalized"),
    ]
    for obj, name in targets:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, None)
    with pytest.raises((AttributeError, TypeError)):
        page.extra = 1  # slots: no __dict__
    assert not hasattr(page, "__dict__")


def test_lists_are_stored_as_tuples_and_copied():
    cats = [DATA_WATCH_HISTORY]
    reason = Reason("top_picks", "Top picks (your watch history)", cats)
    items = [Item("a", "A", 1.0, reason, ["Drama"])]
    row = Row("Top picks", "top_picks", items)
    rows = [row]
    page = HomePage("u", rows, personalized=True, data_used=[DATA_WATCH_HISTORY])
    cats.append("stated_interests")
    items.append(Item("b", "B", 0.5, reason))
    rows.append(row)
    assert reason.data_used == (DATA_WATCH_HISTORY,)
    assert isinstance(page.rows, tuple) and len(page.rows) == 1
    assert isinstance(row.items, tuple) and len(row) == 1
    assert row.items[0].genres == ("Drama",)
    assert page.data_used == (DATA_WATCH_HISTORY,)


def test_accessors():
    page = make_page()
    assert page.rows[0].title == "Because you watched Alien"
    assert page.rows[0].items[0].reason.text.startswith("Because you watched Alien")
    assert page.rows[0].item_ids == ("i1", "i2")
    assert len(page.rows[2]) == 3
    assert page.items == ("i1", "i2", 7, "i3", "i4", "i5")
    assert [row.kind for row in page] == ["because_you_watched", "hidden_gems", "diverse_popular"]
    assert page.rows[0].items[0].reason.anchor == "Alien"
    assert WATCHED.personal and not POPULAR.personal
    assert POPULAR.data_text == "no personal data"
    assert "rows=3" in repr(page) and "items=6" in repr(page)


def test_numpy_scalars_become_plain_python():
    item = Item(np.int64(5), np.str_("Title"), np.float32(0.25), WATCHED)
    assert type(item.item_id) is int and type(item.score) is float and type(item.title) is str
    page = HomePage(np.int32(9), (Row("R", "k", (item,)),), np.bool_(True), (DATA_WATCH_HISTORY,))
    assert type(page.user_id) is int and page.personalized is True


@pytest.mark.parametrize(
    "build, fragment",
    [
        (lambda: Item("a", "A", float("nan"), WATCHED), "score"),
        (lambda: Item("a", "A", np.inf, WATCHED), "score"),
        (lambda: Item("a", "A", "0.5", WATCHED), "score"),
        (lambda: Item("a", "A", True, WATCHED), "score"),
        (lambda: Item(1.0, "A", 0.5, WATCHED), "item_id"),
        (lambda: Item(None, "A", 0.5, WATCHED), "item_id"),
        (lambda: Item("a", "", 0.5, WATCHED), "title"),
        (lambda: Item("a", "A", 0.5, "because"), "reason"),
        (lambda: Item("a", "A", 0.5, WATCHED, "Drama"), "genres"),
        (lambda: Reason("k", "   "), "Reason.text"),
        (lambda: Reason("k", "t", ("a|b",)), "Reason.data_used"),
        (lambda: Reason("k", "t", "watch_history"), "Reason.data_used"),
        (lambda: Row("R", "k", (Item("a", "A", 1, WATCHED), Item("a", "B", 1, WATCHED))), "'a'"),
        (lambda: Row("R", "k", ("a",)), "items[0]"),
        (lambda: HomePage("u", (), "yes", ()), "personalized"),
        (lambda: HomePage("u", (), False, (), generated_at="not a date"), "generated_at"),
        (lambda: HomePage("u", (), False, (), consent_version=1.5), "consent_version"),
    ],
)
def test_bad_values_raise_data_error_naming_the_field(build, fragment):
    with pytest.raises(DataError, match=None) as info:
        build()
    assert fragment in str(info.value)


def test_a_title_appears_once_per_page():
    rows = (
        Row("A", "top_picks", (Item("i1", "Aliens", 0.9, WATCHED),)),
        Row("B", "because_you_watched", (Item("i1", "Aliens", 0.8, WATCHED),)),
    )
    with pytest.raises(DataError, match="'i1' appears in row 0 and in row 1"):
        HomePage("u", rows, personalized=True, data_used=(DATA_WATCH_HISTORY,))


def test_page_must_declare_every_data_category_its_reasons_use():
    row = Row("Hidden gems", "hidden_gems", (Item("i1", "A", 0.5, GEM),))
    with pytest.raises(DataError, match="stated_interests"):
        HomePage("u", (row,), personalized=True, data_used=(DATA_WATCH_HISTORY,))
    row_reason_only = Row("Gems", "hidden_gems", (Item("i1", "A", 0.5, POPULAR),), reason=GEM)
    with pytest.raises(DataError, match="stated_interests"):
        HomePage("u", (row_reason_only,), personalized=True, data_used=(DATA_CATALOG_POPULARITY,))


def test_describe_data_used():
    assert describe_data_used([DATA_WATCH_HISTORY, DATA_CATALOG_POPULARITY]) == (
        "your watch history"
    )
    assert describe_data_used([DATA_WATCH_HISTORY, DATA_STATED_INTERESTS]) == (
        "your watch history and your stated interests"
    )
    assert describe_data_used([DATA_CATALOG_POPULARITY]) == "no personal data"
    assert describe_data_used(["similar_viewers"]) == "similar viewers"


def test_docstring_examples():
    """The package's examples, wherever in ``fairrec.page`` their object is defined."""
    modules = [page_module] + [
        importlib.import_module(f"fairrec.page.{info.name}")
        for info in pkgutil.iter_modules(page_module.__path__)
    ]
    assert len(modules) > 5
    results = [doctest.testmod(module, verbose=False) for module in modules]
    assert sum(r.attempted for r in results) > 10
    assert sum(r.failed for r in results) == 0


# ------------------------------------------------------------------ frames


def test_to_frame_values_and_schema():
    frame = make_page().to_frame()
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == dict(FRAME_DTYPES)
    assert isinstance(frame.index, pd.RangeIndex) and len(frame) == 6
    assert frame["row"].tolist() == [0, 0, 1, 2, 2, 2]
    assert frame["position"].tolist() == [0, 1, 0, 0, 1, 2]
    assert frame["item_id"].tolist() == ["i1", "i2", 7, "i3", "i4", "i5"]
    assert frame["user_id"].unique().tolist() == ["u42"]
    assert frame["row_title"].iloc[2] == "Hidden gems: Documentary"
    assert frame["row_kind"].iloc[3] == "diverse_popular"
    assert frame["title"].iloc[0] == "Aliens"
    assert frame["score"].iloc[3] == 1843.0
    assert frame["reason_kind"].iloc[2] == "hidden_gems"
    assert frame["reason"].iloc[0] == WATCHED.text
    assert frame["data_used"].tolist()[:3] == ["watch_history"] * 2 + ["stated_interests"]


def test_to_frame_of_empty_page_has_same_schema():
    frame = HomePage.empty("u1").to_frame()
    assert frame.shape == (0, len(FRAME_COLUMNS))
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == dict(FRAME_DTYPES)
    # an empty row contributes no lines either
    empty_row = HomePage("u1", (Row("Nothing yet", "top_picks", ()),), False, ())
    assert empty_row.to_frame().shape == (0, len(FRAME_COLUMNS))
    both = pd.concat([frame, make_page().to_frame()], ignore_index=True)
    assert {c: str(t) for c, t in both.dtypes.items()} == dict(FRAME_DTYPES)


def test_multi_category_reason_is_pipe_joined():
    reason = Reason(
        "mixed",
        "Mixed (your watch history and your stated interests)",
        (DATA_WATCH_HISTORY, DATA_STATED_INTERESTS),
    )
    page = HomePage(
        "u",
        (Row("R", "k", (Item("a", "A", 1.0, reason),)),),
        True,
        (DATA_WATCH_HISTORY, DATA_STATED_INTERESTS),
    )
    assert page.to_frame()["data_used"].iloc[0] == "watch_history|stated_interests"


def test_pages_to_frame_equals_concatenated_frames():
    pages = [make_page("u1"), HomePage.empty("u2"), make_page(3)]
    expected = pd.concat([p.to_frame() for p in pages], ignore_index=True)
    got = pages_to_frame(pages)
    pd.testing.assert_frame_equal(got, expected)
    assert got["user_id"].unique().tolist() == ["u1", 3]
    pd.testing.assert_frame_equal(pages_to_frame(iter(pages)), expected)
    empty = pages_to_frame([])
    assert tuple(empty.columns) == FRAME_COLUMNS and len(empty) == 0
    assert {c: str(t) for c, t in empty.dtypes.items()} == dict(FRAME_DTYPES)
    with pytest.raises(DataError, match=r"pages\[1\]"):
        pages_to_frame([make_page(), "not a page"])


def _columns_of(page: HomePage) -> dict:
    frame = page.to_frame()
    return {name: frame[name].tolist() for name in FRAME_COLUMNS}


def test_frame_from_columns_is_the_writer_of_to_frame():
    page = make_page()
    pd.testing.assert_frame_equal(frame_from_columns(_columns_of(page)), page.to_frame())
    # numeric id arrays become plain ints, arrays of any kind are typed like lists
    cols = _columns_of(page)
    cols["user_id"] = np.array([5] * len(cols["user_id"]), dtype=np.int32)
    cols["row"] = np.asarray(cols["row"], dtype=np.int32)
    cols["title"] = np.asarray(cols["title"], dtype=object)
    frame = frame_from_columns(cols)
    assert {c: str(t) for c, t in frame.dtypes.items()} == dict(FRAME_DTYPES)
    assert [type(x) for x in frame["user_id"]] == [int] * len(frame)
    assert frame["title"].tolist() == page.to_frame()["title"].tolist()
    empty = frame_from_columns({name: np.array([]) for name in FRAME_COLUMNS})
    pd.testing.assert_frame_equal(empty, HomePage.empty("u").to_frame())


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda c: c.pop("evidence"), r"\['evidence'\] are missing"),
        (lambda c: c.update(extra=[1] * 6), r"unknown column\(s\) \['extra'\]"),
        (lambda c: c.update(score=[1.0]), r"differ in length: .*'score': 1"),
        (lambda c: c.update(row=[0.0, 0.5, 1.0, 2.0, 2.0, 2.0]), r"'row' must hold ints"),
        (lambda c: c.update(position=["0"] * 6), r"'position' must hold ints"),
    ],
)
def test_frame_from_columns_names_the_column_at_fault(change, fragment):
    cols = _columns_of(make_page())
    change(cols)
    with pytest.raises(DataError, match=fragment):
        frame_from_columns(cols)
    with pytest.raises(DataError, match="mapping"):
        frame_from_columns([("user_id", [])])


def test_cells_are_written_one_way():
    reason = Reason(
        "k", "t", (DATA_WATCH_HISTORY, DATA_STATED_INTERESTS), evidence={"b": 1.5, "a": [1, "x"]}
    )
    page = HomePage("u", (Row("R", "k", (Item("a", "A", 1.0, reason),)),), True, reason.data_used)
    frame = page.to_frame()
    assert (
        frame["data_used"].iloc[0]
        == data_used_cell(reason.data_used)
        == "watch_history|stated_interests"
    )
    assert frame["evidence"].iloc[0] == evidence_cell(reason.evidence) == '{"a":[1,"x"],"b":1.5}'
    assert json.loads(frame["evidence"].iloc[0]) == reason.to_dict()["evidence"]
    assert data_used_cell(()) == "" and evidence_cell(None) == ""


_JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_JSON_VALUE = st.recursive(
    _JSON_LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(evidence=st.dictionaries(st.text(max_size=6), _JSON_VALUE, max_size=6))
def test_evidence_cell_is_compact_sorted_json(evidence):
    # the cell is written by a C encoder built once (page._schema): the same text as the
    # json module's with the documented options, for any JSON evidence
    want = json.dumps(evidence, sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert evidence_cell(evidence) == want
    assert json.loads(evidence_cell(evidence)) == json.loads(want)


def test_evidence_cell_refuses_what_json_refuses():
    # whichever encoder this Python gives page._schema (the quick C one or json's own)
    for bad in ({"x": float("nan")}, {"x": float("inf")}):
        with pytest.raises(ValueError):
            evidence_cell(bad)
    with pytest.raises(TypeError):
        evidence_cell({"x": object()})


def test_trusted_constructors_equal_the_validating_ones():
    page = make_page()
    rows = []
    for row in page.rows:
        items = tuple(
            Item.trusted(
                it.item_id,
                it.title,
                it.score,
                Reason.trusted(
                    it.reason.kind, it.reason.text, it.reason.data_used, it.reason.anchor
                ),
                it.genres,
            )
            for it in row.items
        )
        rows.append(Row.trusted(row.title, row.kind, items, row.reason))
    fast = HomePage.trusted(
        page.user_id,
        tuple(rows),
        page.personalized,
        page.data_used,
        page.generated_at,
        page.consent_version,
    )
    assert type(fast) is HomePage and fast == page and fast.to_dict() == page.to_dict()
    assert repr(fast) == repr(page) and str(fast) == str(page)
    pd.testing.assert_frame_equal(fast.to_frame(), page.to_frame())
    assert HomePage.from_dict(fast.to_dict()) == fast  # the validating route agrees
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.rows = ()  # type: ignore[misc]


# ------------------------------------------------------------------ dict / JSON


def test_to_dict_round_trip_and_plain_types():
    page = make_page()
    d = page.to_dict()
    assert HomePage.from_dict(d) == page
    text = json.dumps(d)  # plain JSON types only
    assert HomePage.from_dict(json.loads(text)) == page
    assert HomePage.from_json(page.to_json(indent=2)) == page
    assert d["rows"][0]["items"][0]["reason"] == {
        "kind": "because_you_watched",
        "text": WATCHED.text,
        "data_used": ["watch_history"],
        "anchor": "Alien",
    }
    assert d["generated_at"] == "2025-01-15T09:30:00.123456789+00:00"
    assert HomePage.from_dict(HomePage.empty("x").to_dict()) == HomePage.empty("x")


def test_json_with_numpy_scalars():
    item = Item(np.int64(11), "Deep Field", np.float32(0.765), WATCHED)
    page = HomePage(np.int64(4), (Row("R", "k", [item]),), True, (DATA_WATCH_HISTORY,))
    d = json.loads(page.to_json())
    assert d["user_id"] == 4 and d["rows"][0]["items"][0]["item_id"] == 11
    assert d["rows"][0]["items"][0]["score"] == pytest.approx(0.765, rel=1e-6)
    assert HomePage.from_json(page.to_json()) == page


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: d.pop("rows"), "missing key(s) ['rows']"),
        (lambda d: d.update(colour="red"), "unknown key(s) ['colour']"),
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d.update(rows={"a": 1}), "page.rows must be a list"),
        (lambda d: d["rows"][1]["items"][0].update(score="high"), "page.rows[1].items[0]"),
        (lambda d: d["rows"][0]["items"][1]["reason"].pop("text"), "page.rows[0].items[1].reason"),
        (lambda d: d["rows"][2].update(reason=[1]), "page.rows[2].reason must be a dict"),
        (lambda d: d["rows"][0]["items"][0].update(genres="Drama"), "genres must be a list"),
        (lambda d: d.update(data_used=["watch_history"]), "does not declare"),
        (lambda d: d.update(user_id=None), "user_id"),
    ],
)
def test_from_dict_rejects_bad_input_with_a_path(mutate, fragment):
    d = make_page().to_dict()
    mutate(d)
    with pytest.raises(DataError) as info:
        HomePage.from_dict(d)
    assert fragment in str(info.value)


def test_from_json_rejects_bad_json():
    with pytest.raises(DataError, match="not valid JSON"):
        HomePage.from_json("{rows: [")
    with pytest.raises(DataError, match="must be a dict"):
        HomePage.from_json("[1, 2]")


ids = st.one_of(st.integers(-(2**40), 2**40), st.text(min_size=1, max_size=6))
texts = st.text(min_size=1, max_size=24).filter(str.strip)
categories = st.sampled_from(
    [DATA_WATCH_HISTORY, DATA_STATED_INTERESTS, DATA_CATALOG_POPULARITY, "similar_viewers"]
)
reasons = st.builds(
    Reason,
    kind=texts,
    text=texts,
    data_used=st.lists(categories, max_size=3).map(tuple),
    anchor=st.none() | texts,
    evidence=st.none()
    | st.dictionaries(
        texts,
        st.integers(-(10**9), 10**9) | st.floats(allow_nan=False, allow_infinity=False) | texts,
        max_size=3,
    ),
)


@st.composite
def pages(draw):
    item_ids = draw(st.lists(ids, unique=True, max_size=12))
    cuts = sorted(draw(st.lists(st.integers(0, len(item_ids)), max_size=4)))
    bounds = [0, *cuts, len(item_ids)]
    rows = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        items = tuple(
            Item(
                item_id,
                draw(texts),
                draw(st.floats(allow_nan=False, allow_infinity=False, width=64)),
                draw(reasons),
                tuple(draw(st.lists(texts, max_size=2))),
            )
            for item_id in item_ids[start:stop]
        )
        rows.append(Row(draw(texts), draw(texts), items, draw(st.none() | reasons)))
    used = {c for row in rows for c in row.data_used}
    extra = draw(st.lists(categories, max_size=2))
    stamp = draw(
        st.none()
        | st.datetimes(min_value=pd.Timestamp("1990-01-01"), max_value=pd.Timestamp("2100-01-01"))
    )
    return HomePage(
        draw(ids),
        tuple(rows),
        personalized=draw(st.booleans()),
        data_used=tuple(sorted(used)) + tuple(extra),
        generated_at=stamp,
        consent_version=draw(st.none() | st.integers(0, 10**6)),
    )


@settings(max_examples=60, deadline=None)
@given(pages())
def test_property_round_trips_and_renderings(page):
    assert HomePage.from_json(page.to_json()) == page
    frame = page.to_frame()
    assert len(frame) == len(page.items)
    assert frame["item_id"].tolist() == list(page.items)  # ids keep their type
    assert {c: str(t) for c, t in frame.dtypes.items()} == dict(FRAME_DTYPES)
    fragment = page._repr_html_()
    assert "<script" not in fragment.lower()
    assert fragment.count('class="frp-card') == len(page.items)
    assert str(page)  # never raises


@settings(max_examples=40, deadline=None)
@given(st.lists(pages(), max_size=3))
def test_property_one_writer_for_every_route(many):
    """pages_to_frame, to_frame and frame_from_columns of the frame's own columns agree, and
    each line's cells are the writers' cells of that item's reason."""
    frame = pages_to_frame(many)
    expected = pd.concat([p.to_frame() for p in many] or [pages_to_frame([])], ignore_index=True)
    pd.testing.assert_frame_equal(frame, expected)
    again = frame_from_columns({name: frame[name].tolist() for name in FRAME_COLUMNS})
    pd.testing.assert_frame_equal(again, frame)
    reasons = [item.reason for p in many for row in p.rows for item in row.items]
    assert frame["data_used"].tolist() == [data_used_cell(r.data_used) for r in reasons]
    assert frame["evidence"].tolist() == [evidence_cell(r.evidence) for r in reasons]


# ------------------------------------------------------------------ text and HTML


def test_str_shows_rows_titles_and_reasons():
    text = str(make_page())
    for row in make_page().rows:
        assert row.title in text
        for item in row.items:
            assert item.title in text
            assert item.reason.text in text
    assert "1. Because you watched Alien" in text
    assert "personalized" in text and "consent version 3" in text
    assert "(no rows)" in str(HomePage.empty("u"))


def test_str_truncates_long_titles_and_rows():
    long_title = "An Extraordinarily Long Title That Goes On\nand On " * 4
    items = [Item("i0", long_title, 0.5, WATCHED)]
    items += [Item(f"i{k}", f"Title number {k}", 0.5, WATCHED) for k in range(1, 15)]
    page = HomePage("u", (Row("Long row", "k", items),), True, (DATA_WATCH_HISTORY,))
    text = page.to_text(max_items=5, width=80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "... and 10 more" in text
    assert "Title number 4" in text and "Title number 5" not in text
    long_line = next(line for line in lines if line.startswith("   1. "))
    assert long_line.startswith("   1. An Extraordinarily Long Title") and "…" in long_line
    # the row has no reason of its own: every title shows its reason, whole
    assert text.count("why: " + WATCHED.text) == 5
    assert len(str(page).splitlines()) == 1 + 1 + 1 + 10 * 2 + 1
    with pytest.raises(ParameterError, match="'max_items' parameter"):
        page.to_text(max_items=-1)
    with pytest.raises(ParameterError, match="'width' parameter"):
        page.to_text(width=10)
    for bad in (True, 2.0, "5"):
        with pytest.raises(ParameterError, match=r"'max_items' parameter .* an int >= 0 or None"):
            page.to_text(max_items=bad)
    assert page.to_text(max_items=np.int64(5), width=np.int32(80)) == text


def test_str_prints_a_shared_row_reason_once_and_wraps_long_reasons():
    text = make_page().to_text(width=60)
    assert text.count("why: Popular across genres (no personal data)") == 1
    assert all(len(line) <= 60 for line in text.splitlines())
    joined = " ".join(text.split())
    assert GEM.text in joined  # wrapped, not cut


def test_html_contains_every_row_title_and_reason_escaped():
    page = make_page()
    fragment = page._repr_html_()
    assert fragment.startswith('<div class="frp-page"')
    for row in page.rows:
        assert _esc(row.title) in fragment
        assert _esc(row.reason.text) in fragment
        for item in row.items:
            assert _esc(item.title) in fragment and _esc(item.reason.text) in fragment
            for genre in item.genres:
                assert f'<span class="frp-genre">{_esc(genre)}</span>' in fragment
    assert fragment.count('class="frp-row"') == 3
    assert fragment.count('class="frp-card') == 6
    assert "1,843" in fragment  # a large score stays readable


def _esc(text):
    import html

    return html.escape(text, quote=True)


def test_html_escapes_script_and_attributes():
    evil = "<script>alert('x')</script>"
    quote = 'Say "hi" & <b>bye</b>'
    reason = Reason(
        "k", f"Because you watched {evil} (your watch history)", (DATA_WATCH_HISTORY,), anchor=evil
    )
    row = Row(evil, evil, (Item(evil, quote, 1.0, reason, (evil,)),), reason=reason)
    page = HomePage(evil, (row,), True, (DATA_WATCH_HISTORY,))
    for document in (page._repr_html_(), page.to_html()):
        assert "<script" not in document.lower()
        assert "<b>bye" not in document
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in document
        assert 'title="Say &quot;hi&quot; &amp; &lt;b&gt;bye&lt;/b&gt;"' in document


def test_to_html_is_a_standalone_document(tmp_path):
    page = make_page()
    path = tmp_path / "home.html"
    document = page.to_html(path)
    assert path.read_text(encoding="utf-8") == document
    assert document.startswith("<!DOCTYPE html>") and document.rstrip().endswith("</html>")
    assert page._repr_html_() in document
    lowered = document.lower()
    for external in ("http://", "https://", "<img", "<link", "url(", "<script", "@import"):
        assert external not in lowered
    assert "default-src 'none'" in document  # the browser would load nothing else anyway
    assert page.to_html() == document  # deterministic


# ------------------------------------------------------------------ browser script


def _load_script():
    spec = importlib.util.spec_from_file_location("check_html_render", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_dom_finds_missing_reasons_and_scripts():
    script = _load_script()
    page = script.build_sample_page()
    html_text = page.to_html()
    assert script.check_dom(html_text, page) == []
    reason = page.rows[2].reason.text
    broken = html_text.replace(_esc(reason), "")
    assert any(reason in p for p in script.check_dom(broken, page))
    injected = html_text.replace("</body>", "<script>x</script></body>")
    assert any("<script>" in p for p in script.check_dom(injected, page))


def test_pages_to_html_shows_every_page_once(tmp_path):
    pages = [make_page("u1"), HomePage.empty(7), make_page("u<3>")]
    path = tmp_path / "pages.html"
    document = pages_to_html(pages, path)
    assert path.read_text(encoding="utf-8") == document
    assert document.startswith("<!DOCTYPE html>") and "3 viewer(s)" in document
    for page in pages:
        assert document.count(page._repr_html_()) == 1
    assert 'data-user-id="u&lt;3&gt;"' in document and "u<3>" not in document
    assert pages_to_html(iter(pages)) == document == pages_to_html(tuple(pages))
    assert pages_to_html(make_page()) == pages_to_html([make_page()])
    with pytest.raises(DataError, match=r"pages\[1\] must be a HomePage"):
        pages_to_html([make_page(), make_page().to_dict()])


def test_committed_sample_html_is_current():
    script = _load_script()
    committed = REPO / "examples" / "output" / "sample_home.html"
    assert committed.read_text(encoding="utf-8") == script.build_sample_page().to_html()


@pytest.mark.browser
@pytest.mark.skipif(
    shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
    reason="needs a headless chromium (apt-get install chromium)",
)
def test_sample_page_renders_in_headless_chromium(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--require-browser"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: chromium rendered 5 rows and 30 cards" in done.stdout
    png = tmp_path / "sample_home.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
