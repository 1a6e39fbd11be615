"""The rows stage as a package (issue 17): the public names and the deprecated aliases of the
modules that moved keep working, and they are the very same objects."""

from __future__ import annotations

import importlib

import pytest

import fairrec.rows as rows
from fairrec.errors import ParameterError


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
    assert not hasattr(rows, "_mark")  # the former private name is gone


def test_rows_use_the_public_fast_path_of_a_trusted_reranker_and_rerank_otherwise(small_data):
    import fairrec as fr
    from fairrec.rerank import MMR, TrustedReranker

    calls = {"trusted": 0, "trusted_public": 0, "public": 0}

    class Counted:  # implements the protocol structurally (no fairrec base class)
        uses_vectors = True

        def __init__(self) -> None:
            self.inner = MMR(lambda_=0.85)

        def rerank(self, scores, k, *, vectors=None, context=None, valid=None):
            calls["trusted_public"] += 1
            return self.inner.rerank(scores, k, vectors=vectors, context=context, valid=valid)

        def rerank_trusted(self, scores, valid, k, vectors=None, context=None):
            calls["trusted"] += 1
            return self.inner.rerank_trusted(scores, valid, k, vectors, context)

    class PublicOnly:  # a re-ranker written outside fairrec: only the public method
        def __init__(self) -> None:
            self.inner = MMR(lambda_=0.85)

        def rerank(self, scores, k, *, vectors=None, context=None, valid=None):
            calls["public"] += 1
            return self.inner.rerank(scores, k, vectors=vectors, context=context, valid=valid)

    assert isinstance(Counted(), TrustedReranker)
    assert not isinstance(PublicOnly(), TrustedReranker)
    users = list(small_data.user_ids[:6])
    pages = {}
    for name, reranker in (("trusted", Counted()), ("public", PublicOnly())):
        rec = fr.Recommender(
            model=fr.models.ALS(factors=8, iterations=4, random_state=0),
            rows=[rows.TopPicks(reranker=reranker)],
            row_size=8,
        ).fit(small_data)
        got = [rec.home(u) for u in users]
        pages[name] = [[i.item_id for r in p.rows for i in r.items] for p in got]
    assert calls["trusted"] >= 1 and calls["trusted_public"] == 0 and calls["public"] >= 1
    assert any(pages["trusted"])
    assert pages["trusted"] == pages["public"]  # both paths place the same titles


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: rows.HiddenGems(quantile="a"), "quantile"),
        (lambda: rows.HiddenGems(min_relevance=float("nan")), "min_relevance"),
        (lambda: rows.HiddenGems(min_watchers=0), "min_watchers"),
        (lambda: rows.HiddenGems(max_items=2.5), "max_items"),
        (lambda: rows.BecauseYouWatched(similarity_weight="x"), "similarity_weight"),
        (lambda: rows.BecauseYouWatched(min_titles=0), "min_titles"),
        (lambda: rows.BecauseYouWatched(n_rows=-1), "n_rows"),
        (lambda: rows.OutsideYourBubble(max_overlap=None), "max_overlap"),
        (lambda: rows.OutsideYourBubble(min_neighbors=True), "min_neighbors"),
        (lambda: rows.PopularInGenre(n_rows="2"), "n_rows"),
        (lambda: rows.PopularInGenre(only_unpersonalized="no"), "only_unpersonalized"),
        (lambda: rows.DiversePopular(only_unpersonalized=1), "only_unpersonalized"),
        (lambda: rows.StatedInterests(min_similarity="high"), "min_similarity"),
        (lambda: rows.TopPicks(pool=0), "pool"),
    ],
)
def test_row_kind_parameters_are_checked_at_construction_naming_the_parameter(make, name):
    # a typed error naming the very parameter (before: a TypeError from a comparison, or a
    # message naming 'pool' for min_titles / min_watchers / max_items / min_neighbors)
    with pytest.raises(ParameterError, match=f"'{name}' parameter"):
        make()
