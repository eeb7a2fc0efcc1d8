"""Binary-classifier evaluation: discrimination, ranking, calibration and a confusion table.

Every function here is pure: it takes labels and scores and returns a frozen result object
with ``to_dict()``. Ties in the score never depend on row order: where a group of equal
scores straddles a bin boundary (deciles, reliability bins) its rows are shared between the
bins in proportion, each bin receiving the group's average event rate. Counts per bin are
therefore exact integers while event counts may be fractional.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nextbest.errors import NextbestError

__all__ = [
    "BinaryEvaluation",
    "CalibrationResult",
    "ConfusionResult",
    "DecileRow",
    "EvaluationInputError",
    "FoldSummary",
    "Interval",
    "RocCurve",
    "binned_sums",
    "bootstrap_interval",
    "brier_score",
    "calibration",
    "confusion_at",
    "evaluate_binary",
    "gains_table",
    "ks_statistic",
    "roc_auc",
    "roc_curve",
    "summarise_folds",
]


class EvaluationInputError(NextbestError):
    """Labels or scores cannot be evaluated (wrong shape, not binary, one class only)."""


@dataclass(frozen=True)
class RocCurve:
    """ROC points, one per distinct score (highest first), starting at (0, 0)."""

    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    thresholds: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DecileRow:
    """One bin of a gains table; bins run from the highest scores (bin 1) downwards.

    Attributes
    ----------
    bin:
        1 for the top 10 % (with ten bins), up to ``n_bins``.
    count, events:
        Records and events in the bin (``events`` can be fractional when tied scores
        straddle the bin boundary).
    event_rate:
        ``events / count``.
    lift:
        The bin's event rate over the overall event rate.
    cumulative_gain:
        Share of all events captured by this and all higher bins.
    cumulative_lift:
        Event rate of this and all higher bins over the overall event rate.
    min_score, max_score:
        Range of scores in the bin.
    """

    bin: int
    count: int
    events: float
    event_rate: float
    lift: float
    cumulative_gain: float
    cumulative_lift: float
    min_score: float
    max_score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CalibrationResult:
    """Brier score and a reliability curve over equal-frequency bins (lowest scores first).

    Attributes
    ----------
    brier:
        Mean squared difference between predicted probability and outcome.
    brier_reference:
        Brier score of always predicting the observed event rate; a model is useful as a
        probability only if its ``brier`` is below this.
    mean_predicted, observed_rate, counts:
        Per bin: average predicted probability, observed event rate, number of records.
    expected_calibration_error:
        Count-weighted mean absolute gap between ``mean_predicted`` and ``observed_rate``.
    """

    brier: float
    brier_reference: float
    mean_predicted: tuple[float, ...]
    observed_rate: tuple[float, ...]
    counts: tuple[int, ...]
    expected_calibration_error: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ConfusionResult:
    """Confusion table when records scoring ``>= threshold`` are called positive."""

    threshold: float
    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int
    precision: float
    recall: float
    f1: float
    accuracy: float
    specificity: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval and how it was obtained."""

    estimate: float
    lower: float
    upper: float
    level: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FoldSummary:
    """A metric over cross-validation folds: mean, sample standard deviation, range, and
    a normal-approximation interval for the mean (``mean ± z * sd / sqrt(n)``)."""

    n: int
    mean: float
    sd: float
    minimum: float
    maximum: float
    interval: Interval

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BinaryEvaluation:
    """All metrics of one scored population."""

    n: int
    events: int
    event_rate: float
    auc: float
    gini: float
    ks: float
    roc: RocCurve
    gains: tuple[DecileRow, ...]
    calibration: CalibrationResult
    confusion: ConfusionResult

    @property
    def top_decile_lift(self) -> float:
        return self.gains[0].lift

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _validate(
    y_true: ArrayLike, score: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    y = np.asarray(y_true)
    s = np.asarray(score, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or y.shape != s.shape:
        raise EvaluationInputError(
            f"labels and scores must be 1-d of equal length, got {y.shape} and {s.shape}"
        )
    if y.size == 0:
        raise EvaluationInputError("no records to evaluate")
    if not np.all(np.isfinite(s)):
        raise EvaluationInputError("scores contain NaN or infinite values")
    if y.dtype == bool:
        y = y.astype(np.float64)
    try:
        y = y.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise EvaluationInputError("labels must be 0/1 or booleans") from exc
    if not np.all((y == 0) | (y == 1)):
        raise EvaluationInputError("labels must be 0/1 or booleans")
    return y, s


def _require_both_classes(y: NDArray[np.float64]) -> None:
    events = y.sum()
    if events == 0 or events == y.size:
        raise EvaluationInputError("labels hold only one class; AUC and KS are undefined")


def _tie_groups(
    y: NDArray[np.float64], s: NDArray[np.float64], descending: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Distinct scores in order, with record and event counts per distinct score."""
    values, inverse = np.unique(s, return_inverse=True)
    counts = np.bincount(inverse, minlength=values.size).astype(np.float64)
    events = np.bincount(inverse, weights=y, minlength=values.size)
    if descending:
        return values[::-1], counts[::-1], events[::-1]
    return values, counts, events


def roc_auc(y_true: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve; tied scores count one half (Mann-Whitney statistic)."""
    y, s = _validate(y_true, score)
    _require_both_classes(y)
    _, counts, events = _tie_groups(y, s, descending=False)
    non_events = counts - events
    # For each distinct score: events there beat every non-event strictly below and tie
    # with the non-events at the same score.
    below = np.cumsum(non_events) - non_events
    wins = float(np.sum(events * (below + 0.5 * non_events)))
    return wins / (y.sum() * (y.size - y.sum()))


def roc_curve(y_true: ArrayLike, score: ArrayLike) -> RocCurve:
    """ROC curve with one point per distinct score, so ties give one diagonal step."""
    y, s = _validate(y_true, score)
    _require_both_classes(y)
    values, counts, events = _tie_groups(y, s, descending=True)
    tp = np.concatenate([[0.0], np.cumsum(events)])
    fp = np.concatenate([[0.0], np.cumsum(counts - events)])
    return RocCurve(
        fpr=tuple((fp / fp[-1]).tolist()),
        tpr=tuple((tp / tp[-1]).tolist()),
        thresholds=tuple([float("inf"), *values.tolist()]),
    )


def ks_statistic(y_true: ArrayLike, score: ArrayLike) -> float:
    """Kolmogorov-Smirnov distance: the largest gap between the cumulative score
    distributions of events and non-events (``max(tpr - fpr)``), between 0 and 1."""
    curve = roc_curve(y_true, score)
    return float(np.max(np.asarray(curve.tpr) - np.asarray(curve.fpr)))


@dataclass(frozen=True)
class _BinSums:
    count: NDArray[np.int64]
    events: NDArray[np.float64]
    score_sum: NDArray[np.float64]
    min_score: NDArray[np.float64]
    max_score: NDArray[np.float64]


def binned_sums(y_true: ArrayLike, score: ArrayLike, n_bins: int, *, descending: bool) -> _BinSums:
    """Equal-frequency bins over the sorted scores, splitting tie groups proportionally.

    Bin ``k`` holds sorted positions ``[round(k*n/n_bins), round((k+1)*n/n_bins))``. A tie
    group cut by a boundary contributes to each side its share of records times its
    average event rate, so the result does not depend on the input order.
    """
    y, s = _validate(y_true, score)
    if n_bins < 1:
        raise EvaluationInputError(f"n_bins must be at least 1, got {n_bins}")
    n = y.size
    n_bins = min(n_bins, n)
    values, counts, events = _tie_groups(y, s, descending=descending)
    group_end = np.cumsum(counts)
    group_start = group_end - counts
    cum_events = np.concatenate([[0.0], np.cumsum(events)])
    cum_scores = np.concatenate([[0.0], np.cumsum(values * counts)])
    edges = np.rint(np.arange(n_bins + 1) * n / n_bins).astype(np.int64)

    def cumulative(position: int) -> tuple[float, float]:
        # Events and score mass among the first `position` sorted records.
        if position >= n:
            return float(cum_events[-1]), float(cum_scores[-1])
        g = int(np.searchsorted(group_end, position, side="right"))
        share = (position - group_start[g]) / counts[g]
        return (
            float(cum_events[g] + share * events[g]),
            float(cum_scores[g] + share * counts[g] * values[g]),
        )

    at_edges = np.array([cumulative(int(e)) for e in edges])
    first_group = np.searchsorted(group_end, edges[:-1], side="right")
    last_group = np.searchsorted(group_end, edges[1:] - 1, side="right")
    lo = np.minimum(values[first_group], values[last_group])
    hi = np.maximum(values[first_group], values[last_group])
    return _BinSums(
        count=np.diff(edges),
        events=np.diff(at_edges[:, 0]),
        score_sum=np.diff(at_edges[:, 1]),
        min_score=lo,
        max_score=hi,
    )


def gains_table(y_true: ArrayLike, score: ArrayLike, n_bins: int = 10) -> tuple[DecileRow, ...]:
    """Lift and cumulative gains by equal-frequency bin, highest scores first.

    Parameters
    ----------
    y_true:
        0/1 outcomes.
    score:
        Model scores (higher means more likely an event).
    n_bins:
        Number of bins; 10 gives deciles.
    """
    y, s = _validate(y_true, score)
    _require_both_classes(y)
    sums = binned_sums(y, s, n_bins, descending=True)
    total_events = float(y.sum())
    overall_rate = total_events / y.size
    cum_events = np.cumsum(sums.events)
    cum_count = np.cumsum(sums.count)
    rows = []
    for k in range(sums.count.size):
        rate = float(sums.events[k] / sums.count[k])
        rows.append(
            DecileRow(
                bin=k + 1,
                count=int(sums.count[k]),
                events=float(sums.events[k]),
                event_rate=rate,
                lift=rate / overall_rate,
                cumulative_gain=float(cum_events[k] / total_events),
                cumulative_lift=float(cum_events[k] / cum_count[k]) / overall_rate,
                min_score=float(sums.min_score[k]),
                max_score=float(sums.max_score[k]),
            )
        )
    return tuple(rows)


def brier_score(y_true: ArrayLike, probability: ArrayLike) -> float:
    """Mean squared error of predicted probabilities against 0/1 outcomes."""
    y, p = _validate(y_true, probability)
    return float(np.mean((p - y) ** 2))


def calibration(y_true: ArrayLike, probability: ArrayLike, n_bins: int = 10) -> CalibrationResult:
    """Brier score and reliability curve over equal-frequency bins of the probability."""
    y, p = _validate(y_true, probability)
    if np.any((p < 0) | (p > 1)):
        raise EvaluationInputError("probabilities must lie in [0, 1] for calibration")
    sums = binned_sums(y, p, n_bins, descending=False)
    mean_predicted = sums.score_sum / sums.count
    observed = sums.events / sums.count
    rate = float(y.mean())
    ece = float(np.sum(sums.count * np.abs(mean_predicted - observed)) / y.size)
    return CalibrationResult(
        brier=float(np.mean((p - y) ** 2)),
        brier_reference=rate * (1 - rate),
        mean_predicted=tuple(mean_predicted.tolist()),
        observed_rate=tuple(observed.tolist()),
        counts=tuple(int(c) for c in sums.count),
        expected_calibration_error=ece,
    )


def _ratio(numerator: float, denominator: float) -> float:
    # A ratio with nothing to divide by is reported as 0, as scikit-learn's zero_division=0.
    return numerator / denominator if denominator else 0.0


def confusion_at(y_true: ArrayLike, score: ArrayLike, threshold: float) -> ConfusionResult:
    """Confusion table and derived rates, calling ``score >= threshold`` positive."""
    y, s = _validate(y_true, score)
    predicted = s >= threshold
    actual = y == 1
    tp = int(np.sum(predicted & actual))
    fp = int(np.sum(predicted & ~actual))
    fn = int(np.sum(~predicted & actual))
    tn = int(np.sum(~predicted & ~actual))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return ConfusionResult(
        threshold=float(threshold),
        true_positive=tp,
        false_positive=fp,
        true_negative=tn,
        false_negative=fn,
        precision=precision,
        recall=recall,
        f1=_ratio(2 * precision * recall, precision + recall),
        accuracy=(tp + tn) / y.size,
        specificity=_ratio(tn, tn + fp),
    )


def evaluate_binary(
    y_true: ArrayLike, score: ArrayLike, *, threshold: float = 0.5, n_bins: int = 10
) -> BinaryEvaluation:
    """Every metric of this module for one set of outcomes and scores.

    Parameters
    ----------
    y_true:
        0/1 outcomes.
    score:
        Scores; calibration needs them to be probabilities in [0, 1]. A score that is not
        a probability (a raw feature used as a baseline) is min-max rescaled for the
        calibration part only, which keeps its ranking metrics exact; its Brier score then
        says little and the report marks it.
    threshold:
        Cut-off for the confusion table (on the original score scale).
    n_bins:
        Bins of the gains table and the reliability curve.
    """
    y, s = _validate(y_true, score)
    _require_both_classes(y)
    probability = s
    if np.any((s < 0) | (s > 1)):
        span = float(s.max() - s.min())
        probability = (s - s.min()) / span if span else np.full_like(s, 0.5)
    events = int(y.sum())
    return BinaryEvaluation(
        n=int(y.size),
        events=events,
        event_rate=events / y.size,
        auc=(auc := roc_auc(y, s)),
        gini=2 * auc - 1,
        ks=ks_statistic(y, s),
        roc=roc_curve(y, s),
        gains=gains_table(y, s, n_bins),
        calibration=calibration(y, probability, n_bins),
        confusion=confusion_at(y, s, threshold),
    )


def bootstrap_interval(
    y_true: ArrayLike,
    score: ArrayLike,
    metric: Callable[[NDArray[np.float64], NDArray[np.float64]], float] = roc_auc,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    stratified: bool = True,
) -> Interval:
    """Percentile bootstrap interval of ``metric(y, score)``.

    Resampling is stratified by outcome by default so every resample holds both classes
    (AUC is undefined otherwise) and the event rate stays fixed.
    """
    y, s = _validate(y_true, score)
    if not 0 < level < 1:
        raise EvaluationInputError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    estimate = float(metric(y, s))
    positives = np.flatnonzero(y == 1)
    negatives = np.flatnonzero(y == 0)
    stats = np.empty(n_resamples)
    for i in range(n_resamples):
        if stratified:
            idx = np.concatenate(
                [
                    rng.choice(positives, positives.size, replace=True),
                    rng.choice(negatives, negatives.size, replace=True),
                ]
            )
        else:
            idx = rng.integers(0, y.size, y.size)
        stats[i] = metric(y[idx], s[idx])
    alpha = (1 - level) / 2
    lower, upper = np.quantile(stats, [alpha, 1 - alpha])
    return Interval(estimate, float(lower), float(upper), level, "percentile bootstrap")


def summarise_folds(values: Sequence[float], level: float = 0.95) -> FoldSummary:
    """Mean, sample standard deviation and a normal interval for the mean of fold metrics.

    Folds of repeated cross-validation share training records, so the interval is
    optimistic; it is reported as a guide to the spread, not as a test.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise EvaluationInputError("no fold values to summarise")
    from scipy.stats import norm

    mean = float(arr.mean())
    sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    half = float(norm.ppf(0.5 + level / 2)) * sd / np.sqrt(arr.size)
    return FoldSummary(
        n=int(arr.size),
        mean=mean,
        sd=sd,
        minimum=float(arr.min()),
        maximum=float(arr.max()),
        interval=Interval(mean, mean - half, mean + half, level, "normal over folds"),
    )
