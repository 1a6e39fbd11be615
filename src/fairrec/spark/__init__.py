"""Scale out on Apache Spark: cluster training and batch home pages (``fairrec[spark]``).

* :func:`fit_als` trains implicit ALS with Spark MLlib on a Spark DataFrame of
  interactions, applying the consent gate (``training`` purpose, retention window) as Spark
  joins and filters, and returns a fitted :class:`fairrec.Recommender` that serves and saves
  like any other.
* :func:`home_pages` builds home pages for a Spark DataFrame of viewers with
  ``mapInPandas``: the model is broadcast once, the consent ledger is joined in, and the
  output has one line per (viewer, row, position), the schema of
  :meth:`fairrec.HomePage.to_frame`.
* :func:`training_interactions` is the training gate alone, as a lazy Spark DataFrame.

This module needs ``pyspark`` (with ``pyarrow``) and a Java runtime (17 or newer for
Spark 4): ``pip install "fairrec[spark]"``. ``import fairrec`` never imports it.
"""

from __future__ import annotations

from fairrec.errors import OptionalDependencyError

try:
    import pyarrow  # noqa: F401  (mapInPandas and toPandas move data with Arrow)
    import pyspark  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise OptionalDependencyError(
        f"fairrec.spark needs pyspark and pyarrow ({exc.name} is missing), an optional extra: "
        'pip install "fairrec[spark]" '
        "(Spark also needs Java 17 or newer on the PATH or in JAVA_HOME)."
    ) from exc

from fairrec.spark._als import fit_als
from fairrec.spark._gate import training_interactions
from fairrec.spark._pages import home_pages, page_schema

__all__ = ["fit_als", "home_pages", "training_interactions", "page_schema"]
