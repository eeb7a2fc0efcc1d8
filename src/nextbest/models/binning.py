"""Monotonic binning with weight of evidence (WOE) and information value (IV).

Credit convention: the event (``y = 1``) is the "bad" outcome, and

    WOE(bin) = ln( share of non-events in the bin / share of events in the bin )
    IV       = sum over bins of (non-event share - event share) * WOE

so a higher WOE means lower risk. Counts get 0.5 added per bin before the shares are taken,
which keeps WOE finite for a bin without events or non-events.

Two methods find the bins; both return the same :class:`FeatureBinning`, with WOE and IV
computed here from the bins' counts.

``optimal`` (optbinning's ``OptimalBinning``): CART pre-bins, then a constraint-programming
solver picks the merge of pre-bins with the largest IV subject to a monotonic event rate and
the minimum bin size. Numeric variables are solved ascending and descending and the binning
with the larger IV is kept. Categorical variables: rare levels are pooled as ``(other)``, a
bin of its own; the other levels, ordered by event rate, are grouped the same way.

``pav`` (the earlier heuristic): quantile pre-bins, then a pool-adjacent-violators pass merges
neighbours until the event rate is monotonic in the direction of the overall trend, then bins
below the minimum size are merged into their closest neighbour (by event rate). Categorical
variables: one bin per level, rare levels pooled as ``(other)``.

Missing values form their own bin (``pav`` keeps a missing categorical value as a level).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from nextbest.errors import NextbestError

__all__ = [
    "BINNING_METHODS",
    "BinningError",
    "BinningMethod",
    "FeatureBinning",
    "WoeBin",
    "fit_binning",
]

OTHER = "(other)"
MISSING = "(missing)"

BinningMethod = Literal["optimal", "pav"]
BINNING_METHODS: tuple[BinningMethod, ...] = get_args(BinningMethod)


class BinningError(NextbestError):
    """A variable cannot be binned (no values, target not 0/1, solver failed)."""


@dataclass(frozen=True)
class WoeBin:
    """One bin of a variable: what falls in it, its counts, WOE and IV share."""

    label: str
    lower: float | None
    upper: float | None
    categories: tuple[str, ...]
    count: int
    events: int
    event_rate: float
    woe: float
    iv: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FeatureBinning:
    """Fitted binning of one variable.

    Attributes
    ----------
    feature:
        Column name.
    kind:
        ``numeric`` (bins are right-closed intervals between ``cuts``) or ``categorical``.
    cuts:
        Interior cut points of a numeric variable, ascending.
    bins:
        The bins; for numeric variables the interval bins in order, then the missing bin
        if missing values were seen.
    iv:
        Information value of the variable.
    trend:
        ``ascending`` or ``descending`` event rate with the value (numeric only).
    """

    feature: str
    kind: Literal["numeric", "categorical"]
    cuts: tuple[float, ...]
    bins: tuple[WoeBin, ...]
    iv: float
    trend: str

    def bin_index(self, values: ArrayLike | pd.Series) -> NDArray[np.int64]:
        """Index into ``bins`` per value; -1 where the value has no bin (WOE 0 applies)."""
        series = pd.Series(values)
        if self.kind == "numeric":
            x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            idx = np.searchsorted(np.asarray(self.cuts), x, side="left").astype(np.int64)
            missing_bin = next((i for i, b in enumerate(self.bins) if b.label == MISSING), -1)
            return np.where(np.isnan(x), missing_bin, idx)
        lookup = {c: i for i, b in enumerate(self.bins) for c in b.categories}
        other = lookup.get(OTHER, -1)
        missing = lookup.get(MISSING, -1)
        out = np.empty(len(series), dtype=np.int64)
        for i, v in enumerate(series.astype("object")):
            if v is None or (isinstance(v, float) and np.isnan(v)):
                out[i] = missing
            else:
                out[i] = lookup.get(str(v), other)
        return out

    def transform(self, values: ArrayLike | pd.Series) -> NDArray[np.float64]:
        """WOE per value; values without a bin (unseen level, missing unseen) get 0."""
        idx = self.bin_index(values)
        woe = np.array([b.woe for b in self.bins] + [0.0])
        return woe[np.where(idx < 0, len(self.bins), idx)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _woe_iv(events: NDArray[np.float64], counts: NDArray[np.float64]) -> tuple[Any, Any]:
    non = counts - events
    ev_share = (events + 0.5) / (events.sum() + 0.5 * events.size)
    non_share = (non + 0.5) / (non.sum() + 0.5 * non.size)
    woe = np.log(non_share / ev_share)
    return woe, (non_share - ev_share) * woe


def _woe_bins(
    labels: list[str],
    events: NDArray[np.float64],
    counts: NDArray[np.float64],
    *,
    bounds: list[tuple[float | None, float | None]],
    categories: list[tuple[str, ...]],
) -> tuple[tuple[WoeBin, ...], float]:
    """The bins with WOE and IV from their counts, and the variable's IV."""
    woe, iv = _woe_iv(events, counts)
    bins = tuple(
        WoeBin(
            label=label,
            lower=bounds[k][0],
            upper=bounds[k][1],
            categories=categories[k],
            count=int(counts[k]),
            events=int(events[k]),
            event_rate=float(events[k] / counts[k]),
            woe=float(woe[k]),
            iv=float(iv[k]),
        )
        for k, label in enumerate(labels)
    )
    return bins, float(iv.sum())


def _pav(events: list[float], counts: list[float], ascending: bool) -> list[list[int]]:
    """Pool adjacent violators: groups of consecutive pre-bins with monotonic rates."""
    blocks: list[list[Any]] = []  # [events, count, member indices]
    for i, (e, c) in enumerate(zip(events, counts, strict=True)):
        blocks.append([e, c, [i]])
        while len(blocks) > 1:
            (e1, c1, m1), (e2, c2, m2) = blocks[-2], blocks[-1]
            r1, r2 = e1 / c1, e2 / c2
            if (r2 >= r1) if ascending else (r2 <= r1):
                break
            blocks[-2:] = [[e1 + e2, c1 + c2, m1 + m2]]
    return [b[2] for b in blocks]


def _merge_small(
    groups: list[list[int]], events: NDArray[Any], counts: NDArray[Any], minimum: float
) -> list[list[int]]:
    groups = [list(g) for g in groups]
    while len(groups) > 1:
        sizes = [counts[g].sum() for g in groups]
        evs = [events[g].sum() for g in groups]
        # Merge a bin that is too small or pure (all events or none) into its neighbour
        # with the closest event rate.
        bad = [k for k in range(len(groups)) if sizes[k] < minimum or evs[k] in (0, sizes[k])]
        if not bad:
            break
        k = min(bad, key=lambda j: sizes[j])
        rate = evs[k] / sizes[k]
        neighbours = [j for j in (k - 1, k + 1) if 0 <= j < len(groups)]
        j = min(neighbours, key=lambda n: abs(evs[n] / sizes[n] - rate))
        lo, hi = sorted((k, j))
        groups[lo : hi + 1] = [groups[lo] + groups[hi]]
    return groups


def _optimal_splits(
    x: NDArray[Any],
    y: NDArray[np.float64],
    *,
    feature: str,
    dtype: Literal["numerical", "categorical"],
    trend: Literal["ascending", "descending"],
    n_prebins: int,
    min_count: float,
) -> Any:
    """optbinning's optimal split points (numeric) or level groups (categorical).

    ``x`` holds no missing value. optbinning takes the minimum bin size as a share, in
    (0, 0.5], of the records it is given: ``min_count`` below one record becomes one.
    """
    # Imported here: optbinning loads ortools and cvxpy (about 0.5 s), which scoring with a
    # fitted binning never needs.
    from optbinning import OptimalBinning

    share = min(max(min_count, 1.0) / x.size, 0.5)
    ob = OptimalBinning(
        name=feature,
        dtype=dtype,
        monotonic_trend=trend,
        max_n_prebins=n_prebins,
        min_prebin_size=share,
        min_bin_size=share,
    ).fit(x, y.astype(np.int64))
    if ob.status not in ("OPTIMAL", "FEASIBLE"):
        raise BinningError(f"{feature}: optimal binning found no solution ({ob.status})")
    return ob.splits


def fit_binning(
    values: ArrayLike | pd.Series,
    y: ArrayLike,
    *,
    feature: str = "x",
    kind: Literal["auto", "numeric", "categorical"] = "auto",
    method: BinningMethod = "optimal",
    n_prebins: int = 20,
    min_bin_share: float = 0.05,
) -> FeatureBinning:
    """Fit a monotonic WOE binning of one variable against 0/1 outcomes ``y``.

    Parameters
    ----------
    values:
        The variable (numbers, or labels for a categorical).
    y:
        1 = event ("bad"), 0 = non-event.
    feature:
        Name carried in the result and in error messages.
    kind:
        ``auto`` chooses numeric for numeric/boolean dtypes.
    method:
        ``optimal`` (optbinning's solver) or ``pav`` (quantile pre-bins merged by pool
        adjacent violators); see the module docstring.
    n_prebins:
        Pre-bins before merging (at most this many for ``optimal``).
    min_bin_share:
        Smallest share of non-missing records a bin may hold; rarer categorical levels are
        pooled as ``(other)``.

    Raises
    ------
    BinningError
        ``y`` is not 0/1 with one value per record, a variable has no non-missing value
        (numeric, or categorical with ``optimal``), an unknown ``method``, or the solver
        found no binning.
    """
    series = pd.Series(values).reset_index(drop=True)
    target = np.asarray(y, dtype=float)
    if target.size != len(series) or not np.all((target == 0) | (target == 1)):
        raise BinningError(f"{feature}: y must be 0/1 with one value per record")
    if method not in BINNING_METHODS:
        raise BinningError(f"{feature}: method must be one of {BINNING_METHODS}, got {method!r}")
    if kind == "auto":
        numeric = pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
            series.dtype
        )
        kind = "numeric" if numeric else "categorical"
    if kind == "numeric":
        x = series.astype(float).to_numpy()
        if np.isnan(x).all():
            raise BinningError(f"{feature}: no non-missing values to bin")
        fit_numeric = _fit_numeric_optimal if method == "optimal" else _fit_numeric_pav
        return fit_numeric(x, target, feature, n_prebins, min_bin_share)
    if method == "optimal":
        return _fit_categorical_optimal(series, target, feature, n_prebins, min_bin_share)
    return _fit_categorical_pav(series, target, feature, min_bin_share)


def _interval_binning(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    cuts: NDArray[np.float64],
    feature: str,
    trend: Literal["ascending", "descending"],
) -> FeatureBinning:
    """Right-closed intervals between ``cuts``, then a missing bin if values are missing."""
    ok = ~np.isnan(x)
    idx = np.searchsorted(cuts, x[ok], side="left")
    counts = np.bincount(idx, minlength=cuts.size + 1).astype(float)
    events = np.bincount(idx, weights=y[ok], minlength=cuts.size + 1).astype(float)
    edges = [-np.inf, *cuts.tolist(), np.inf]
    bounds: list[tuple[float | None, float | None]] = list(itertools.pairwise(edges))
    labels = [f"({lo:.6g}, {hi:.6g}]" for lo, hi in bounds]
    categories: list[tuple[str, ...]] = [()] * len(labels)
    if not ok.all():
        events = np.append(events, y[~ok].sum())
        counts = np.append(counts, (~ok).sum())
        labels.append(MISSING)
        bounds.append((None, None))
        categories.append((MISSING,))
    bins, iv = _woe_bins(labels, events, counts, bounds=bounds, categories=categories)
    return FeatureBinning(feature, "numeric", tuple(cuts.tolist()), bins, iv, trend)


def _fit_numeric_pav(
    x: NDArray[np.float64], y: NDArray[np.float64], feature: str, n_prebins: int, min_share: float
) -> FeatureBinning:
    ok = ~np.isnan(x)
    xs, ys = x[ok], y[ok]
    cuts = np.unique(np.quantile(xs, np.linspace(0, 1, n_prebins + 1)[1:-1]))
    cuts = cuts[cuts < xs.max()]  # a cut at the maximum would leave an empty last bin
    idx = np.searchsorted(cuts, xs, side="left")
    counts = np.bincount(idx, minlength=cuts.size + 1).astype(float)
    # Discrete values can leave a pre-bin empty: dropping its upper cut joins it to the next.
    cuts = cuts[counts[:-1] > 0]
    idx = np.searchsorted(cuts, xs, side="left")
    counts = np.bincount(idx, minlength=cuts.size + 1).astype(float)
    events = np.bincount(idx, weights=ys, minlength=cuts.size + 1)
    ascending = bool(np.corrcoef(xs, ys)[0, 1] >= 0) if np.std(xs) > 0 and np.std(ys) > 0 else True
    groups = _pav(events.tolist(), counts.tolist(), ascending)
    groups = _merge_small(groups, events, counts, min_share * xs.size)
    # Merging small bins can break monotonicity; one more PAV pass over the groups restores it.
    g_events = [events[g].sum() for g in groups]
    g_counts = [counts[g].sum() for g in groups]
    groups = [
        [i for m in block for i in groups[m]] for block in _pav(g_events, g_counts, ascending)
    ]
    new_cuts = np.array([cuts[g[-1]] for g in groups[:-1]], dtype=float)
    return _interval_binning(x, y, new_cuts, feature, "ascending" if ascending else "descending")


def _fit_numeric_optimal(
    x: NDArray[np.float64], y: NDArray[np.float64], feature: str, n_prebins: int, min_share: float
) -> FeatureBinning:
    # optbinning's bins are [s_i, s_i+1), ours (c_i, c_i+1]: its CART pre-bin splits lie
    # between observed values, so both put the training values in the same bins.
    ok = ~np.isnan(x)
    trends: tuple[Literal["ascending", "descending"], ...] = ("ascending", "descending")
    fits = []
    for trend in trends:
        splits = _optimal_splits(
            x[ok], y[ok], feature=feature, dtype="numerical", trend=trend,
            n_prebins=n_prebins, min_count=min_share * ok.sum(),
        )  # fmt: skip
        fits.append(_interval_binning(x, y, np.asarray(splits, dtype=float), feature, trend))
    return max(fits, key=lambda b: b.iv)  # a tie (e.g. one bin either way) keeps ascending


def _fit_categorical_optimal(
    series: pd.Series, y: NDArray[np.float64], feature: str, n_prebins: int, min_share: float
) -> FeatureBinning:
    missing = series.isna().to_numpy()
    if missing.all():
        raise BinningError(f"{feature}: no non-missing values to bin")
    levels = series[~missing].astype(str).to_numpy(dtype=object)
    ys = y[~missing]
    names, sizes = np.unique(levels, return_counts=True)
    rare = tuple(str(c) for c in names[sizes < min_share * levels.size])
    # Rare levels are pooled as "(other)", a bin of its own beside the solver's groups (as
    # optbinning's cat_cutoff and the pav method keep it): the size rule binds the groups.
    common = ~np.isin(levels, rare)
    groups: list[tuple[str, ...]] = []
    if common.any():
        splits = _optimal_splits(
            levels[common], ys[common], feature=feature, dtype="categorical",
            trend="ascending", n_prebins=n_prebins, min_count=min_share * levels.size,
        )  # fmt: skip
        groups = [tuple(sorted(str(c) for c in g)) for g in splits]  # by ascending event rate
    where = {c: k for k, g in enumerate(groups) for c in g}
    idx = np.array([where.get(c, len(groups)) for c in levels], dtype=np.int64)
    counts = np.bincount(idx, minlength=len(groups) + bool(rare)).astype(float)
    events = np.bincount(idx, weights=ys, minlength=len(groups) + bool(rare)).astype(float)
    labels = [", ".join(g) for g in groups]
    categories = list(groups)
    if rare:  # "(other)" also takes, in scoring, levels never seen
        labels.append(OTHER)
        categories.append((*rare, OTHER))
    if missing.any():
        events = np.append(events, y[missing].sum())
        counts = np.append(counts, missing.sum())
        labels.append(MISSING)
        categories.append((MISSING,))
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * len(labels)
    bins, iv = _woe_bins(labels, events, counts, bounds=bounds, categories=categories)
    return FeatureBinning(feature, "categorical", (), bins, iv, "by event rate")


def _fit_categorical_pav(
    series: pd.Series, y: NDArray[np.float64], feature: str, min_share: float
) -> FeatureBinning:
    labels = series.astype("object").where(series.notna(), MISSING).astype(str)
    table = (
        pd.DataFrame({"level": labels, "y": y})
        .groupby("level", sort=True)["y"]
        .agg(["sum", "count"])
    )
    rare = table["count"] < min_share * len(series)
    groups: dict[str, list[str]] = {str(k): [str(k)] for k in table.index[~rare]}
    if rare.any():
        groups[OTHER] = [str(k) for k in table.index[rare]] + [OTHER]
    members = {g: [c for c in groups[g] if c != OTHER] for g in groups}
    names = sorted(
        groups,
        key=lambda g: (
            table.loc[members[g], "sum"].sum() / table.loc[members[g], "count"].sum(),
            g,
        ),
    )
    events = np.array([table.loc[members[g], "sum"].sum() for g in names], dtype=float)
    counts = np.array([table.loc[members[g], "count"].sum() for g in names], dtype=float)
    bins, iv = _woe_bins(
        names,
        events,
        counts,
        bounds=[(None, None)] * len(names),
        categories=[tuple(groups[g]) for g in names],
    )
    return FeatureBinning(feature, "categorical", (), bins, iv, "by level")
