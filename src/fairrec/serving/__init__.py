"""The serving stage: from a fitted model and the consent ledger to home pages.

One module per job (see ``docs/architecture.md``):

* :mod:`~fairrec.serving.state` — the fitted state (:class:`FittedState`), built in one place
  and swapped in as one reference;
* :mod:`~fairrec.serving.fit` — ``fit`` and ``from_fitted``;
* :mod:`~fairrec.serving.gate` — consent gating into arrays (training events, request batch);
* :mod:`~fairrec.serving.training` — the training matrix and its oldest-play times;
* :mod:`~fairrec.serving.core` — viewers, the request gate, candidates, the row context;
* :mod:`~fairrec.serving.assembly` — page rules and the batch frame;
* :mod:`~fairrec.serving.pages` — page objects, audit lines, ``home`` / ``home_batch``;
* :mod:`~fairrec.serving.flat` — flat top-k lists (``recommend``);
* :mod:`~fairrec.serving.explain` — ``explain_data_use``;
* :mod:`~fairrec.serving.erasure` — ``forget`` (model surgery first);
* :mod:`~fairrec.serving.persist`, :mod:`~fairrec.serving.load`,
  :mod:`~fairrec.serving.model_files` — model files (save, load, the files on disk);
* :mod:`~fairrec.serving.live_api`, :mod:`~fairrec.serving.live`,
  :mod:`~fairrec.serving.observed`, :mod:`~fairrec.serving.cold`,
  :mod:`~fairrec.serving.availability` — live serving between two refits.

:class:`fairrec.Recommender` (:mod:`fairrec.recommender`) is the facade over these modules.
Names are loaded lazily: importing the package imports none of its modules.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["FittedState"]

_LAZY = {"FittedState": "fairrec.serving.state"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
