"""Typed exceptions raised by fairrec.

Every error fairrec raises on purpose derives from :class:`FairrecError`, so a caller can
catch the whole family with one ``except``. Messages name the column, id or value at fault.
"""

from __future__ import annotations

__all__ = [
    "FairrecError",
    "DataError",
    "ParameterError",
    "NotFittedError",
    "UnknownUserError",
    "UnknownItemError",
    "ConsentError",
    "UnknownPurposeError",
    "ConsentStoreError",
    "ConsentStoreUnavailableError",
    "ConsentStaleError",
    "ModelFileError",
    "OptionalDependencyError",
    "ModelMemoryError",
    "ModelCapabilityError",
    "VocabularyError",
    "UnknownGenreError",
    "UnknownTitleError",
    "AmbiguousTitleError",
    "MaturityNotRatedError",
]


class FairrecError(Exception):
    """Base class of every error fairrec raises on purpose."""


class DataError(FairrecError, ValueError):
    """Input data is malformed: a missing column, a NaN id, a bad weight or timestamp."""


class ParameterError(FairrecError, ValueError):
    """A parameter is out of range or of the wrong type.

    Messages follow scikit-learn: ``The 'lambda_' parameter of MMR must be in [0, 1].
    Got 1.5 instead.``
    """


class NotFittedError(FairrecError, RuntimeError):
    """A model or recommender was used before ``fit``."""


class UnknownUserError(FairrecError, KeyError):
    """A viewer id the model or dataset has never seen."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown user"


class UnknownItemError(FairrecError, KeyError):
    """A title id the catalog does not hold."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown item"


class ConsentError(FairrecError, ValueError):
    """A consent operation is invalid: malformed table, conflicting events, revoke before grant."""


class UnknownPurposeError(ConsentError):
    """A purpose that is not one of fairrec's purposes."""


class ConsentStoreError(ConsentError):
    """The consent store (JSON-lines file, SQLite or PostgreSQL) is foreign, damaged, of a
    newer schema, or refuses an operation (e.g. a half-done migration)."""


class ConsentStoreUnavailableError(ConsentStoreError):
    """The consent store cannot be reached or locked now; nothing was recorded."""


class ConsentStaleError(ConsentStoreError):
    """A bulk consent read was refused: this replica has not heard from its shared store for
    longer than the ledger's ``max_staleness``, so its consent state may be out of date."""


class ModelFileError(FairrecError, OSError):
    """A model directory is missing, truncated, tampered with or of a foreign format."""


class OptionalDependencyError(FairrecError, ImportError):
    """An optional extra is needed, e.g. ``pip install "fairrec[spark]"``."""


class ModelMemoryError(FairrecError, MemoryError):
    """A model would need more memory than is available (the message states the figure)."""


class ModelCapabilityError(FairrecError, NotImplementedError):
    """A candidate model does not implement an operation a caller asked for (erasing
    viewers, serving titles added without refit); the message names the model, the method
    to implement and the alternative (usually a refit)."""


def param_error(name: str, owner: str, expected: str, got: object) -> ParameterError:
    """Build a scikit-learn style parameter error message."""
    return ParameterError(
        f"The {name!r} parameter of {owner} must be {expected}. Got {got!r} instead."
    )


class VocabularyError(ConsentError):
    """A genre, title or maturity limit in a viewer's consent that the catalog cannot match.

    Attributes
    ----------
    value : object
        The value at fault, as the viewer's consent record holds it.
    suggestions : tuple of str
        The catalog's closest spellings (``difflib``), best first; may be empty.
    """

    def __init__(self, message: str, *, value: object = None, suggestions: tuple = ()) -> None:
        super().__init__(message)
        self.value = value
        self.suggestions = tuple(suggestions)


class UnknownGenreError(VocabularyError):
    """A genre the catalog does not hold (matched case- and whitespace-insensitively)."""


class UnknownTitleError(VocabularyError):
    """A title that is neither a catalog id nor exactly one catalog title."""


class AmbiguousTitleError(VocabularyError):
    """A title text that several catalog titles carry: name it by id."""


class MaturityNotRatedError(VocabularyError):
    """A maturity limit on a catalog that has no maturity ratings to compare it with."""
