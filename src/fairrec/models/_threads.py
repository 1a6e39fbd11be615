"""BLAS thread limiting around implicit's solvers (implicit warns, and runs slower, otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

__all__ = ["single_threaded_blas"]

_CONTROLLER: ThreadpoolController | None = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread inside the ``with`` block; implicit parallelizes on its own.

    fairrec wraps implicit's fits and solves in it (implicit warns, and runs slower, when BLAS
    threads compete with its own); so do the Spark workers that build pages.

    The library scan is done once (it costs milliseconds); limiting is then cheap.

    Examples
    --------
    >>> import numpy as np
    >>> from fairrec.models import single_threaded_blas
    >>> with single_threaded_blas():
    ...     float(np.ones((2, 2)) @ np.ones(2) @ np.ones(2))
    4.0
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        yield
