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
    HISTORY_LAGS,
    LIVE_STAGES,
    ChurnTarget,
    SnapshotFrames,
    TrainingSpec,
    build_training_set,
    default_spec,
    lags_of,
    model_frame,
)
from nextbest.privacy.keys import KeyRing
from nextbest.privacy.pseudonym import customer_keys
from nextbest.profile.features import known_at
from nextbest.warehouse import Warehouse, open_warehouse

__all__ = [
    "CHURN_MODEL",
    "PROPENSITY_MODEL",
    "ModelScores",
    "ModelTraining",
    "ModellingError",
    "PropensityScores",
    "PropensityTraining",
    "churn_spec",
    "demo_churn_oracle",
    "demo_model_check",
    "demo_propensity_oracle",
    "first_data_day",
    "last_data_day",
    "live_snapshot",
    "model_registry",
    "propensity_choice",
    "score_churn",
    "score_propensity",
    "train_churn",
    "train_propensity",
    "truth_table",
    "warn_churn",
]

CHURN_MODEL = "churn"
PROPENSITY_MODEL = "propensity"

DEMO_SOURCE_SYSTEM = "demo_core"


class ModellingError(NextbestError):
    """A modelling workflow cannot run with these inputs."""


def truth_table(bank: Path, stem: str) -> pd.DataFrame:
    """The generated bank's ground-truth table ``truth/<stem>_*.parquet``."""
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
    life = truth_table(bank, "lifecycle")
    cust = truth_table(bank, "customers")
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


#: The world's adoption multiplier per latent lifecycle state (``demo/world/holdings.py``).
_STATE_ADOPTION = {"prospect": 0.0, "new": 3.0, "active": 1.0, "mature": 0.8, "dormant": 0.1}


def demo_propensity_oracle(
    bank: Path,
    keyring: KeyRing,
    as_of: date,
    keys: pd.Series,
    families: tuple[str, ...],
    product_family: dict[str, str],
    horizon_months: int = 3,
) -> NDArray[np.float64]:
    """The world's true probability of adopting each family in the ``horizon_months`` after T.

    Per customer key and family: ``1 − Π_j (1 − p_j · m)^h`` over the family's products j,
    with p_j the world's monthly adoption propensity (``truth/adoption``) and m the
    adoption multiplier of the customer's latent state in the month of ``as_of``
    (``truth/lifecycle``; later months' states are not used). Rows follow ``keys``,
    columns ``families``; customers the truth does not know score 0.
    """
    adoption = truth_table(bank, "adoption")
    life = truth_table(bank, "lifecycle")
    month = pd.Timestamp(as_of.year, as_of.month, 1)
    at = life[pd.to_datetime(life["month"]) == month]
    if at.empty:
        raise ModellingError(f"{bank}: ground truth has no month {month.date()}")
    mult = pd.Series(at["state"].map(_STATE_ADOPTION).fillna(0.0).to_numpy(),
                     index=at["KHH"].astype(str).to_numpy())  # fmt: skip
    khh = adoption["KHH"].astype(str).to_numpy()
    m = mult.reindex(khh).fillna(0.0).to_numpy()
    out = np.zeros((len(khh), len(families)))
    for j, fam in enumerate(families):
        codes = [c for c, f in product_family.items() if f == fam and c in adoption.columns]
        stay = np.ones(len(khh))
        for c in codes:
            p = np.clip(adoption[c].to_numpy(np.float64) * m, 0.0, 1.0)
            stay *= (1.0 - p) ** horizon_months
        out[:, j] = 1.0 - stay
    index = customer_keys(keyring, DEMO_SOURCE_SYSTEM, pa.array(khh)).to_pylist()
    frame = pd.DataFrame(out, index=index, columns=list(families))
    return frame.reindex(keys.to_numpy()).fillna(0.0).to_numpy(np.float64)


def model_registry(settings: Settings) -> ModelRegistry:
    """The installation's registry, ``<home>/models``."""
    return ModelRegistry(settings.home / "models")


def last_data_day(wh: Warehouse) -> date:
    """The day of the latest transaction in the warehouse."""
    return _transaction_day(wh, latest=True)


def first_data_day(wh: Warehouse) -> date:
    """The day of the earliest transaction in the warehouse."""
    return _transaction_day(wh, latest=False)


def _transaction_day(wh: Warehouse, *, latest: bool) -> date:
    time = wh.table("transaction").txn_time
    extreme = time.max() if latest else time.min()
    value = wh.to_arrow(extreme.name("m").as_table()).column(0)[0].as_py()
    if value is None:
        raise ModellingError("the warehouse holds no transactions: ingest data first")
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class ModelTraining:
    """What a training run did (``train_churn``, ``train_scorecard``): the registered entry,
    the validation figures and the timings."""

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
) -> ModelTraining:
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
            last_day or last_data_day(wh),
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
            history_lags=HISTORY_LAGS,
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
            reports={"validation": ev.report},
        )
    finally:
        if warehouse is None:
            wh.close()
    return ModelTraining(entry, ev.to_dict(), {"training_set": t1 - t0, "fit": t2 - t1})


@dataclass(frozen=True)
class ModelScores:
    """A model's scores of every customer it scores at ``as_of`` (one row each, with a
    ``band`` column) and the drift against its training population."""

    as_of: date
    version: str
    scores: pd.DataFrame
    drift: DriftReport

    def band_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.scores["band"].value_counts().items()}


def live_snapshot(
    settings: Settings,
    wh: Warehouse,
    as_of: date | None,
    features: tuple[str, ...] = (),
    frames: SnapshotFrames | None = None,
) -> pd.DataFrame:
    """Live customers' snapshot at ``as_of`` with the history columns ``features`` need."""
    day = as_of or last_data_day(wh)
    frames = frames or SnapshotFrames(wh, datetime.now(UTC), settings.timezone)
    lags = lags_of(features)
    snap = model_frame(frames, day, lags) if lags or "stage" in features else frames.at(day)
    return snap[snap["stage"].isin(LIVE_STAGES)].reset_index(drop=True)


def score_churn(
    settings: Settings,
    *,
    as_of: date | None = None,
    version: str | None = None,
    warehouse: Warehouse | None = None,
    frames: SnapshotFrames | None = None,
) -> ModelScores:
    """Score every live customer with the champion (or ``version``) and measure drift.

    ``frames`` reuses snapshots already computed (scoring reads the as-of date and the
    month ends its history features compare with).
    """
    registry = model_registry(settings)
    model, entry = registry.load(CHURN_MODEL, version)
    wh = warehouse or open_warehouse(settings, read_only=True)
    try:
        snap = live_snapshot(settings, wh, as_of, model.features_, frames)
    finally:
        if warehouse is None:
            wh.close()
    scores = model.score(snap)
    drift = registry.drift(CHURN_MODEL, snap, scores["probability"].to_numpy(),
                           version=entry.version)  # fmt: skip
    day = snap["as_of_date"].iat[0] if len(snap) else (as_of or date.today())
    return ModelScores(day, entry.version, scores, drift)


def warn_churn(
    settings: Settings,
    *,
    as_of: date | None = None,
    min_band: str = "high",
    limit: int | None = 100,
    warehouse: Warehouse | None = None,
    frames: SnapshotFrames | None = None,
) -> tuple[EarlyWarning, ...]:
    """The champion's early-warning list at ``as_of`` (reasons for listed customers only)."""
    model, _ = model_registry(settings).load(CHURN_MODEL)
    wh = warehouse or open_warehouse(settings, read_only=True)
    try:
        snap = live_snapshot(settings, wh, as_of, model.features_, frames)
    finally:
        if warehouse is None:
            wh.close()
    return model.early_warning(snap, min_band=min_band, limit=limit)


def churn_spec(
    wh: Warehouse,
    cutoff: datetime,
    *,
    horizon_months: int = 3,
    train_points: int = 4,
    last_day: date | None = None,
    timezone: str = "Asia/Shanghai",
) -> TrainingSpec:
    """The default point-in-time spec over the warehouse's data (validation h months back)."""
    return default_spec(
        last_day or last_data_day(wh),
        cutoff,
        horizon_months=horizon_months,
        train_points=train_points,
        timezone=timezone,
    )


def product_families(wh: Warehouse, cutoff: datetime) -> dict[str, str]:
    """``product_code -> family`` of the product catalogue known at ``cutoff``."""
    p = known_at(wh, "product", cutoff).select("product_code", "family")
    frame = wh.to_arrow(p).to_pandas()
    return dict(zip(frame["product_code"], frame["family"], strict=True))


@dataclass(frozen=True)
class PropensityTraining:
    """What ``train_propensity`` did: the registered entry, the comparison and the choice."""

    entry: RegistryEntry
    comparison: dict[str, Any]
    choice: dict[str, str]
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry.to_dict(),
            "comparison": self.comparison,
            "choice": self.choice,
            "seconds": self.seconds,
        }


def train_propensity(
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
) -> PropensityTraining:
    """Fit the per-family models, rules and ALS; compare them; register the choice.

    The comparison (AUC per family, precision@k) is on the validation point of the default
    spec; the chosen scorer per family is stored in the registry entry's metrics
    (``metrics["choice"]``) and in the fitted suite. ``bank`` adds the world's oracle.
    """
    import time

    from nextbest.models.propensity import (
        PropensitySuite,
        build_adoption_panel,
        choose_scorers,
        compare_scorers,
        family_reports,
        validation_scores,
    )

    step = on_step or (lambda _m: None)
    wh = warehouse or open_warehouse(settings, read_only=True)
    try:
        cutoff = frames.load_cutoff if frames is not None else datetime.now(UTC)
        spec = churn_spec(wh, cutoff, horizon_months=horizon_months, train_points=train_points,
                          last_day=last_day, timezone=settings.timezone)  # fmt: skip
        frames = frames or SnapshotFrames(wh, cutoff, settings.timezone)
        t0 = time.perf_counter()
        panel = build_adoption_panel(
            frames, spec, on_point=lambda d: step(f"snapshot {d.isoformat()}")
        )
        t1 = time.perf_counter()
        suite = PropensitySuite(seed=seed).fit(panel, on_family=lambda f: step(f"fitted {f}"))
        t2 = time.perf_counter()
        extra = {}
        if bank is not None:
            val = panel.rows("validation")
            extra["oracle"] = demo_propensity_oracle(
                bank, KeyRing.load(settings), spec.validation_as_of,
                panel.frame.loc[val, "customer_key"], panel.families,
                product_families(wh, cutoff), horizon_months,
            )  # fmt: skip
        scores = validation_scores(suite, panel, extra)
        comparison = compare_scorers(suite, panel, extra, scores=scores)
        choice = dict(choose_scorers(suite, comparison))
        train = panel.rows("train")
        entry = model_registry(settings).register(
            PROPENSITY_MODEL,
            suite,
            kind=f"propensity_{horizon_months}m",
            data_window=tuple(spec.to_dict()["data_window"]),  # type: ignore[arg-type]
            features=panel.features,
            metrics={"comparison": comparison, "choice": choice},
            seed=seed,
            training=panel.summary(),
            reference=panel.frame.loc[train, list(panel.features)].reset_index(drop=True),
            reports=family_reports(suite, panel, extra, scores=scores),
        )
    finally:
        if warehouse is None:
            wh.close()
    seconds = {"training_set": t1 - t0, "fit": t2 - t1}
    return PropensityTraining(entry, comparison, choice, seconds)


def propensity_choice(settings: Settings, version: str | None = None) -> dict[str, str]:
    """Family -> scorer the decision engine should use, as registered (champion by default).

    Read from the registry entry (``metrics["choice"]``) without loading the model.
    """
    registry = model_registry(settings)
    entries = [e for e in registry.entries(PROPENSITY_MODEL)]
    if not entries:
        raise ModellingError(
            "no propensity model registered: run `nextbest model propensity train`"
        )
    if version is None:
        _, entry = registry.load(PROPENSITY_MODEL)
    else:
        matches = [e for e in entries if e.version == version]
        if not matches:
            raise ModellingError(f"propensity has no version {version}")
        entry = matches[0]
    return dict(entry.metrics.get("choice", {}))


@dataclass(frozen=True)
class PropensityScores:
    """Adoption probability per live customer and family with the chosen scorer per family."""

    as_of: date
    version: str
    scores: pd.DataFrame
    choice: dict[str, str]


def score_propensity(
    settings: Settings,
    *,
    as_of: date | None = None,
    version: str | None = None,
    warehouse: Warehouse | None = None,
    frames: SnapshotFrames | None = None,
) -> PropensityScores:
    """Score every live customer at ``as_of`` with the champion (or ``version``) suite.

    ``scores`` has ``customer_key`` and one column per family: the probability of opening
    a product of that family within the model's horizon, NaN where the customer holds it.
    This is the function the decision engine calls.
    """
    suite, entry = model_registry(settings).load(PROPENSITY_MODEL, version)
    wh = warehouse or open_warehouse(settings, read_only=True)
    try:
        day = as_of or last_data_day(wh)
        frames = frames or SnapshotFrames(wh, datetime.now(UTC), settings.timezone)
        frame = model_frame(frames, day, lags_of(suite.features_))
    finally:
        if warehouse is None:
            wh.close()
    live = frame[frame["stage"].isin(LIVE_STAGES).to_numpy()].reset_index(drop=True)
    return PropensityScores(day, entry.version, suite.predict(live), dict(suite.choice_))


def demo_model_check(
    settings: Settings,
    bank: Path,
    *,
    horizon_months: int = 3,
    train_points: int = 4,
    seed: int = 42,
    last_day: date | None = None,
    on_step: Callable[[str], None] | None = None,
    warehouse: Warehouse | None = None,
) -> dict[str, Any]:
    """Churn and propensity on a generated demo bank against the world's truth.

    Trains and registers both (sharing one snapshot cache) and returns the validation
    figures with the issue's bars: churn AUC ≥ oracle − 0.03 and ≥ recency / RFM + 0.05;
    for each family with ≥ 200 validation adoptions, the chosen propensity scorer's AUC ≥
    its oracle's − 0.05.
    """
    import time

    from nextbest.models.propensity import MIN_EVIDENCE

    wh = warehouse or open_warehouse(settings, read_only=True)
    try:
        frames = SnapshotFrames(wh, datetime.now(UTC), settings.timezone)
        common = {"horizon_months": horizon_months, "train_points": train_points,
                  "seed": seed, "last_day": last_day, "bank": bank, "on_step": on_step,
                  "warehouse": wh, "frames": frames}  # fmt: skip
        t0 = time.perf_counter()
        churn = train_churn(settings, **common)  # type: ignore[arg-type]
        t1 = time.perf_counter()
        prop = train_propensity(settings, **common)  # type: ignore[arg-type]
        t2 = time.perf_counter()
    finally:
        if warehouse is None:
            wh.close()
    ev = churn.evaluation
    base = ev["baseline_auc"]
    families = []
    for f in prop.comparison["families"]:
        auc = f["auc"]
        if not auc or "oracle" not in auc:
            continue
        chosen = f["chosen"]
        score = auc.get(chosen) if chosen else None
        row = {"family": f["family"], "adoptions": f["adoptions"], "chosen": chosen,
               "auc": score, "oracle": auc["oracle"], "evidence": f["adoptions"] >= MIN_EVIDENCE,
               "all": auc}  # fmt: skip
        row["meets"] = bool(
            (score is not None and score >= auc["oracle"] - 0.05) or not row["evidence"]
        )
        families.append(row)
    return {
        "churn": {
            "version": churn.entry.version,
            "rows": ev["rows"],
            "events": ev["events"],
            "auc": ev["auc"],
            "oracle": base.get("oracle"),
            "recency": base["recency"],
            "rfm": base["rfm"],
            "meets": bool(
                ev["auc"] >= base.get("oracle", 1.0) - 0.03
                and ev["auc"] >= max(base["recency"], base["rfm"]) + 0.05
            ),
            "seconds": churn.seconds,
        },
        "propensity": {
            "version": prop.entry.version,
            "families": families,
            "precision_at_k": prop.comparison["precision_at_k"],
            "choice": prop.choice,
            "meets": bool(all(f["meets"] for f in families)),
            "seconds": prop.seconds,
        },
        "seconds": {"churn": t1 - t0, "propensity": t2 - t1},
    }
