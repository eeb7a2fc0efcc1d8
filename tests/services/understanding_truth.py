"""Customer understanding measured against the generated bank's ground truth.

Truth files are keyed by the source customer number (``KHH``); the warehouse only knows the
pseudonymous ``customer_key``, so truth is mapped with the installation's key ring and the
source system of the shipped mapping. Run as a script to print the figures of
``docs/understanding.md``::

    python -m tests.services.understanding_truth --customers 3000 --months 24 --seed 3
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import cross_val_predict
from threadpoolctl import threadpool_limits

from nextbest.config import Settings
from nextbest.demo.world.generator import MAPPING_FILE
from nextbest.privacy.keys import KeyRing
from nextbest.privacy.pseudonym import customer_keys
from nextbest.segment.clustering import DEFAULT_FEATURES, SegmentModel
from nextbest.warehouse import Warehouse

AS_OF = date(2026, 10, 31)  # the world's last month end


def source_system() -> str:
    return str(yaml.safe_load(MAPPING_FILE.read_text(encoding="utf-8"))["source_system"])


def truth_table(bank: Path, stem: str, settings: Settings) -> pd.DataFrame:
    """A truth file with the pseudonymous ``customer_key`` of each ``KHH``."""
    table = ds.dataset(sorted((bank / "truth").glob(f"{stem}_*.parquet"))).to_table()
    keys = customer_keys(KeyRing.load(settings), source_system(), table.column("KHH"))
    frame = table.to_pandas()
    frame["customer_key"] = keys.to_pylist()
    return frame


@dataclass(frozen=True)
class TruthFigures:
    customers: int
    clustered: int
    k: int
    cluster_ari: float
    supervised_ari: float
    ari_ratio: float
    lifecycle: dict[str, dict[str, int]]  # true state -> observed stage -> customers
    lifecycle_agreement: float
    churn_precision: float
    churn_recall: float
    churn_precision_latent: float
    churn_recall_latent: float


def _on(wh: Warehouse, table: str, as_of: date) -> pd.DataFrame:
    t = wh.current(table)
    return wh.to_arrow(t.filter(t.as_of_date == ibis.literal(as_of))).to_pandas()


def _precision_recall(truth: pd.Series, predicted: pd.Series) -> tuple[float, float]:
    hit = float((truth & predicted).sum())
    return hit / max(float(predicted.sum()), 1.0), hit / max(float(truth.sum()), 1.0)


def measure(wh: Warehouse, bank: Path, settings: Settings, as_of: date = AS_OF) -> TruthFigures:
    """Segments, lifecycle and churn of ``as_of`` against the world's truth."""
    people = truth_table(bank, "customers", settings)
    states = truth_table(bank, "lifecycle", settings)
    snap = _on(wh, "feature_snapshot", as_of)
    life = _on(wh, "customer_lifecycle", as_of)
    seg = _on(wh, "customer_segment", as_of)
    run = _on(wh, "understanding_run", as_of)
    k = int(json.loads(run["detail_json"].iloc[0])["segments"]["k"])

    # (a) data-driven segments vs the true ones, beside a supervised ceiling: a classifier
    # on the same model inputs, predictions out of fold (5-fold cross-validation).
    clusters = seg[seg["scheme"] == "cluster"][["customer_key", "segment"]]
    frame = (
        snap.merge(clusters, on="customer_key")
        .merge(people[["customer_key", "segment"]], on="customer_key", suffixes=("", "_true"))
        .sort_values("customer_key", kind="stable")
    )
    model = SegmentModel(features=DEFAULT_FEATURES)
    raw = model.inputs(frame)
    x = np.where(np.isnan(raw), np.nanmedian(raw, axis=0), raw)
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    with threadpool_limits(1):
        ceiling = cross_val_predict(LogisticRegression(max_iter=3000), x,
                                    frame["segment_true"], cv=5)  # fmt: skip
    cluster_ari = float(adjusted_rand_score(frame["segment_true"], frame["segment"]))
    supervised_ari = float(adjusted_rand_score(frame["segment_true"], ceiling))

    # (b) observed stage vs the latent state of the as-of month
    month = states[states["month"] == date(as_of.year, as_of.month, 1)]
    both = life.merge(month[["customer_key", "state"]], on="customer_key", how="outer")
    both = both.fillna({"stage": "(unknown)", "state": "(not in truth)"})
    table = pd.crosstab(both["state"], both["stage"])
    lifecycle = {str(r): {str(c): int(table.loc[r, c]) for c in table.columns} for r in table.index}
    agreement = float((both["state"] == both["stage"]).mean())

    # (c) churned stage vs the world's churn events on or before the as-of date
    day = pd.Timestamp(as_of).date()
    c = life.merge(people, on="customer_key")
    predicted = c["stage"] == "churned"
    observed = c["observed_churn_date"].map(lambda d: d is not None and d <= day)
    latent = c["churn_date"].map(lambda d: d is not None and d <= day)
    p, r = _precision_recall(observed.astype(bool), predicted)
    pl, rl = _precision_recall(latent.astype(bool), predicted)
    return TruthFigures(
        customers=len(life),
        clustered=len(frame),
        k=k,
        cluster_ari=round(cluster_ari, 4),
        supervised_ari=round(supervised_ari, 4),
        ari_ratio=round(cluster_ari / supervised_ari, 4),
        lifecycle=lifecycle,
        lifecycle_agreement=round(agreement, 4),
        churn_precision=round(p, 4),
        churn_recall=round(r, 4),
        churn_precision_latent=round(pl, 4),
        churn_recall_latent=round(rl, 4),
    )


def main() -> None:  # pragma: no cover - a measuring script
    from nextbest.demo.world import generate
    from nextbest.services.ingestion import ingest
    from nextbest.services.stores import init_installation
    from nextbest.services.understanding import run_understanding
    from nextbest.warehouse import open_warehouse

    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="nextbest-truth-"))
    bank = generate(root / "bank", args.customers, args.months, seed=args.seed).out
    settings = Settings(home=root / "home")
    init_installation(settings)
    ingest(settings, bank / "export", bank / "mapping.yaml")
    with open_warehouse(settings) as wh:
        run_understanding(wh, AS_OF)
        print(json.dumps(asdict(measure(wh, bank, settings)), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
