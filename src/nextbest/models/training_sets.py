"""Point-in-time training sets: features as of T, the label in (T, T + h].

A training set stacks one *point* per as-of date T. For each point the features come from
the feature snapshot of T (:func:`nextbest.profile.features.snapshot_features`: only events
on or before T, only rows loaded on or before the feature load cut-off) and the label from
events in the half-open window (T, T + h], read with the label load cut-off. Several earlier
points form the training part, one later point the validation part; every training window
must end on or before the validation as-of date, so no label of a training row lies in the
period the validation labels come from.

Leakage is excluded by construction rather than by checks on the result:

* features are the snapshot of T, which filters events by ``<= T`` and loads by the cut-off;
* labels are computed from events with dates in (T, T + h] only (a churn label is the
  project's churn definition evaluated on the snapshot of T + h, which itself sees nothing
  after T + h);
* the eligible population is decided from the snapshot of T (e.g. churn: customers neither
  churned nor prospects at T; propensity: customers not holding the family at T).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

import ibis
import numpy as np
import pandas as pd

from nextbest.errors import NextbestError
from nextbest.profile.catalogue import FEATURES
from nextbest.profile.features import (
    SnapshotPoint,
    known_at,
    shift_month_end,
    snapshot_features,
)
from nextbest.profile.lifecycle import Stage, lifecycle_stages

__all__ = [
    "HISTORY_BASE",
    "HISTORY_LAGS",
    "MODEL_FEATURES",
    "AdoptionTarget",
    "ChurnTarget",
    "SetDesign",
    "SnapshotFrames",
    "Target",
    "TrainingSet",
    "TrainingSetError",
    "TrainingSpec",
    "WarehouseReader",
    "adoptions",
    "build_training_set",
    "default_spec",
    "history_columns",
    "labelled_point",
    "lags_of",
    "model_frame",
]

#: Snapshot columns usable as model inputs: every catalogue feature except calendar dates
#: (their information is in the ``days_since``/``months`` features, and raw dates would let
#: a model tell the as-of dates apart).
MODEL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.dtype != "date")

#: Snapshot columns whose change against earlier month ends the models see (balances,
#: activity, holdings): a customer drifting into dormancy shows as activity and AUM falling
#: month on month before the churn definition fires.
HISTORY_BASE: tuple[str, ...] = (
    "aum",
    "deposit_adb",
    "investment_adb",
    "card_balance",
    "txn_count_30d",
    "txn_amount_30d",
    "txn_days_30d",
    "logins_30d",
    "digital_events_90d",
    "days_since_last_activity",
    "product_count",
)
#: Default lags (months) of the history features.
HISTORY_LAGS: tuple[int, ...] = (1, 2, 3)
#: Amount columns compared on a log scale (signed log1p ratio); the others as differences.
_LAG = re.compile(r"(?:.+_chg|stage)_(\d+)m(?:_ago)?")
_AMOUNTS = frozenset({"aum", "deposit_adb", "investment_adb", "card_balance", "txn_amount_30d"})

Role = Literal["train", "validation", "score"]
LIVE_STAGES = (Stage.NEW.value, Stage.ACTIVE.value, Stage.MATURE.value, Stage.DORMANT.value)


class TrainingSetError(NextbestError):
    """A training set cannot be built with this specification."""


class WarehouseReader(Protocol):
    """What the builder reads: all stored versions of a table, its key index and a way to
    run a query."""

    def table(self, name: str) -> ibis.Table: ...

    def key_index(self, name: str) -> ibis.Table | None: ...

    def to_arrow(self, expr: ibis.Table) -> Any: ...


class SnapshotFrames:
    """Feature snapshots with lifecycle stage, computed once per as-of date and kept.

    Parameters
    ----------
    source:
        The warehouse.
    load_cutoff:
        Latest load time of rows any snapshot here may read.
    timezone:
        The bank's time zone.
    """

    def __init__(self, source: WarehouseReader, load_cutoff: datetime, timezone: str) -> None:
        self.source = source
        self.load_cutoff = load_cutoff
        self.timezone = timezone
        self._frames: dict[date, pd.DataFrame] = {}

    def at(self, as_of: date) -> pd.DataFrame:
        """Snapshot of ``as_of`` plus a ``stage`` column, one row per known customer."""
        if as_of not in self._frames:
            point = SnapshotPoint(as_of, self.load_cutoff, self.timezone)
            snap = self.source.to_arrow(snapshot_features(self.source, point))
            # Stages from the materialised snapshot: a join on the lazy expression would make
            # the backend compute the whole snapshot twice.
            stages = self.source.to_arrow(lifecycle_stages(ibis.memtable(snap)))
            frame = snap.to_pandas().merge(
                stages.to_pandas()[["customer_key", "stage"]], on="customer_key", how="left"
            )
            self._frames[as_of] = frame.sort_values("customer_key", ignore_index=True)
        return self._frames[as_of]


#: Ratios of a recent window to a longer one in the same snapshot: a customer's own activity
#: level varies a lot, so "less than usual" says more than "little". (Windows of a year are
#: left out: early as-of dates of a short history truncate them, which would drift.)
RATIOS: tuple[tuple[str, str, str, float], ...] = (
    ("txn_30d_vs_90d", "txn_count_30d", "txn_count_90d", 3.0),
    ("amount_30d_vs_90d", "txn_amount_30d", "txn_amount_90d", 3.0),
    ("logins_30d_vs_90d", "logins_30d", "logins_90d", 3.0),
    ("aum_vs_adb", "aum", "aum_adb", 1.0),
)


def history_columns(lags: Sequence[int] = HISTORY_LAGS) -> tuple[str, ...]:
    """Names of the model-only columns :func:`model_frame` adds for ``lags``."""
    cols = ["stage", *(r[0] for r in RATIOS)]
    for lag in lags:
        cols.append(f"stage_{lag}m_ago")
        cols += [f"{c}_chg_{lag}m" for c in HISTORY_BASE]
    return tuple(cols)


def lags_of(features: Sequence[str]) -> tuple[int, ...]:
    """The history lags a model's feature list needs (``()`` for snapshot columns only)."""
    lags = {int(m.group(1)) for f in features if (m := _LAG.fullmatch(f))}
    return tuple(sorted(lags))


def model_frame(
    frames: SnapshotFrames, as_of: date, lags: Sequence[int] = HISTORY_LAGS
) -> pd.DataFrame:
    """The snapshot of ``as_of`` plus its change against the snapshots ``lags`` months earlier.

    Ratios of recent to longer windows (:data:`RATIOS`, as ``log1p(recent) −
    log1p(longer / scale)``) are added too. For each lag L: ``stage_<L>m_ago`` and
    ``<column>_chg_<L>m`` for every :data:`HISTORY_BASE` column — the signed log ratio
    ``log1p(now) − log1p(then)`` for amounts, ``now − then`` for counts and days. Earlier
    snapshots are month ends before ``as_of`` (read with the same load cut-off), so nothing
    after ``as_of`` enters. A customer unknown L months ago gets missing values. ``stage``
    itself is kept as an input.
    """
    snap = frames.at(as_of)
    out = snap.copy()
    for name, recent, longer, scale in RATIOS:
        r = snap[recent].astype("float64").clip(lower=0).to_numpy()
        total = snap[longer].astype("float64").clip(lower=0).to_numpy()
        out[name] = np.log1p(r) - np.log1p(total / scale)
    for lag in lags:
        before = frames.at(shift_month_end(as_of, -lag)).set_index("customer_key")
        then = before.reindex(snap["customer_key"].to_numpy())
        out[f"stage_{lag}m_ago"] = then["stage"].to_numpy()
        for c in HISTORY_BASE:
            now_v = snap[c].astype("float64").to_numpy()
            then_v = then[c].astype("float64").to_numpy()
            if c in _AMOUNTS:
                chg = np.log1p(np.maximum(now_v, 0.0)) - np.log1p(np.maximum(then_v, 0.0))
            else:
                chg = now_v - then_v
            out[f"{c}_chg_{lag}m"] = chg
    return out


class Target(Protocol):
    """A label definition: who is eligible at T, and whether the event happens in (T, T+h]."""

    @property
    def name(self) -> str: ...

    def eligible(self, snapshot: pd.DataFrame) -> pd.Series:
        """Boolean mask over the snapshot of T."""
        ...

    def labels(
        self, labels_from: SnapshotFrames, start: date, end: date, customers: pd.Series
    ) -> np.ndarray:
        """0/1 per customer in ``customers``: the event happened in (start, end]."""
        ...


@dataclass(frozen=True)
class ChurnTarget:
    """Churn in (T, T + h] by the project's definition (``docs/demo-bank.md``).

    Eligible: customers who hold or held a product and are not churned at T. Label: the
    lifecycle stage on the snapshot of T + h is ``churned``. Churn is absorbing in that
    definition (no deposit/investment account left, or AUM under 100 CNY with 90 silent
    days), so "churned at T + h and not at T" is "churned during (T, T + h]".
    """

    name: str = "churn"

    def eligible(self, snapshot: pd.DataFrame) -> pd.Series:
        return snapshot["stage"].isin(LIVE_STAGES)

    def labels(
        self, labels_from: SnapshotFrames, start: date, end: date, customers: pd.Series
    ) -> np.ndarray:
        later = labels_from.at(end).set_index("customer_key")["stage"]
        return (later.reindex(customers.to_numpy()) == Stage.CHURNED.value).to_numpy(np.int64)


@dataclass(frozen=True)
class AdoptionTarget:
    """Opening a product of ``family`` in (T, T + h], for live customers not holding it at T."""

    family: str
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", f"adopt_{self.family}")

    def eligible(self, snapshot: pd.DataFrame) -> pd.Series:
        column = f"holds_{self.family}"
        if column not in snapshot.columns:
            raise TrainingSetError(f"unknown product family {self.family!r} (no {column})")
        return snapshot["stage"].isin(LIVE_STAGES) & ~snapshot[column].astype(bool)

    def labels(
        self, labels_from: SnapshotFrames, start: date, end: date, customers: pd.Series
    ) -> np.ndarray:
        adopters = adoptions(labels_from, start, end)
        keys = set(adopters.loc[adopters["family"] == self.family, "customer_key"])
        return customers.isin(keys).to_numpy(np.int64)


def adoptions(labels_from: SnapshotFrames, start: date, end: date) -> pd.DataFrame:
    """``customer_key, family`` of every account opened in (start, end] (one row per pair)."""
    src = labels_from.source
    a = known_at(src, "account", labels_from.load_cutoff)
    p = known_at(src, "product", labels_from.load_cutoff).select("product_code", "family")
    a = a.filter((a.opened_on > ibis.literal(start)) & (a.opened_on <= ibis.literal(end)))
    pairs = a.join(p, "product_code").select("customer_key", "family").distinct()
    return src.to_arrow(pairs).to_pandas()


@dataclass(frozen=True)
class TrainingSpec:
    """Which as-of dates and horizon a training set uses.

    Attributes
    ----------
    train_as_of:
        As-of dates of the training points.
    validation_as_of:
        As-of date of the validation point; every training window (T, T + h] must end on or
        before it.
    horizon_months:
        h: the label window is (T, T + h months] (month ends stay month ends).
    feature_cutoff:
        Latest load time of rows the features may read.
    label_cutoff:
        Latest load time of rows the labels may read (default: ``feature_cutoff``).
    timezone:
        The bank's time zone.
    """

    train_as_of: tuple[date, ...]
    validation_as_of: date
    horizon_months: int
    feature_cutoff: datetime
    label_cutoff: datetime | None = None
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.horizon_months < 1:
            raise TrainingSetError(f"horizon must be at least 1 month, got {self.horizon_months}")
        if not self.train_as_of:
            raise TrainingSetError("at least one training as-of date is needed")
        for t in self.train_as_of:
            if self.horizon_end(t) > self.validation_as_of:
                raise TrainingSetError(
                    f"training as-of {t} with horizon {self.horizon_months} months ends "
                    f"{self.horizon_end(t)}, after the validation as-of "
                    f"{self.validation_as_of}: its labels would overlap the validation period"
                )

    def horizon_end(self, as_of: date) -> date:
        """T + h: a month end stays a month end, other days keep their day of month."""
        if as_of == shift_month_end(as_of, 0):
            return shift_month_end(as_of, self.horizon_months)
        return (pd.Timestamp(as_of) + pd.DateOffset(months=self.horizon_months)).date()

    @property
    def effective_label_cutoff(self) -> datetime:
        return self.label_cutoff or self.feature_cutoff

    def to_dict(self) -> dict[str, Any]:
        return {
            "train_as_of": [t.isoformat() for t in self.train_as_of],
            "validation_as_of": self.validation_as_of.isoformat(),
            "horizon_months": self.horizon_months,
            "feature_cutoff": self.feature_cutoff.isoformat(),
            "label_cutoff": self.effective_label_cutoff.isoformat(),
            "timezone": self.timezone,
            "data_window": [
                min(self.train_as_of).isoformat(),
                self.horizon_end(self.validation_as_of).isoformat(),
            ],
        }


def default_spec(
    last_label_date: date,
    feature_cutoff: datetime,
    *,
    horizon_months: int = 3,
    train_points: int = 4,
    spacing_months: int = 1,
    timezone: str = "Asia/Shanghai",
) -> TrainingSpec:
    """Validation as-of h months before the last labelled month end, training points before.

    The latest training point ends its window exactly at the validation as-of date; earlier
    ones are ``spacing_months`` apart.
    """
    end = shift_month_end(last_label_date, 0)
    if end > last_label_date:
        end = shift_month_end(end, -1)
    validation = shift_month_end(end, -horizon_months)
    latest_train = shift_month_end(validation, -horizon_months)
    train = tuple(shift_month_end(latest_train, -spacing_months * i) for i in range(train_points))
    return TrainingSpec(
        train_as_of=tuple(sorted(train)),
        validation_as_of=validation,
        horizon_months=horizon_months,
        feature_cutoff=feature_cutoff,
        timezone=timezone,
    )


class SetDesign(Protocol):
    """How a training set's rows were chosen: :class:`TrainingSpec` (out of time) or another
    design (e.g. the credit scorecard's customer holdout); recorded with the model."""

    @property
    def horizon_months(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TrainingSet:
    """Stacked points: ``as_of_date, customer_key, role, label`` and the feature columns.

    Attributes
    ----------
    frame:
        One row per (as-of date, eligible customer).
    features:
        Model input columns, in order.
    target:
        Name of the label definition.
    spec:
        The as-of dates, horizon and cut-offs it was built with.
    """

    frame: pd.DataFrame = field(repr=False)
    features: tuple[str, ...]
    target: str
    spec: SetDesign

    def part(self, role: Role) -> tuple[pd.DataFrame, np.ndarray]:
        """Features and 0/1 labels of the ``train`` or ``validation`` rows."""
        rows = self.frame[self.frame["role"] == role]
        return rows[list(self.features)].reset_index(drop=True), rows["label"].to_numpy(np.int64)

    def keys(self, role: Role) -> pd.DataFrame:
        """``as_of_date, customer_key`` of the rows of ``role``, in the order of :meth:`part`."""
        rows = self.frame[self.frame["role"] == role]
        return rows[["as_of_date", "customer_key"]].reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """Rows and event rate per as-of date and role."""
        g = self.frame.groupby(["role", "as_of_date"], sort=True)["label"]
        return {
            "target": self.target,
            "spec": self.spec.to_dict(),
            "points": [
                {"role": r, "as_of": d.isoformat(), "rows": int(n), "events": int(e)}
                for (r, d), n, e in zip(g.size().index, g.size(), g.sum(), strict=True)
            ],
        }


def labelled_point(
    snapshot: pd.DataFrame,
    target: Target,
    label_frames: SnapshotFrames,
    as_of: date,
    horizon_end: date,
    features: Sequence[str],
) -> pd.DataFrame:
    """``as_of_date, customer_key, label`` and ``features`` of the customers eligible at T.

    ``snapshot`` is the (model) frame of ``as_of``; the label is ``target``'s event in
    (``as_of``, ``horizon_end``], read from ``label_frames``.
    """
    rows = snapshot[target.eligible(snapshot).to_numpy()]
    label = target.labels(label_frames, as_of, horizon_end, rows["customer_key"])
    part = rows[["customer_key", *features]].copy()
    part.insert(0, "as_of_date", as_of)
    part.insert(2, "label", label)
    return part.reset_index(drop=True)


def build_training_set(
    source: WarehouseReader,
    spec: TrainingSpec,
    target: Target,
    *,
    features: Sequence[str] = MODEL_FEATURES,
    feature_frames: SnapshotFrames | None = None,
    label_frames: SnapshotFrames | None = None,
    on_point: Callable[[date], None] | None = None,
    history_lags: Sequence[int] = (),
) -> TrainingSet:
    """Build the training and validation points of ``spec`` for ``target``.

    Parameters
    ----------
    source:
        The warehouse.
    spec:
        As-of dates, horizon and load cut-offs.
    target:
        Label definition (:class:`ChurnTarget`, :class:`AdoptionTarget` or your own).
    features:
        Snapshot columns to keep as model inputs.
    feature_frames, label_frames:
        Snapshot caches to share between training sets of several targets; they must use
        the spec's cut-offs.
    on_point:
        Called with each as-of date as it is done (progress display).
    history_lags:
        When given, :func:`model_frame` adds the lifecycle stage and the change against the
        snapshots this many months earlier; those columns are appended to ``features``.
    """
    ff = feature_frames or SnapshotFrames(source, spec.feature_cutoff, spec.timezone)
    if ff.load_cutoff != spec.feature_cutoff:
        raise TrainingSetError("feature_frames use a different load cut-off than the spec")
    if label_frames is None:
        same = spec.effective_label_cutoff == spec.feature_cutoff
        label_frames = ff if same else SnapshotFrames(source, spec.effective_label_cutoff,
                                                      spec.timezone)  # fmt: skip
    elif label_frames.load_cutoff != spec.effective_label_cutoff:
        raise TrainingSetError("label_frames use a different load cut-off than the spec")
    unknown = [f for f in features if f not in MODEL_FEATURES]
    if unknown:
        raise TrainingSetError(f"not snapshot features: {', '.join(unknown)}")
    features = (*features, *history_columns(history_lags)) if history_lags else tuple(features)
    points: list[tuple[date, Role]] = [(t, "train") for t in sorted(spec.train_as_of)]
    points.append((spec.validation_as_of, "validation"))
    parts: list[pd.DataFrame] = []
    for as_of, role in points:
        snap = model_frame(ff, as_of, history_lags) if history_lags else ff.at(as_of)
        part = labelled_point(snap, target, label_frames, as_of, spec.horizon_end(as_of),
                              features)  # fmt: skip
        part.insert(2, "role", role)
        parts.append(part)
        if on_point is not None:
            on_point(as_of)
    frame = pd.concat(parts, ignore_index=True)
    return TrainingSet(frame=frame, features=tuple(features), target=target.name, spec=spec)
