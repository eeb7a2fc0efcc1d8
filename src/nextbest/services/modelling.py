"""Model workflows over the installation: churn training, scoring, early warning, registry.

Each function opens what it needs (warehouse, keys), calls the pure model code and returns a
frozen result; the CLI renders it. The demo-bank oracle lives here because it reads the
generator's ground truth and the installation's pseudonymisation key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from numpy.typing import NDArray

from nextbest.config import Settings
from nextbest.errors import NextbestError
from nextbest.models.churn import ChurnModel, EarlyWarning
from nextbest.models.registry import DriftReport, ModelRegistry, RegistryEntry
from nextbest.models.training_sets import (
    LIVE_STAGES,
    ChurnTarget,
    SnapshotFrames,
    build_training_set,
    default_spec,
)
from nextbest.privacy.keys import KeyRing
from nextbest.privacy.pseudonym import customer_keys
from nextbest.warehouse import Warehouse, open_warehouse

__all__ = [
    "CHURN_MODEL",
    "ChurnScores",
    "ChurnTraining",
    "ModellingError",
    "demo_churn_oracle",
    "model_registry",
    "score_churn",
    "train_churn",
    "warn_churn",
]

CHURN_MODEL = "churn"

DEMO_SOURCE_SYSTEM = "demo_core"


class ModellingError(NextbestError):
    """A modelling workflow cannot run with these inputs."""


def _truth(bank: Path, stem: str) -> pd.DataFrame:
    files = sorted((bank / "truth").glob(f"{stem}_*.parquet"))
    if not files:
        raise ModellingError(f"{bank / 'truth'}: no {stem}_*.parquet ground-truth files")
    return ds.dataset(files, format="parquet").to_table().to_pandas()


def demo_churn_oracle(
    bank: Path, keyring: KeyRing, as_of: date, keys: pd.Series
) -> NDArray[np.float64]:
    """The generated world's true probability of churning in the 3 months after ``as_of``.

    For each customer key: ``churn_prob_3m`` of the latent chain in the month of ``as_of``
    (``truth/lifecycle``), or 1 when the latent churn date is on or before ``as_of`` (such a
    customer is not yet churned by the observable definition, but will be). Customers the
    truth does not know score 0.
    """
    life = _truth(bank, "lifecycle")
    cust = _truth(bank, "customers")
    month = pd.Timestamp(as_of.year, as_of.month, 1)
    at = life[pd.to_datetime(life["month"]) == month]
    if at.empty:
        raise ModellingError(f"{bank}: ground truth has no month {month.date()}")
    khh = pa.array(at["KHH"].astype(str).to_numpy())
    prob = pd.Series(at["churn_prob_3m"].to_numpy(np.float64), index=customer_keys(
        keyring, DEMO_SOURCE_SYSTEM, khh).to_pylist())  # fmt: skip
    churn = pd.to_datetime(cust["churn_date"])
    gone_keys = customer_keys(
        keyring,
        DEMO_SOURCE_SYSTEM,
        pa.array(cust.loc[churn <= pd.Timestamp(as_of), "KHH"].astype(str).to_numpy()),
    ).to_pylist()
    prob.loc[prob.index.intersection(gone_keys)] = 1.0
    return prob.reindex(keys.to_numpy()).fillna(0.0).to_numpy(np.float64)


def model_registry(settings: Settings) -> ModelRegistry:
    """The installation's registry, ``<home>/models``."""
    return ModelRegistry(settings.home / "models")


def _last_data_day(wh: Warehouse) -> date:
    t = wh.table("transaction")
    value = wh.to_arrow(t.txn_time.max().name("m").as_table()).column(0)[0].as_py()
    if value is None:
        raise ModellingError("the warehouse holds no transactions: ingest data first")
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class ChurnTraining:
    """What ``train_churn`` did: the registered entry and the validation figures."""

    entry: RegistryEntry
    evaluation: dict[str, Any]
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry.to_dict(),
            "evaluation": self.evaluation,
            "seconds": self.seconds,
        }


def train_churn(
    settings: Settings,
    *,
    horizon_months: int = 3,
    train_points: int = 4,
    seed: int = 42,
    last_day: date | None = None,
    bank: Path | None = None,
    on_step: Callable[[str], None] | None = None,
    warehouse: Warehouse | None = None,
    frames: SnapshotFrames | None = None,
) -> ChurnTraining:
    """Build the churn training set, fit, validate and register a new ``churn`` version.

    ``bank`` (a generated demo bank folder) adds the world's oracle to the validation;
    ``frames`` reuses snapshots already computed (their load cut-off is used).
    """
    import time

    step = on_step or (lambda _m: None)
    wh = warehouse or open_warehouse(settings, read_only=True)
    try:
        cutoff = frames.load_cutoff if frames is not None else datetime.now(UTC)
        spec = default_spec(
            last_day or _last_data_day(wh),
            cutoff,
            horizon_months=horizon_months,
            train_points=train_points,
            timezone=settings.timezone,
        )
        t0 = time.perf_counter()
        ts = build_training_set(
            wh,
            spec,
            ChurnTarget(),
            feature_frames=frames,
            on_point=lambda d: step(f"snapshot {d.isoformat()}"),
        )
        t1 = time.perf_counter()
        step("fitting")
        model = ChurnModel(seed=seed).fit(ts)
        t2 = time.perf_counter()
        extra = {}
        if bank is not None:
            keys = ts.keys("validation")["customer_key"]
            extra["oracle"] = demo_churn_oracle(
                bank, KeyRing.load(settings), spec.validation_as_of, keys
            )
        ev = model.evaluate(ts, extra)
        X, _ = ts.part("train")
        entry = model_registry(settings).register(
            CHURN_MODEL,
            model,
            kind=f"churn_{horizon_months}m",
            data_window=tuple(spec.to_dict()["data_window"]),  # type: ignore[arg-type]
            features=ts.features,
            metrics=ev.to_dict(),
            seed=seed,
            training=ts.summary(),
            reference=X,
            reference_score=model.predict(X),
        )
    finally:
        if warehouse is None:
            wh.close()
    return ChurnTraining(entry, ev.to_dict(), {"training_set": t1 - t0, "fit": t2 - t1})


@dataclass(frozen=True)
class ChurnScores:
    """Scores of every live customer at ``as_of`` with the drift against training."""

    as_of: date
    version: str
    scores: pd.DataFrame
    drift: DriftReport

    def band_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.scores["band"].value_counts().items()}


def _live_snapshot(settings: Settings, wh: Warehouse, as_of: date | None) -> pd.DataFrame:
    day = as_of or _last_data_day(wh)
    frames = SnapshotFrames(wh, datetime.now(UTC), settings.timezone)
    snap = frames.at(day)
    return snap[snap["stage"].isin(LIVE_STAGES)].reset_index(drop=True)


def score_churn(
    settings: Settings,
    *,
    as_of: date | None = None,
    version: str | None = None,
    warehouse: Warehouse | None = None,
) -> ChurnScores:
    """Score every live customer with the champion (or ``version``) and measure drift."""
    registry = model_registry(settings)
    model, entry = registry.load(CHURN_MODEL, version)
    wh = warehouse or open_warehouse(settings, read_only=True)
    try:
        snap = _live_snapshot(settings, wh, as_of)
    finally:
        if warehouse is None:
            wh.close()
    scores = model.score(snap)
    drift = registry.drift(CHURN_MODEL, snap, scores["probability"].to_numpy(),
                           version=entry.version)  # fmt: skip
    day = snap["as_of_date"].iat[0] if len(snap) else (as_of or date.today())
    return ChurnScores(day, entry.version, scores, drift)


def warn_churn(
    settings: Settings,
    *,
    as_of: date | None = None,
    min_band: str = "high",
    limit: int | None = 100,
    warehouse: Warehouse | None = None,
) -> tuple[EarlyWarning, ...]:
    """The champion's early-warning list at ``as_of`` (reasons for listed customers only)."""
    model, _ = model_registry(settings).load(CHURN_MODEL)
    wh = warehouse or open_warehouse(settings, read_only=True)
    try:
        snap = _live_snapshot(settings, wh, as_of)
    finally:
        if warehouse is None:
            wh.close()
    return model.early_warning(snap, min_band=min_band, limit=limit)
