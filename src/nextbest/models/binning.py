"""Monotonic binning with weight of evidence (WOE) and information value (IV).

Credit convention: the event (``y = 1``) is the "bad" outcome, and

    WOE(bin) = ln( share of non-events in the bin / share of events in the bin )
    IV       = sum over bins of (non-event share - event share) * WOE

so a higher WOE means lower risk. Counts get 0.5 added per bin before the shares are taken,
which keeps WOE finite for a bin without events or non-events.

Numeric variables: quantile pre-bins, then a pool-adjacent-violators pass merges neighbours
until the event rate is monotonic in the direction of the overall trend, then bins below the
minimum size are merged into their closest neighbour (by event rate). Missing values form
their own bin. Categorical variables: one bin per level, rare levels pooled as ``(other)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from nextbest.errors import NextbestError

__all__ = ["BinningError", "FeatureBinning", "WoeBin", "fit_binning"]

OTHER = "(other)"
MISSING = "(missing)"


class BinningError(NextbestError):
    """A variable cannot be binned (no values, target not 0/1)."""


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


def fit_binning(
    values: ArrayLike | pd.Series,
    y: ArrayLike,
    *,
    feature: str = "x",
    kind: Literal["auto", "numeric", "categorical"] = "auto",
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
        Name carried in the result.
    kind:
        ``auto`` chooses numeric for numeric/boolean dtypes.
    n_prebins:
        Quantile pre-bins before merging.
    min_bin_share:
        Smallest share of non-missing records a bin may hold.
    """
    series = pd.Series(values).reset_index(drop=True)
    target = np.asarray(y, dtype=float)
    if target.size != len(series) or not np.all((target == 0) | (target == 1)):
        raise BinningError(f"{feature}: y must be 0/1 with one value per record")
    if kind == "auto":
        numeric = pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
            series.dtype
        )
        kind = "numeric" if numeric else "categorical"
    if kind == "numeric":
        return _fit_numeric(
            series.astype(float).to_numpy(), target, feature, n_prebins, min_bin_share
        )
    return _fit_categorical(series, target, feature, min_bin_share)


def _fit_numeric(
    x: NDArray[np.float64], y: NDArray[np.float64], feature: str, n_prebins: int, min_share: float
) -> FeatureBinning:
    ok = ~np.isnan(x)
    if not ok.any():
        raise BinningError(f"{feature}: no non-missing values to bin")
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
    new_cuts = [float(cuts[g[-1]]) for g in groups[:-1]]
    bin_events = np.array([events[g].sum() for g in groups])
    bin_counts = np.array([counts[g].sum() for g in groups])
    labels: list[str] = []
    bounds = [-np.inf, *new_cuts, np.inf]
    for k in range(len(groups)):
        labels.append(f"({bounds[k]:.6g}, {bounds[k + 1]:.6g}]")
    n_missing = int((~ok).sum())
    if n_missing:
        bin_events = np.append(bin_events, y[~ok].sum())
        bin_counts = np.append(bin_counts, n_missing)
        labels.append(MISSING)
    woe, iv = _woe_iv(bin_events, bin_counts)
    bins = []
    for k, label in enumerate(labels):
        interval = label != MISSING
        bins.append(
            WoeBin(
                label=label,
                lower=float(bounds[k]) if interval else None,
                upper=float(bounds[k + 1]) if interval else None,
                categories=(MISSING,) if not interval else (),
                count=int(bin_counts[k]),
                events=int(bin_events[k]),
                event_rate=float(bin_events[k] / bin_counts[k]),
                woe=float(woe[k]),
                iv=float(iv[k]),
            )
        )
    return FeatureBinning(
        feature=feature,
        kind="numeric",
        cuts=tuple(new_cuts),
        bins=tuple(bins),
        iv=float(iv.sum()),
        trend="ascending" if ascending else "descending",
    )


def _fit_categorical(
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
    names = sorted(
        groups,
        key=lambda g: (
            table.loc[[c for c in groups[g] if c != OTHER], "sum"].sum()
            / table.loc[[c for c in groups[g] if c != OTHER], "count"].sum(),
            g,
        ),
    )
    bin_events = np.array(
        [table.loc[[c for c in groups[g] if c != OTHER], "sum"].sum() for g in names]
    )
    bin_counts = np.array(
        [table.loc[[c for c in groups[g] if c != OTHER], "count"].sum() for g in names], dtype=float
    )
    woe, iv = _woe_iv(bin_events, bin_counts)
    bins = tuple(
        WoeBin(
            label=g,
            lower=None,
            upper=None,
            categories=tuple(groups[g]),
            count=int(bin_counts[k]),
            events=int(bin_events[k]),
            event_rate=float(bin_events[k] / bin_counts[k]),
            woe=float(woe[k]),
            iv=float(iv[k]),
        )
        for k, g in enumerate(names)
    )
    return FeatureBinning(
        feature=feature,
        kind="categorical",
        cuts=(),
        bins=bins,
        iv=float(iv.sum()),
        trend="by level",
    )
