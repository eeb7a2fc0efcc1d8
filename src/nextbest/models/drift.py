"""Population stability: has a feature or a score moved since the model was trained?

The population stability index compares the distribution of one variable in a reference
population (usually the training data) with a current one::

    PSI = sum over bins of (current% - reference%) * ln(current% / reference%)

Numeric variables are binned at quantiles of the reference population (so each reference
bin holds about the same share), with missing values as a bin of their own; categorical
variables are binned by value, with levels absent from the reference pooled as "new".
Shares of zero are replaced by a small epsilon so the logarithm stays finite.

Conventional reading, used for the alert levels: below 0.10 stable, 0.10-0.25 a shift worth
a look (``warn``), above 0.25 a shift that calls for review or retraining (``alert``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from nextbest.errors import NextbestError

__all__ = [
    "DriftBin",
    "DriftInputError",
    "DriftLevel",
    "DriftResult",
    "drift_level",
    "population_stability",
    "population_stability_table",
]

DriftLevel = Literal["stable", "warn", "alert"]
WARN_THRESHOLD = 0.10
ALERT_THRESHOLD = 0.25
EPSILON = 1e-4
MISSING = "(missing)"
NEW_LEVEL = "(new level)"


class DriftInputError(NextbestError):
    """A drift comparison cannot be made (empty population, unknown kind)."""


@dataclass(frozen=True)
class DriftBin:
    """One bin: its label, and the share of each population that falls in it."""

    label: str
    reference_share: float
    current_share: float
    contribution: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftResult:
    """PSI of one variable with its bins and alert level."""

    variable: str
    kind: Literal["numeric", "categorical"]
    psi: float
    level: DriftLevel
    reference_n: int
    current_n: int
    bins: tuple[DriftBin, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def drift_level(
    psi: float, warn: float = WARN_THRESHOLD, alert: float = ALERT_THRESHOLD
) -> DriftLevel:
    """``stable`` below ``warn``, ``alert`` at or above ``alert``, ``warn`` in between."""
    if psi >= alert:
        return "alert"
    if psi >= warn:
        return "warn"
    return "stable"


def _psi_from_counts(
    labels: Sequence[str], ref_counts: np.ndarray, cur_counts: np.ndarray, epsilon: float
) -> tuple[float, tuple[DriftBin, ...]]:
    ref = np.maximum(ref_counts / ref_counts.sum(), epsilon)
    cur = np.maximum(cur_counts / cur_counts.sum(), epsilon)
    parts = (cur - ref) * np.log(cur / ref)
    bins = tuple(
        DriftBin(label, float(r), float(c), float(p))
        for label, r, c, p in zip(labels, ref, cur, parts, strict=True)
    )
    return float(parts.sum()), bins


def _numeric_bins(
    ref: np.ndarray, cur: np.ndarray, n_bins: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    ref_ok = ref[~np.isnan(ref)]
    # Interior cut points at reference quantiles; duplicates collapse so a variable with
    # few distinct values gets fewer, still meaningful bins.
    cuts = (
        np.unique(np.quantile(ref_ok, np.linspace(0, 1, n_bins + 1)[1:-1])) if ref_ok.size else []
    )
    cuts = np.asarray(cuts, dtype=float)

    def count(values: np.ndarray) -> np.ndarray:
        ok = values[~np.isnan(values)]
        # right-closed bins: (-inf, c1], (c1, c2], ..., (ck, inf)
        idx = np.searchsorted(cuts, ok, side="left")
        counts = np.bincount(idx, minlength=cuts.size + 1).astype(float)
        return np.append(counts, np.isnan(values).sum())

    edges = ["-inf", *[f"{c:.6g}" for c in cuts], "inf"]
    labels = [f"({edges[i]}, {edges[i + 1]}]" for i in range(cuts.size + 1)] + [MISSING]
    return labels, count(ref), count(cur)


def _categorical_bins(ref: pd.Series, cur: pd.Series) -> tuple[list[str], np.ndarray, np.ndarray]:
    ref_s = ref.astype("object").where(ref.notna(), MISSING).astype(str)
    cur_s = cur.astype("object").where(cur.notna(), MISSING).astype(str)
    levels = sorted(set(ref_s))
    cur_s = cur_s.where(cur_s.isin(levels), NEW_LEVEL)
    labels = [*levels, NEW_LEVEL]
    ref_counts = ref_s.value_counts().reindex(labels, fill_value=0).to_numpy(dtype=float)
    cur_counts = cur_s.value_counts().reindex(labels, fill_value=0).to_numpy(dtype=float)
    return labels, ref_counts, cur_counts


def population_stability(
    reference: ArrayLike | pd.Series,
    current: ArrayLike | pd.Series,
    *,
    variable: str = "score",
    kind: Literal["auto", "numeric", "categorical"] = "auto",
    n_bins: int = 10,
    epsilon: float = EPSILON,
    warn: float = WARN_THRESHOLD,
    alert: float = ALERT_THRESHOLD,
) -> DriftResult:
    """PSI of one variable between a reference and a current population.

    Parameters
    ----------
    reference, current:
        Values of the variable in each population (NaN/None = missing).
    variable:
        Name used in the result.
    kind:
        ``auto`` treats numbers and booleans as numeric and anything else as categorical.
    n_bins:
        Quantile bins for numeric variables (fewer when the reference has ties).
    epsilon:
        Floor for empty shares.
    warn, alert:
        Thresholds of the alert level.
    """
    ref = pd.Series(reference)
    cur = pd.Series(current)
    if ref.size == 0 or cur.size == 0:
        raise DriftInputError(f"{variable}: both populations need at least one value")
    if kind == "auto":
        numeric = pd.api.types.is_numeric_dtype(ref.dtype) or pd.api.types.is_bool_dtype(ref.dtype)
        kind = "numeric" if numeric else "categorical"
    if kind == "numeric":
        labels, ref_counts, cur_counts = _numeric_bins(
            ref.astype(float).to_numpy(), pd.to_numeric(cur).astype(float).to_numpy(), n_bins
        )
    elif kind == "categorical":
        labels, ref_counts, cur_counts = _categorical_bins(ref, cur)
    else:
        raise DriftInputError(f"{variable}: unknown kind {kind!r}")
    psi, bins = _psi_from_counts(labels, ref_counts, cur_counts, epsilon)
    return DriftResult(
        variable=variable,
        kind=kind,
        psi=psi,
        level=drift_level(psi, warn, alert),
        reference_n=int(ref.size),
        current_n=int(cur.size),
        bins=bins,
    )


def population_stability_table(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    scores: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None,
    n_bins: int = 10,
) -> tuple[DriftResult, ...]:
    """PSI for every column (and optional scores), largest shift first.

    Parameters
    ----------
    reference, current:
        Feature tables of the two populations.
    columns:
        Columns to compare (default: all columns of ``reference``).
    scores:
        Extra variables, e.g. ``{"score": (training_scores, current_scores)}``.
    """
    names = list(columns) if columns is not None else [str(c) for c in reference.columns]
    missing = [c for c in names if c not in current.columns]
    if missing:
        raise DriftInputError(f"current population lacks column(s): {', '.join(missing)}")
    results = [
        population_stability(reference[c], current[c], variable=c, n_bins=n_bins) for c in names
    ]
    for name, (ref, cur) in (scores or {}).items():
        results.append(population_stability(ref, cur, variable=name, kind="numeric", n_bins=n_bins))
    return tuple(sorted(results, key=lambda r: (-r.psi, r.variable)))
