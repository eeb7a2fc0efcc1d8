"""Customer value: RFM scoring, the BG/NBD and Gamma-Gamma models, CLV and value tiers.

Pure maths over NumPy arrays and pandas frames; no storage or I/O here.
"""

from __future__ import annotations

from nextbest.value.bgnbd import (
    BetaGeoModel,
    BetaGeoParams,
    bgnbd_log_likelihood,
    bgnbd_log_likelihood_gradient,
)
from nextbest.value.clv import (
    DEFAULT_VALUE_TIERS,
    TierSummary,
    ValueTier,
    assign_value_tiers,
    bank_margin_clv,
    credit_margin_rate,
    predict_customer_value,
    summarize_tiers,
    transaction_clv,
)
from nextbest.value.errors import ModelNotFittedError, ValueInputError
from nextbest.value.gamma_gamma import (
    GammaGammaModel,
    GammaGammaParams,
    gamma_gamma_log_likelihood,
    gamma_gamma_log_likelihood_gradient,
)
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
from nextbest.value.summary import (
    TIME_UNIT_DAYS,
    PurchaseSummary,
    calibration_summary,
    summarize_purchase_days,
)

__all__ = [
    "DEFAULT_VALUE_TIERS",
    "TIME_UNIT_DAYS",
    "BetaGeoModel",
    "BetaGeoParams",
    "GammaGammaModel",
    "GammaGammaParams",
    "ModelNotFittedError",
    "PurchaseSummary",
    "RfmScores",
    "RfmSegment",
    "TierSummary",
    "ValueInputError",
    "ValueMatrixSegment",
    "ValueTier",
    "assign_value_tiers",
    "bank_margin_clv",
    "bgnbd_log_likelihood",
    "bgnbd_log_likelihood_gradient",
    "calibration_summary",
    "credit_margin_rate",
    "gamma_gamma_log_likelihood",
    "gamma_gamma_log_likelihood_gradient",
    "grid_segments",
    "predict_customer_value",
    "quantile_scores",
    "rfm_scores",
    "score_rfm",
    "summarize_purchase_days",
    "summarize_tiers",
    "transaction_clv",
    "value_matrix_segments",
]
