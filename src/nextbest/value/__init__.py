"""Customer value: RFM scoring, the BG/NBD and Gamma-Gamma models, CLV and value tiers.

Pure maths over NumPy arrays and pandas frames; no storage or I/O here.
"""

from __future__ import annotations

from nextbest.value.errors import ModelNotFittedError, ValueInputError
from nextbest.value.rfm import (
    RfmScores,
    RfmSegment,
    ValueMatrixSegment,
    grid_segments,
    quantile_scores,
    rfm_scores,
    score_rfm,
    value_matrix_segments,
)

__all__ = [
    "ModelNotFittedError",
    "RfmScores",
    "RfmSegment",
    "ValueInputError",
    "ValueMatrixSegment",
    "grid_segments",
    "quantile_scores",
    "rfm_scores",
    "score_rfm",
    "value_matrix_segments",
]
