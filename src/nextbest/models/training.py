"""Training on a user's table: target checks, feature selection, repeated cross-validation.

The functions take a DataFrame and return frozen results; reading files and printing is left
to the shells (``nextbest model train``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.model_selection import RepeatedStratifiedKFold

from nextbest.errors import NextbestError
from nextbest.models.evaluation import (
    BinaryEvaluation,
    FoldSummary,
    evaluate_binary,
    roc_auc,
    summarise_folds,
)
from nextbest.models.tabular import TabularClassifier

__all__ = [
    "CrossValidation",
    "DroppedColumn",
    "FoldMetrics",
    "PreparedTable",
    "TrainingInputError",
    "cross_validate",
    "prepare_table",
    "single_feature_baselines",
]

# Labels read as the event when a binary target has exactly these two values.
_EVENT_WORDS = {"yes", "y", "true", "t", "1", "churn", "churned", "bad", "default", "event"}


class TrainingInputError(NextbestError):
    """The table cannot be used for training; the message names the column and the rule."""


@dataclass(frozen=True)
class DroppedColumn:
    """A column left out of the features, and why."""

    column: str
    reason: str


@dataclass(frozen=True)
class PreparedTable:
    """Features and a 0/1 target ready for fitting.

    Attributes
    ----------
    features:
        The feature columns, in table order.
    y:
        1 where the target equals ``positive_label``.
    positive_label, negative_label:
        The target's two values, as written in the table.
    dropped:
        Columns left out (excluded by the user, constant, or identifier-like).
    """

    features: pd.DataFrame
    y: NDArray[np.int64]
    target: str
    positive_label: Any
    negative_label: Any
    dropped: tuple[DroppedColumn, ...]


def _pick_positive(values: list[Any], target: str, positive: str | None) -> tuple[Any, Any]:
    if positive is not None:
        matches = [v for v in values if str(v) == positive]
        if not matches:
            raise TrainingInputError(
                f"target column {target!r}: positive label {positive!r} does not occur; "
                f"values are {[str(v) for v in values]}"
            )
        other = next(v for v in values if str(v) != positive)
        return matches[0], other
    named = [v for v in values if str(v).strip().lower() in _EVENT_WORDS]
    if len(named) == 1:
        return named[0], next(v for v in values if v is not named[0])
    # Numbers or booleans: the larger value is the event (1 over 0, True over False).
    try:
        low, high = sorted(values)
    except TypeError:
        low, high = sorted(values, key=str)
    return high, low


def prepare_table(
    table: pd.DataFrame,
    target: str,
    *,
    exclude: Sequence[str] = (),
    positive: str | None = None,
) -> PreparedTable:
    """Split a table into features and a binary target, checking both.

    Parameters
    ----------
    table:
        One row per record.
    target:
        Name of the outcome column; it must hold exactly two distinct values and no blanks.
    exclude:
        Columns never to use as features (identifiers, leakage such as call duration).
    positive:
        The target value that counts as the event. When not given: a value such as
        ``yes``/``true``/``1``/``churn`` if exactly one is present, otherwise the larger.

    Raises
    ------
    TrainingInputError
        Missing target or excluded column, blanks in the target, a target that is not
        binary, or no feature left.
    """
    columns = [str(c) for c in table.columns]
    table = table.set_axis(columns, axis=1)
    if target not in columns:
        raise TrainingInputError(
            f"target column {target!r} not found; columns are {', '.join(columns)}"
        )
    unknown = [c for c in exclude if c not in columns]
    if unknown:
        raise TrainingInputError(f"--exclude names unknown column(s): {', '.join(unknown)}")
    labels = table[target]
    blank = np.flatnonzero(labels.isna().to_numpy())
    if blank.size:
        rows = ", ".join(str(i + 1) for i in blank[:5])
        raise TrainingInputError(
            f"target column {target!r} is blank in {blank.size} row(s) (data rows {rows}"
            f"{', ...' if blank.size > 5 else ''}); remove or fill them"
        )
    values = list(pd.unique(labels))
    if len(values) != 2:
        shown = [str(v) for v in values[:8]]
        raise TrainingInputError(
            f"target column {target!r} must be binary (exactly 2 distinct values), "
            f"found {len(values)}: {shown}{' ...' if len(values) > 8 else ''}"
        )
    pos, neg = _pick_positive(values, target, positive)
    y = (labels == pos).to_numpy().astype(np.int64)

    dropped = [DroppedColumn(c, "excluded by the user") for c in exclude]
    keep: list[str] = []
    for name in columns:
        if name == target or name in exclude:
            continue
        column = table[name]
        distinct = column.nunique(dropna=True)
        if distinct <= 1:
            dropped.append(DroppedColumn(name, "constant or empty"))
        elif (
            not pd.api.types.is_numeric_dtype(column.dtype)
            and not pd.api.types.is_bool_dtype(column.dtype)
            and distinct > 0.5 * len(column)
            and len(column) >= 50
        ):
            # A text column with a different value on most rows is an identifier or free
            # text: as a categorical it would only memorise rows.
            dropped.append(DroppedColumn(name, "text with a distinct value on most rows"))
        else:
            keep.append(name)
    if not keep:
        raise TrainingInputError(f"no feature column left besides target {target!r}")
    return PreparedTable(
        features=table[keep],
        y=y,
        target=target,
        positive_label=pos,
        negative_label=neg,
        dropped=tuple(dropped),
    )


@dataclass(frozen=True)
class FoldMetrics:
    """Scores of one held-out fold."""

    repeat: int
    fold: int
    n: int
    auc: float
    gini: float
    ks: float
    top_decile_lift: float
    brier: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CrossValidation:
    """Repeated stratified k-fold results.

    Attributes
    ----------
    folds, repeats, seed:
        The split design (``RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats,
        random_state=seed)``).
    per_fold:
        Metrics of every held-out fold.
    summary:
        Per metric name, mean/sd/interval over the folds.
    pooled:
        All metrics on the out-of-fold scores of all records (averaged over repeats):
        the curves and tables of the report come from here.
    oof_score:
        Out-of-fold probability per record (mean over repeats).
    """

    folds: int
    repeats: int
    seed: int
    per_fold: tuple[FoldMetrics, ...]
    summary: dict[str, FoldSummary]
    pooled: BinaryEvaluation
    oof_score: tuple[float, ...] = field(repr=False)

    def to_dict(self, *, include_scores: bool = False) -> dict[str, Any]:
        data = {
            "folds": self.folds,
            "repeats": self.repeats,
            "seed": self.seed,
            "per_fold": [f.to_dict() for f in self.per_fold],
            "summary": {k: v.to_dict() for k, v in self.summary.items()},
            "pooled": self.pooled.to_dict(),
        }
        if include_scores:
            data["oof_score"] = list(self.oof_score)
        return data


def cross_validate(
    estimator: TabularClassifier,
    X: pd.DataFrame,
    y: NDArray[np.int64],
    *,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 42,
    threshold: float = 0.5,
    on_fold: Callable[[int, int], None] | None = None,
) -> CrossValidation:
    """Repeated stratified k-fold cross-validation of a fresh clone per fold.

    Parameters
    ----------
    estimator:
        Unfitted template; each fold fits ``clone(estimator)`` on its training part, so
        any tuning the estimator does stays inside the training folds.
    X, y:
        Features and 0/1 outcomes.
    folds, repeats, seed:
        Split design; the seed is reported with the results.
    threshold:
        Probability cut-off of the confusion table of the pooled evaluation.
    on_fold:
        Called with (folds done, total folds) for progress display.
    """
    if folds < 2:
        raise TrainingInputError(f"--folds must be at least 2, got {folds}")
    smallest = int(min(y.sum(), y.size - y.sum()))
    if smallest < folds:
        raise TrainingInputError(
            f"the rarer target class has {smallest} record(s), fewer than the {folds} folds"
        )
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    score_sum = np.zeros(y.size)
    per_fold: list[FoldMetrics] = []
    total = folds * repeats
    for i, (train_idx, test_idx) in enumerate(splitter.split(X, y)):
        model = clone(estimator).fit(X.iloc[train_idx], y[train_idx])
        p = model.predict_proba(X.iloc[test_idx])[:, 1]
        score_sum[test_idx] += p
        ev = evaluate_binary(y[test_idx], p, threshold=threshold)
        per_fold.append(
            FoldMetrics(
                repeat=i // folds + 1,
                fold=i % folds + 1,
                n=int(test_idx.size),
                auc=ev.auc,
                gini=ev.gini,
                ks=ev.ks,
                top_decile_lift=ev.top_decile_lift,
                brier=ev.calibration.brier,
            )
        )
        if on_fold is not None:
            on_fold(i + 1, total)
    oof = score_sum / repeats
    metrics = ("auc", "gini", "ks", "top_decile_lift", "brier")
    summary = {m: summarise_folds([getattr(f, m) for f in per_fold]) for m in metrics}
    return CrossValidation(
        folds=folds,
        repeats=repeats,
        seed=seed,
        per_fold=tuple(per_fold),
        summary=summary,
        pooled=evaluate_binary(y, oof, threshold=threshold),
        oof_score=tuple(oof.tolist()),
    )


def single_feature_baselines(
    X: pd.DataFrame, y: NDArray[np.int64], columns: Sequence[str] | None = None
) -> dict[str, NDArray[np.float64]]:
    """Scores that use one numeric column alone, oriented so that higher means the event.

    With ``columns=None`` the single numeric column with the highest AUC is returned
    (the "best single feature" baseline). Orientation and the choice use all records, which
    flatters the baseline; a model that beats it beats it honestly. Missing values take the
    column median.
    """
    candidates = list(columns) if columns is not None else list(X.columns)
    scores: dict[str, NDArray[np.float64]] = {}
    for name in candidates:
        if name not in X.columns:
            raise TrainingInputError(f"baseline column {name!r} is not a feature column")
        column = X[name]
        if not (pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column)):
            if columns is not None:
                raise TrainingInputError(f"baseline column {name!r} is not numeric")
            continue
        values = column.astype("float64").to_numpy()
        values = np.where(np.isnan(values), np.nanmedian(values), values)
        if np.all(values == values[0]):
            continue
        scores[name] = values if roc_auc(y, values) >= 0.5 else -values
    if columns is None and scores:
        best = max(scores, key=lambda n: (roc_auc(y, scores[n]), n))
        return {f"best single feature ({best})": scores[best]}
    return scores
