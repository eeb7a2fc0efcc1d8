"""RFM scoring: quantile scores for recency, frequency and monetary value, and named segments.

Two segment schemes are offered, both from the scores alone:

* ``grid`` (the RFM grid common in retail marketing, 11 segments): the recency score ``R`` and
  ``FM = ceil((F + M) / 2)`` index a 5 × 5 table, see :data:`GRID_TABLE` and ``docs/clv.md``.
* ``value_matrix`` (the Chinese banking "RFM 八类客户" convention): each of R, F and M is
  *high* when its score is above the population's mean score, giving the eight segments
  重要价值 … 一般挽留, see :class:`ValueMatrixSegment`.

The pure core works on NumPy arrays (:func:`rfm_scores`, :func:`grid_segments`,
:func:`value_matrix_segments`); :func:`score_rfm` is the DataFrame shell with the data contract.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nextbest.domain.enums import LabelledEnum
from nextbest.value.errors import ValueInputError
from nextbest.value.validation import (
    as_float_array,
    require_columns,
    require_same_length,
    require_unique_keys,
)

__all__ = [
    "GRID_TABLE",
    "RfmScores",
    "RfmSegment",
    "ValueMatrixSegment",
    "grid_segments",
    "quantile_scores",
    "rfm_scores",
    "score_rfm",
    "value_matrix_segments",
]


class _BilingualSegment(LabelledEnum):
    """A segment code with its Chinese (``.zh``) and English (``.en``) labels."""

    en: str

    def __new__(cls, value: str, zh: str = "", en: str = "") -> _BilingualSegment:
        member = str.__new__(cls, value)
        member._value_ = value
        member.zh = zh or value
        member.en = en or value
        return member


class RfmSegment(_BilingualSegment):
    """The RFM-grid segments (scheme ``grid``)."""

    CHAMPIONS = "champions", "冠军客户", "Champions"
    LOYAL = "loyal", "忠诚客户", "Loyal customers"
    POTENTIAL_LOYALIST = "potential_loyalist", "潜在忠诚客户", "Potential loyalists"
    NEW = "new", "新客户", "New customers"
    PROMISING = "promising", "有潜力客户", "Promising"
    NEED_ATTENTION = "need_attention", "需要关注客户", "Need attention"
    ABOUT_TO_SLEEP = "about_to_sleep", "即将沉睡客户", "About to sleep"
    AT_RISK = "at_risk", "有流失风险客户", "At risk"
    CANNOT_LOSE = "cannot_lose", "不能失去的客户", "Can't lose them"
    HIBERNATING = "hibernating", "休眠客户", "Hibernating"
    LOST = "lost", "流失客户", "Lost"


class ValueMatrixSegment(_BilingualSegment):
    """The eight segments of the Chinese banking RFM convention (scheme ``value_matrix``).

    "Important" (重要) means high monetary value; the second word reads R and F:
    价值 (value) R high F high, 发展 (develop) R high F low, 保持 (retain) R low F high,
    挽留 (win back) R low F low.
    """

    IMPORTANT_VALUE = "important_value", "重要价值客户", "Important value"
    IMPORTANT_DEVELOP = "important_develop", "重要发展客户", "Important to develop"
    IMPORTANT_RETAIN = "important_retain", "重要保持客户", "Important to retain"
    IMPORTANT_WIN_BACK = "important_win_back", "重要挽留客户", "Important to win back"
    GENERAL_VALUE = "general_value", "一般价值客户", "General value"
    GENERAL_DEVELOP = "general_develop", "一般发展客户", "General to develop"
    GENERAL_RETAIN = "general_retain", "一般保持客户", "General to retain"
    GENERAL_WIN_BACK = "general_win_back", "一般挽留客户", "General to win back"


_S = RfmSegment
#: Grid segment by ``[R - 1][FM - 1]`` with R the recency score (5 = most recent) and
#: FM = ceil((F + M) / 2). Rows are R = 1..5, columns FM = 1..5. The usual R × F grid,
#: refined so that the very bottom cell (R = 1, FM = 1) is "lost" rather than "hibernating".
GRID_TABLE: tuple[tuple[RfmSegment, ...], ...] = (
    (_S.LOST, _S.HIBERNATING, _S.AT_RISK, _S.AT_RISK, _S.CANNOT_LOSE),
    (_S.HIBERNATING, _S.HIBERNATING, _S.AT_RISK, _S.AT_RISK, _S.CANNOT_LOSE),
    (_S.ABOUT_TO_SLEEP, _S.ABOUT_TO_SLEEP, _S.NEED_ATTENTION, _S.LOYAL, _S.LOYAL),
    (_S.PROMISING, _S.POTENTIAL_LOYALIST, _S.POTENTIAL_LOYALIST, _S.LOYAL, _S.LOYAL),
    (_S.NEW, _S.POTENTIAL_LOYALIST, _S.POTENTIAL_LOYALIST, _S.CHAMPIONS, _S.CHAMPIONS),
)
_GRID_CODES = np.array([[s.value for s in row] for row in GRID_TABLE], dtype=object)

# Index by 4*m_high + 2*r_high + f_high.
_VALUE_MATRIX_ORDER = (
    ValueMatrixSegment.GENERAL_WIN_BACK,  # m low, r low, f low
    ValueMatrixSegment.GENERAL_RETAIN,  # m low, r low, f high
    ValueMatrixSegment.GENERAL_DEVELOP,  # m low, r high, f low
    ValueMatrixSegment.GENERAL_VALUE,  # m low, r high, f high
    ValueMatrixSegment.IMPORTANT_WIN_BACK,
    ValueMatrixSegment.IMPORTANT_RETAIN,
    ValueMatrixSegment.IMPORTANT_DEVELOP,
    ValueMatrixSegment.IMPORTANT_VALUE,
)
_VALUE_MATRIX_CODES = np.array([s.value for s in _VALUE_MATRIX_ORDER], dtype=object)


@dataclass(frozen=True)
class RfmScores:
    """Quantile scores 1..``bins`` per customer, in input order (higher is better)."""

    recency: np.ndarray
    frequency: np.ndarray
    monetary: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """The combined score R + F + M (3 .. 3 × bins)."""
        return self.recency + self.frequency + self.monetary

    @property
    def cell(self) -> np.ndarray:
        """The RFM cell as a string such as ``"545"`` (R, F, M digits; needs bins ≤ 9)."""
        r, f, m = (
            a.astype(str).astype(object) for a in (self.recency, self.frequency, self.monetary)
        )
        return (r + f + m).astype(str)


def quantile_scores(
    values: np.ndarray, keys: np.ndarray, *, bins: int = 5, higher_is_better: bool = True
) -> np.ndarray:
    """Score ``values`` into ``bins`` equal-count groups, 1 (worst) .. ``bins`` (best).

    Customers are ranked by value (ascending if ``higher_is_better``, else descending) and
    equal values are ordered by ascending key, so the result is deterministic and the
    groups are as equal in size as ``len(values)`` allows: rank ``k`` (0-based) of ``n``
    gets ``floor(k * bins / n) + 1``.

    Parameters
    ----------
    values:
        One number per customer.
    keys:
        Customer keys of one comparable type (all strings or all numbers), unique.
    bins:
        Number of score levels (5 for quintiles).
    higher_is_better:
        ``False`` for recency in days, so that the most recent customers score ``bins``.

    Returns
    -------
    numpy.ndarray
        ``int64`` scores in input order.
    """
    if bins < 2:
        raise ValueInputError(f"quantile_scores: bins must be at least 2, got {bins}")
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        key_order = np.argsort(np.asarray(keys), kind="stable")
    except TypeError as exc:
        raise ValueInputError(f"quantile_scores: customer keys are not comparable ({exc})") from exc
    key_rank = np.empty(n, dtype=np.int64)
    key_rank[key_order] = np.arange(n)
    sort_value = values if higher_is_better else -values
    order = np.lexsort((key_rank, sort_value))  # last key is primary: value, then key
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank * bins // n + 1


def rfm_scores(
    keys: np.ndarray,
    recency: np.ndarray,
    frequency: np.ndarray,
    monetary: np.ndarray,
    *,
    bins: int = 5,
) -> RfmScores:
    """Quantile-score recency (days since last purchase; fewer is better), frequency, monetary.

    Keys must be unique; ties in a measure are broken by ascending key (see
    :func:`quantile_scores`).
    """
    what = "rfm_scores"
    rec = as_float_array(recency, what, "recency")
    freq = as_float_array(frequency, what, "frequency")
    mon = as_float_array(monetary, what, "monetary", minimum=None)
    key_array = np.asarray(keys)
    require_same_length(what, keys=key_array, recency=rec, frequency=freq, monetary=mon)
    require_unique_keys(key_array, what, "keys")
    return RfmScores(
        recency=quantile_scores(rec, key_array, bins=bins, higher_is_better=False),
        frequency=quantile_scores(freq, key_array, bins=bins),
        monetary=quantile_scores(mon, key_array, bins=bins),
    )


def grid_segments(scores: RfmScores) -> np.ndarray:
    """Grid segment code per customer from quintile scores (needs ``bins == 5``)."""
    r = np.asarray(scores.recency)
    fm = (np.asarray(scores.frequency) + np.asarray(scores.monetary) + 1) // 2
    if r.size and (r.min() < 1 or r.max() > 5 or fm.min() < 1 or fm.max() > 5):
        raise ValueInputError("grid_segments: the RFM grid needs quintile scores 1..5")
    return _GRID_CODES[r - 1, fm - 1].astype(str)


def value_matrix_segments(scores: RfmScores) -> np.ndarray:
    """Eight-segment code per customer: each score is *high* when above its mean score.

    The comparison is strict (``score > mean``): with quintiles on a population whose size
    is a multiple of five the mean is exactly 3, so *high* means the top two quintiles.
    """
    r, f, m = (
        np.asarray(a, dtype=float) for a in (scores.recency, scores.frequency, scores.monetary)
    )
    if r.size == 0:
        return np.zeros(0, dtype=str)
    index = 4 * (m > m.mean()) + 2 * (r > r.mean()) + (f > f.mean())
    return _VALUE_MATRIX_CODES[index].astype(str)


def score_rfm(
    frame: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    recency_col: str = "recency_days",
    frequency_col: str = "frequency",
    monetary_col: str = "monetary",
    bins: int = 5,
) -> pd.DataFrame:
    """Score a per-customer table and attach both segment schemes in both languages.

    Parameters
    ----------
    frame:
        One row per customer with the key, recency in days since the last purchase,
        frequency (count of purchases or purchase days) and monetary value.
    customer_col, recency_col, frequency_col, monetary_col:
        Column names in ``frame``.
    bins:
        Number of score levels; the grid scheme needs 5.

    Returns
    -------
    pandas.DataFrame
        In input order: the key, ``r_score``, ``f_score``, ``m_score``, ``rfm_cell``
        (``"545"``), ``rfm_score`` (R + F + M), ``segment``/``segment_en``/``segment_zh``
        (grid scheme, only when ``bins == 5``) and
        ``value_segment``/``value_segment_en``/``value_segment_zh`` (eight segments).

    Raises
    ------
    ValueInputError
        A required column is missing, a key is empty or repeated, or a measure is not a
        finite number (recency and frequency must also be non-negative).
    """
    what = "score_rfm"
    require_columns(frame, [customer_col, recency_col, frequency_col, monetary_col], what)
    keys = frame[customer_col].to_numpy()
    # Checked here too so that errors name the caller's columns, not the array arguments.
    require_unique_keys(keys, what, customer_col)
    scores = rfm_scores(
        keys,
        as_float_array(frame[recency_col], what, recency_col),
        as_float_array(frame[frequency_col], what, frequency_col),
        as_float_array(frame[monetary_col], what, monetary_col, minimum=None),
        bins=bins,
    )
    out = pd.DataFrame(
        {
            customer_col: frame[customer_col].to_numpy(),
            "r_score": scores.recency,
            "f_score": scores.frequency,
            "m_score": scores.monetary,
            "rfm_cell": scores.cell,
            "rfm_score": scores.total,
        },
        index=frame.index,
    )
    if bins == 5:
        _attach_labels(out, "segment", grid_segments(scores), RfmSegment)
    _attach_labels(out, "value_segment", value_matrix_segments(scores), ValueMatrixSegment)
    return out


def _attach_labels(
    out: pd.DataFrame, column: str, codes: np.ndarray, enum: type[_BilingualSegment]
) -> None:
    out[column] = codes
    out[f"{column}_en"] = out[column].map({s.value: s.en for s in enum})
    out[f"{column}_zh"] = out[column].map({s.value: s.zh for s in enum})
