"""Candidate models: ALS and BPR (from ``implicit``), EASE, Popularity and ItemKNN baselines."""

from fairrec.models._base import CandidateModel, cold_start_vectors
from fairrec.models._pairs import TrainingPairs
from fairrec.models._threads import single_threaded_blas
from fairrec.models._topk import top_n
from fairrec.models.als import ALS
from fairrec.models.bpr import BPR
from fairrec.models.ease import EASE
from fairrec.models.itemknn import ItemKNN
from fairrec.models.popularity import Popularity

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "CandidateModel",
    "ItemKNN",
    "Popularity",
    "top_n",
    "cold_start_vectors",
    "single_threaded_blas",
    "TrainingPairs",
    "MODEL_KINDS",
]

#: model-file ``kind`` -> class
MODEL_KINDS = {cls.kind: cls for cls in (ALS, BPR, EASE, Popularity, ItemKNN)}
