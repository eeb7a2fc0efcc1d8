"""Golden statistics of the generated bank: measured from its exports and truth files.

``measure(out)`` reads a generated bank; ``violations(stats)`` lists every statistic outside
its pinned range. The ranges were fixed when the world file was tuned (version in
world.yaml); a careless edit of the world moves at least one of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

# Ranges: about +-3 standard errors around the values measured at 4,000 customers when the
# world file was frozen (version 2026.12.1); the difficulty ranges are the contract.
EXPECTED: dict[str, tuple[float, float]] = {
    "mean_age": (44.0, 48.5),
    "share_65_plus": (0.12, 0.18),
    "median_income": (60_000, 76_000),
    "accounts_per_customer": (3.5, 4.3),
    "penetration_credit_card": (0.30, 0.42),
    "penetration_mortgage": (0.09, 0.17),
    "penetration_wealth": (0.31, 0.43),
    "penetration_fund": (0.22, 0.34),
    "txn_per_customer_year": (35.0, 45.0),
    "yearly_churn_rate": (0.075, 0.11),
    "yearly_default_rate": (0.008, 0.026),
    "oracle_auc": (0.75, 0.88),
    "recency_gap": (0.05, 1.0),
    "rfm_gap": (0.05, 1.0),
    "segment_accuracy": (0.70, 0.95),
}


@dataclass(frozen=True)
class GoldenStats:
    mean_age: float
    share_65_plus: float
    median_income: float
    accounts_per_customer: float
    penetration_credit_card: float
    penetration_mortgage: float
    penetration_wealth: float
    penetration_fund: float
    txn_per_customer_year: float
    yearly_churn_rate: float
    yearly_default_rate: float
    oracle_auc: float
    recency_auc: float
    rfm_auc: float
    recency_gap: float
    rfm_gap: float
    segment_accuracy: float


def violations(stats: GoldenStats) -> list[str]:
    values = asdict(stats)
    return [
        f"{name} = {values[name]:.4f} outside [{lo}, {hi}]"
        for name, (lo, hi) in EXPECTED.items()
        if not lo <= values[name] <= hi
    ]


def _read(out: Path, stem: str, folder: str = "export") -> pd.DataFrame:
    files = sorted((out / folder).glob(f"{stem}_*.parquet"))
    return ds.dataset(files, format="parquet").to_table().to_pandas()


def _days(text: pd.Series, fmt: str = "%Y%m%d") -> pd.Series:
    return pd.to_datetime(text, format=fmt, errors="coerce")


def measure(out: Path, end: date, months: int) -> GoldenStats:
    """Measure the golden statistics of a generated bank without faults."""
    end_ts = pd.Timestamp(end)
    cust = _read(out, "KHXX")
    acc = _read(out, "ZHXX")
    prod = _read(out, "CPXX")
    txn = _read(out, "JYLS")
    truth = _read(out, "customers", "truth")
    life = _read(out, "lifecycle", "truth")
    n = len(cust)

    age = (end_ts - _days(cust["CSRQ"])).dt.days / 365.25
    family = acc["CPDM"].map(dict(zip(prod["CPDM"], prod["CPDL"], strict=True)))
    open_at_end = acc["XHRQ"].isna()
    holders = acc[open_at_end].assign(family=family[open_at_end])

    def penetration(code: str) -> float:
        return holders.loc[holders["family"] == code, "KHH"].nunique() / n

    txn_time = _days(txn["JYSJ"], "%Y%m%d%H%M%S")
    churn = pd.to_datetime(truth["churn_date"])
    year_start = end_ts - pd.DateOffset(years=1)
    onboard = pd.to_datetime(truth["onboarding_date"])
    alive = (onboard < year_start) & (churn.isna() | (churn >= year_start))
    churned = alive & (churn < end_ts)
    credit_holders = acc.loc[family.isin(["0301", "0302", "0303", "0304"]), "KHH"].unique()
    defaults = pd.to_datetime(truth["default_date"])
    is_holder = truth["KHH"].isin(credit_holders)
    default_rate = (is_holder & (defaults >= year_start)).sum() / max(is_holder.sum(), 1)

    oracle, recency, rfm = _churn_aucs(truth, life, txn, txn_time)
    return GoldenStats(
        mean_age=float(age.mean()),
        share_65_plus=float((age >= 65).mean()),
        median_income=float(pd.to_numeric(cust["NSR"]).median()),
        accounts_per_customer=len(acc) / n,
        penetration_credit_card=penetration("0301"),
        penetration_mortgage=penetration("0303"),
        penetration_wealth=penetration("0201"),
        penetration_fund=penetration("0202"),
        txn_per_customer_year=len(txn) / n / (months / 12),
        yearly_churn_rate=float(churned.sum() / alive.sum()),
        yearly_default_rate=float(default_rate),
        oracle_auc=oracle,
        recency_auc=recency,
        rfm_auc=rfm,
        recency_gap=oracle - recency,
        rfm_gap=oracle - rfm,
        segment_accuracy=_segment_accuracy(cust, acc, txn, truth, end_ts),
    )


def _churn_aucs(
    truth: pd.DataFrame, life: pd.DataFrame, txn: pd.DataFrame, txn_time: pd.Series
) -> tuple[float, float, float]:
    """Next-quarter churn AUC of the oracle, recency alone and RFM, pooled over cutoffs."""
    months = sorted(life["month"].unique())
    churn = pd.to_datetime(truth.set_index("KHH")["churn_date"])
    ci = txn.assign(t=txn_time)[txn["QDDM"] != "09"]
    ci = ci.assign(amount=ci["JYJE"] / 100)
    y_all, oracle_all, rec_all, rfm_all = [], [], [], []
    for cut in (len(months) - 12, len(months) - 9, len(months) - 6, len(months) - 4):
        month = pd.Timestamp(months[cut])
        cutoff = month + pd.offsets.MonthEnd(0) + pd.Timedelta(days=1)  # first day after
        horizon = cutoff + pd.DateOffset(months=3)
        at = life[pd.to_datetime(life["month"]) == month].set_index("KHH")
        live = at[at["state"].isin(["new", "active", "mature", "dormant"])]
        c = churn.reindex(live.index)
        y = ((c >= cutoff) & (c < horizon)).to_numpy()
        past = ci[ci["t"] < cutoff]
        last = past.groupby("KHH")["t"].max().reindex(live.index)
        rec_days = (cutoff - last).dt.days.fillna(9999).to_numpy()
        recent = past[past["t"] >= cutoff - pd.Timedelta(days=90)]
        freq = recent.groupby("KHH").size().reindex(live.index).fillna(0).to_numpy()
        money = recent.groupby("KHH")["amount"].sum().reindex(live.index).fillna(0).to_numpy()
        rank = lambda v: pd.Series(v).rank(pct=True).to_numpy()  # noqa: E731
        y_all.append(y)
        oracle_all.append(live["churn_prob_3m"].to_numpy())
        rec_all.append(rank(rec_days))
        rfm_all.append((rank(rec_days) + rank(-freq) + rank(-money)) / 3)
    y = np.concatenate(y_all)
    return (
        float(roc_auc_score(y, np.concatenate(oracle_all))),
        float(roc_auc_score(y, np.concatenate(rec_all))),
        float(roc_auc_score(y, np.concatenate(rfm_all))),
    )


def _segment_accuracy(
    cust: pd.DataFrame, acc: pd.DataFrame, txn: pd.DataFrame, truth: pd.DataFrame, end: pd.Timestamp
) -> float:
    """Held-out accuracy of a gradient-boosting classifier of the true segment."""
    base = cust.drop_duplicates("KHH").set_index("KHH")
    f = pd.DataFrame(index=truth["KHH"])
    f["age"] = ((end - _days(base["CSRQ"])).dt.days / 365.25).reindex(f.index)
    f["income"] = pd.to_numeric(base["NSR"]).reindex(f.index)
    f["tier"] = base["CSDJ"].reindex(f.index)
    f["occupation"] = pd.to_numeric(base["ZYDM"]).reindex(f.index)
    f["education"] = pd.to_numeric(base["XLDM"]).reindex(f.index)
    f["gender"] = pd.to_numeric(base["XB"], errors="coerce").reindex(f.index)
    f["tenure"] = ((end - _days(base["KHRQ"])).dt.days).reindex(f.index)
    held = pd.crosstab(acc["KHH"], acc["CPDM"]).reindex(f.index).fillna(0)
    f = f.join(held.add_prefix("p_"))
    f["txn"] = txn.groupby("KHH").size().reindex(f.index).fillna(0)
    for code in ("03", "05", "06", "01", "02", "09"):
        share = txn[txn["QDDM"] == code].groupby("KHH").size().reindex(f.index).fillna(0)
        f[f"ch_{code}"] = share / f["txn"].clip(lower=1)
    spend = txn[txn["MCC"].notna()]
    mix = pd.crosstab(spend["KHH"], spend["MCC"], normalize="index").reindex(f.index).fillna(0)
    f = f.join(mix.add_prefix("mcc_"))
    f["amount"] = txn.groupby("KHH")["JYJE"].median().reindex(f.index).fillna(0)
    y = truth.set_index("KHH")["segment_id"].reindex(f.index).to_numpy()
    x_train, x_test, y_train, y_test = train_test_split(
        f.to_numpy(dtype=float), y, test_size=0.3, random_state=0, stratify=y
    )
    model = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.15, random_state=0)
    with threadpool_limits(1):  # OpenMP over-subscription makes tiny fits crawl on busy hosts
        model.fit(x_train, y_train)
    return float((model.predict(x_test) == y_test).mean())
