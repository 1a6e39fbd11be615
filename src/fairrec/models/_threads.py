"""BLAS thread limiting around implicit's solvers (implicit warns, and runs slower, otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

__all__ = ["single_threaded_blas"]


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread inside the block; implicit parallelizes on its own."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
