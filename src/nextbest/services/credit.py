"""Credit scorecard workflows: train and register, score every live customer, export.

The design (``nextbest.models.credit``): as-of dates whose 12-month default windows end
within the data, the eligible live credit customers at each, features from the snapshot of
T, validation on a seeded customer holdout. The registered champion supplies the PD that
customer value (CLV) and the decision engine's PD rule use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from nextbest.config import Settings
from nextbest.models.binning import BinningMethod
from nextbest.models.credit import (
    DEFAULT_DPD,
    CreditDefaultTarget,
    CustomerHoldout,
    build_holdout_set,
    has_credit,
    pd_band,
    scorecard_design,
)
from nextbest.models.evaluation import bootstrap_interval
from nextbest.models.registry import RegistryEntry
from nextbest.models.report import build_report
from nextbest.models.scorecard import Scorecard
from nextbest.models.training_sets import SnapshotFrames
from nextbest.privacy.keys import KeyRing
from nextbest.privacy.pseudonym import customer_keys
from nextbest.services.modelling import (
    DEMO_SOURCE_SYSTEM,
    ModelScores,
    ModelTraining,
    first_data_day,
    last_data_day,
    live_snapshot,
    model_registry,
    truth_table,
)
from nextbest.warehouse import Warehouse, open_warehouse

__all__ = [
    "CREDIT_SCORECARD",
    "ChampionPd",
    "champion_pd_model",
    "demo_credit_oracle",
    "export_scorecard",
    "score_credit",
    "train_scorecard",
]

CREDIT_SCORECARD = "credit_scorecard"


def demo_credit_oracle(
    bank: Path, keyring: KeyRing, as_of: date, keys: pd.Series, horizon_months: int = 12
) -> NDArray[np.float64]:
    """The generated world's probability of defaulting in (T, T + h] for each key.

    The world draws a latent default onset per customer (monthly hazard from its annual PD,
    ``truth/customers.annual_pd``); the default follows 90 days after the first missed
    instalment (``default_date``). A customer whose onset is on or before T (default date
    within 90 days after T) defaults for certain: 1. Otherwise the onset must fall in the
    first h − 3 months: ``1 − (1 − annual_pd)^((h − 3) / 12)``. Unknown keys score 0.
    """
    cust = truth_table(bank, "customers")
    index = customer_keys(keyring, DEMO_SOURCE_SYSTEM,
                          pa.array(cust["KHH"].astype(str).to_numpy())).to_pylist()  # fmt: skip
    annual = cust["annual_pd"].to_numpy(np.float64)
    prob = 1.0 - (1.0 - annual) ** (max(horizon_months - 3, 0) / 12)
    default = pd.to_datetime(cust["default_date"])
    onset_passed = (default > pd.Timestamp(as_of)) & (
        default <= pd.Timestamp(as_of + timedelta(days=DEFAULT_DPD))
    )
    prob = np.where(onset_passed.to_numpy(), 1.0, prob)
    series = pd.Series(prob, index=index)
    return series.reindex(keys.to_numpy()).fillna(0.0).to_numpy(np.float64)


def train_scorecard(
    settings: Settings,
    *,
    seed: int = 42,
    base_score: float = 600.0,
    base_odds: float = 50.0,
    pdo: float = 20.0,
    points: int = 3,
    spacing_months: int = 3,
    holdout_share: float = 0.3,
    max_features: int = 12,
    min_bin_share: float = 0.02,
    binning: BinningMethod = "optimal",
    last_day: date | None = None,
    bank: Path | None = None,
    on_step: Callable[[str], None] | None = None,
    warehouse: Warehouse | None = None,
    frames: SnapshotFrames | None = None,
) -> ModelTraining:
    """Build the holdout design, fit the scorecard, evaluate, register ``credit_scorecard``.

    ``seed`` chooses the customer holdout (the fit itself is deterministic). Baselines on
    the holdout: days past due and credit utilisation alone, plus the world's oracle when
    ``bank`` (a generated demo bank folder) is given. ``min_bin_share`` is below the
    scorecard's general default (0.05): customers in arrears at T are only a few per cent of
    the eligible rows, and a 5 % minimum merges them into the "0 days past due" bin, which
    removes the strongest credit characteristic (its IV falls to 0). ``binning`` chooses the
    binning method (:func:`nextbest.models.binning.fit_binning`).
    """
    step = on_step or (lambda _m: None)
    wh = warehouse or open_warehouse(settings, read_only=True)
    try:
        cutoff = frames.load_cutoff if frames is not None else datetime.now(UTC)
        design = scorecard_design(
            first_data_day(wh), last_day or last_data_day(wh), cutoff, points=points,
            spacing_months=spacing_months, holdout=CustomerHoldout(holdout_share, seed),
            timezone=settings.timezone,
        )  # fmt: skip
        t0 = time.perf_counter()
        ts = build_holdout_set(wh, design, CreditDefaultTarget(), frames=frames,
                               on_point=lambda d: step(f"snapshot {d.isoformat()}"))  # fmt: skip
        t1 = time.perf_counter()
        step("fitting")
        X, y = ts.part("train")
        # a characteristic without any value (e.g. a 3-month trend on the first months of
        # data) carries no information and cannot be binned
        empty = [f for f in ts.features if X[f].isna().all()]
        X = X.drop(columns=empty)
        card = Scorecard(max_features=max_features, binning=binning,
                         min_bin_share=min_bin_share, base_score=base_score,
                         base_odds=base_odds, pdo=pdo).fit(X, y)  # fmt: skip
        t2 = time.perf_counter()
        Xv, yv = ts.part("validation")
        baselines: dict[str, NDArray[np.float64]] = {
            "days_past_due": Xv["days_past_due"].to_numpy(np.float64),
            "credit_utilisation": Xv["credit_utilisation"].fillna(0.0).to_numpy(np.float64),
        }
        if bank is not None:
            keys, keyring = ts.keys("validation"), KeyRing.load(settings)
            oracle = np.empty(len(keys))
            for as_of, rows in keys.groupby("as_of_date").groups.items():
                oracle[rows] = demo_credit_oracle(bank, keyring, as_of,
                                                  keys.loc[rows, "customer_key"])  # fmt: skip
            baselines["oracle"] = oracle
        pd_valid = card.probability_of_default(Xv)
        report = build_report(f"Default ({DEFAULT_DPD}+ DPD) within 12 months", yv, pd_valid,
                              baselines=baselines, design=ts.summary())  # fmt: skip
        m = report.model
        # rows, not customers, are resampled: a customer's rows at several as-of dates are
        # correlated, so the interval is somewhat too narrow
        interval = bootstrap_interval(yv, pd_valid, seed=seed)
        evaluation = {
            "rows": m.n, "events": m.events, "train_rows": int(y.size),
            "train_events": int(y.sum()), "auc": m.auc,
            "auc_interval": [interval.lower, interval.upper], "gini": m.gini, "ks": m.ks,
            "top_decile_lift": m.top_decile_lift, "brier": m.calibration.brier,
            "brier_reference": m.calibration.brier_reference,
            "mean_pd": float(pd_valid.mean()), "event_rate": m.event_rate,
            "baseline_auc": {k: v.auc for k, v in report.baselines.items()},
            "without_values": empty, "binning": binning,
            "selected": [{"feature": f, "iv": card.binnings_[f].iv,
                          "bins": len(card.binnings_[f].bins)} for f in card.selected_],
            "scaling": {"base_score": base_score, "base_odds": base_odds, "pdo": pdo},
            "design": design.to_dict(),
        }  # fmt: skip
        entry = model_registry(settings).register(
            CREDIT_SCORECARD,
            card,
            kind=f"pd_{DEFAULT_DPD}dpd_{design.horizon_months}m",
            data_window=design.data_window,
            features=card.selected_,
            metrics=evaluation,
            seed=seed,
            training=ts.summary(),
            reference=X,
            reference_score=card.probability_of_default(X),
            reports={"holdout": report},
        )
    finally:
        if warehouse is None:
            wh.close()
    return ModelTraining(entry, evaluation, {"training_set": t1 - t0, "fit": t2 - t1})


def score_credit(
    settings: Settings,
    *,
    as_of: date | None = None,
    version: str | None = None,
    warehouse: Warehouse | None = None,
    frames: SnapshotFrames | None = None,
) -> ModelScores:
    """Score every live customer with the champion (or ``version``) scorecard.

    ``scores``: ``customer_key, probability_of_default, credit_score, band, has_credit``.
    Customers without credit are scored too (their values fall in the bins the training
    population had, a value never seen scores 0 points): the PD a credit offer needs.
    """
    registry = model_registry(settings)
    card, entry = registry.load(CREDIT_SCORECARD, version)
    wh = warehouse or open_warehouse(settings, read_only=True)
    try:
        day = as_of or last_data_day(wh)
        live = live_snapshot(settings, wh, day, frames=frames)
    finally:
        if warehouse is None:
            wh.close()
    probability = card.probability_of_default(live)
    scores = pd.DataFrame({
        "customer_key": live["customer_key"].to_numpy(),
        "probability_of_default": probability,
        "credit_score": np.round(card.credit_score(live), 1),
        "band": pd_band(probability),
        "has_credit": has_credit(live).to_numpy(),
    })  # fmt: skip
    scored = CreditDefaultTarget().eligible(live).to_numpy()
    drift = registry.drift(CREDIT_SCORECARD, live[scored], probability[scored],
                           version=entry.version)  # fmt: skip
    return ModelScores(day, entry.version, scores, drift)


def export_scorecard(
    settings: Settings, version: str | None = None
) -> tuple[pd.DataFrame, RegistryEntry]:
    """The champion's (or ``version``'s) scorecard table: base points, then every bin."""
    card, entry = model_registry(settings).load(CREDIT_SCORECARD, version)
    return card.table_frame(), entry


@dataclass(frozen=True)
class ChampionPd:
    """The champion scorecard as the PD source of customer value (``run_understanding``)."""

    model: Scorecard
    label: str

    def probability_of_default(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        return self.model.probability_of_default(frame)


def champion_pd_model(settings: Settings) -> ChampionPd | None:
    """The registered champion scorecard, or ``None`` when none is registered."""
    registry = model_registry(settings)
    if not registry.entries(CREDIT_SCORECARD):
        return None
    card, entry = registry.load(CREDIT_SCORECARD)
    return ChampionPd(card, f"{CREDIT_SCORECARD} {entry.version}")
