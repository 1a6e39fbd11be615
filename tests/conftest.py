"""Shared fixtures: small synthetic catalogs and fitted recommenders (built once per module)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import fairrec as fr  # noqa: E402


def small_model() -> fr.models.ALS:
    return fr.models.ALS(factors=8, iterations=4, random_state=0)


@pytest.fixture(scope="session")
def small_data() -> fr.Dataset:
    return fr.datasets.synthetic(n_users=300, n_items=200, seed=3, mean_plays=20)


@pytest.fixture(scope="module")
def fitted(small_data) -> fr.Recommender:
    return fr.Recommender(model=small_model(), row_size=8).fit(small_data)

# consent stores (a real PostgreSQL server, ledgers on every store): tests/consent_stores.py
from consent_stores import ledger_factory, pg_server, pg_url  # noqa: E402, F401
