"""Customer understanding for one as-of date, materialised into warehouse tables.

One run computes, for every customer known at the load cut-off: the point-in-time feature
snapshot, tags, lifecycle stage (with the previous as-of date's stage), RFM scores and
segments, the five-dimension rule segments, data-driven segments, bank margin CLV and value
tiers; it writes them as one warehouse batch (all tables of the as-of date appear together
or not at all). Feature, tag, lifecycle and rule-segment logic runs in the warehouse as Ibis
expressions; RFM, clustering and CLV run in Python on the snapshot.

Re-running an as-of date appends a new version; ``Warehouse.current`` returns the newest.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from nextbest.errors import NextbestError
from nextbest.profile.features import SnapshotPoint, snapshot_features
from nextbest.profile.lifecycle import Stage, lifecycle_stages, transition_matrix
from nextbest.profile.tables import FEATURE_SNAPSHOT
from nextbest.profile.tags import TagSet, evaluate_tags, load_tags
from nextbest.segment.clustering import SegmentationError, SegmentModel
from nextbest.segment.rules import FIVE_DIMENSIONS, assign_rule_segments
from nextbest.value.clv import DEFAULT_VALUE_TIERS, assign_value_tiers, bank_margin_clv
from nextbest.value.rfm import RfmSegment, ValueMatrixSegment, score_rfm
from nextbest.warehouse import BatchWriter, Warehouse

__all__ = [
    "BUDGET_STRATEGY",
    "DEFAULT_MONTHLY_SURVIVAL",
    "SEGMENT_PD_SOURCE",
    "ClvSettings",
    "DefaultModel",
    "UnderstandingError",
    "UnderstandingReport",
    "latest_as_of",
    "run_understanding",
]

ProgressCallback = Callable[[str], None]

#: The plan's budget logic per value tier, as data: keep the most valuable (maintain),
#: grow the middle (develop potential), reach the mass cheaply (brand).
BUDGET_STRATEGY: dict[str, dict[str, str]] = {
    "top": {"code": "maintain", "zh": "维护保有", "en": "Maintain"},
    "high": {"code": "maintain", "zh": "维护保有", "en": "Maintain"},
    "medium": {"code": "develop", "zh": "发展潜力", "en": "Develop potential"},
    "mass": {"code": "brand", "zh": "品牌触达", "en": "Brand"},
}

#: Monthly survival by lifecycle stage when no earlier as-of date gives observed rates.
DEFAULT_MONTHLY_SURVIVAL: dict[str, float] = {
    "prospect": 1.0,
    "new": 0.985,
    "active": 0.99,
    "mature": 0.995,
    "dormant": 0.85,
    "churned": 0.0,
}


#: Where PD comes from when no credit model is given.
SEGMENT_PD_SOURCE = "segment default rate (12 months)"


class DefaultModel(Protocol):
    """A model giving each customer of the snapshot a probability of default (the champion
    credit scorecard); ``label`` names it in the run's report."""

    @property
    def label(self) -> str: ...

    def probability_of_default(self, frame: pd.DataFrame) -> NDArray[np.float64]: ...


class UnderstandingError(NextbestError):
    """Customer understanding cannot run with these inputs."""


@dataclass(frozen=True)
class ClvSettings:
    """Parameters of the bank margin CLV (see ``docs/understanding.md``)."""

    horizon_months: int = 36
    annual_discount_rate: float = 0.10
    loss_given_default: float = 0.45
    minimum_pd: float = 0.001
    acquisition_cost: float = 0.0


@dataclass(frozen=True)
class UnderstandingReport:
    """What one run wrote, with the figures worth printing."""

    as_of: date
    load_cutoff: datetime
    batch_id: str
    customers: int
    rows: dict[str, int]
    stages: dict[str, int]
    tags: dict[str, int]
    segments_k: int | None
    segments_criterion: str | None
    segment_scores: dict[int, float]
    value_tiers: dict[str, int]
    transitions: dict[str, dict[str, int]] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    pd_source: str = SEGMENT_PD_SOURCE


def latest_as_of(wh: Warehouse, table: str = "feature_snapshot") -> date | None:
    """The latest as-of date materialised in ``table`` (``None`` if none)."""
    value = wh.to_arrow(wh.table(table).as_of_date.max().name("m").as_table()).column(0)[0]
    return value.as_py()


def _snapshot_of_batch(wh: Warehouse, as_of: date, batch_id: str) -> ibis.Table:
    t = wh.table(FEATURE_SNAPSHOT.name)
    t = t.filter((t.as_of_date == ibis.literal(as_of)) & (t._batch_id == batch_id))
    return t.select(*FEATURE_SNAPSHOT.column_names)


def _previous_stages(wh: Warehouse, as_of: date) -> pd.DataFrame:
    t = wh.current("customer_lifecycle")
    t = t.filter(t.as_of_date < ibis.literal(as_of))
    last = wh.to_arrow(t.as_of_date.max().name("m").as_table()).column(0)[0].as_py()
    if last is None:
        return pd.DataFrame({"customer_key": [], "previous_stage": []})
    rows = wh.to_arrow(t.filter(t.as_of_date == ibis.literal(last)).select("customer_key", "stage"))
    return rows.to_pandas().rename(columns={"stage": "previous_stage"})


def run_understanding(
    wh: Warehouse,
    as_of: date,
    *,
    load_cutoff: datetime | None = None,
    timezone: str = "Asia/Shanghai",
    tags: TagSet | None = None,
    segment_model: SegmentModel | None = None,
    clv: ClvSettings | None = None,
    pd_model: DefaultModel | None = None,
    progress: ProgressCallback | None = None,
) -> UnderstandingReport:
    """Compute and store everything customer understanding knows as of ``as_of``.

    Parameters
    ----------
    wh:
        A writable warehouse.
    as_of:
        The business date (end of day, bank time).
    load_cutoff:
        Rows loaded after this instant are ignored (now by default); stored with the
        snapshot so the run can be reproduced.
    timezone:
        The bank's time zone.
    tags, segment_model, clv:
        The tag set (default file), the clustering model (k-means, k by silhouette, seed
        0) and CLV parameters.
    pd_model:
        PD per customer for the CLV's expected loss (and, through the CLV table, the
        decision engine's PD rule); without it the observed default rate of the customer's
        segment is used.
    progress:
        Called with the name of each step as it starts.

    Raises
    ------
    UnderstandingError
        No customer is known at the cut-off.
    """
    import time

    step = progress or (lambda _name: None)
    cutoff = load_cutoff or datetime.now(UTC)
    point = SnapshotPoint(as_of, cutoff, timezone)
    tags = tags or load_tags()
    clv = clv or ClvSettings()
    batch_id = f"understand-{as_of:%Y%m%d}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    previous = _previous_stages(wh, as_of)
    with ExitStack() as stack:
        step("feature snapshot")
        # Computed before the batch opens: a batch may run under a tighter memory limit (the
        # DuckDB warehouse's batch limit), which the snapshot's joins exceed at 1M customers.
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nextbest-")))
        snapshot_file = scratch / "feature_snapshot.parquet"
        _write_parquet(wh, snapshot_features(wh, point), snapshot_file)
        writer = stack.enter_context(wh.batch(batch_id))
        rows["feature_snapshot"] = _append_parquet(writer, "feature_snapshot", snapshot_file)
        if rows["feature_snapshot"] == 0:
            raise UnderstandingError(
                f"no customer is known at load cut-off {cutoff.isoformat()}; ingest data first"
            )
        lap("feature snapshot")
        snap = _snapshot_of_batch(wh, as_of, batch_id)
        step("tags")
        rows["customer_tag"] = _append_expr(wh, writer, "customer_tag", evaluate_tags(snap, tags))
        lap("tags")
        step("lifecycle")
        stages = wh.to_arrow(lifecycle_stages(snap)).to_pandas()
        stages = stages.merge(previous, on="customer_key", how="left")
        rows["customer_lifecycle"] = writer.append(
            "customer_lifecycle",
            pa.Table.from_pandas(stages[["as_of_date", "customer_key", "stage", "previous_stage"]],
                                 preserve_index=False),
        )  # fmt: skip
        lap("lifecycle")
        step("segments")
        rows["customer_segment"] = _append_expr(
            wh, writer, "customer_segment", assign_rule_segments(snap, FIVE_DIMENSIONS)
        )
        frame = wh.to_arrow(snap).to_pandas().merge(stages[["customer_key", "stage"]],
                                                    on="customer_key")  # fmt: skip
        frame = frame.sort_values("customer_key", kind="stable").reset_index(drop=True)
        cluster, profiles, model = _clusters(frame, segment_model, as_of)
        if cluster is not None:
            rows["customer_segment"] += writer.append("customer_segment", cluster)
        profiles += _rule_profiles(wh, as_of, batch_id)
        rows["segment_profile"] = writer.append("segment_profile", pa.Table.from_pylist(profiles))
        lap("segments")
        step("rfm")
        rfm = _rfm(frame, as_of)
        rows["customer_rfm"] = writer.append("customer_rfm", rfm)
        lap("rfm")
        step("clv")
        segment_of = (
            dict(zip(cluster.column("customer_key").to_pylist(),
                     cluster.column("segment").to_pylist(), strict=True))
            if cluster is not None else {}
        )  # fmt: skip
        values = _clv(frame, stages, previous, segment_of, clv, as_of, pd_model)
        rows["customer_clv"] = writer.append("customer_clv", values)
        lap("clv")
        stage_counts = stages["stage"].value_counts().to_dict()
        tag_counts = _tag_counts(wh, as_of, batch_id)
        tier_counts = pd.Series(values.column("value_tier").to_pylist()).value_counts().to_dict()
        transitions = None
        if not previous.empty:
            m = transition_matrix(
                [None if pd.isna(v) else v for v in stages["previous_stage"]],
                stages["stage"].tolist(),
            )
            transitions = {
                a: dict(zip(m.stages, row, strict=True))
                for a, row in zip(m.stages, m.counts, strict=True)
            }
        detail = {
            "stages": stage_counts,
            "tags": tag_counts,
            "segments": None
            if model is None
            else {"k": model.k_, "criterion": model.criterion_, "scores": model.scores_},
            "value_tiers": tier_counts,
            "transitions": transitions,
            "tag_source": tags.source,
            "pd_source": pd_model.label if pd_model else SEGMENT_PD_SOURCE,
        }
        writer.append(
            "understanding_run",
            pa.table(
                {
                    "as_of_date": [as_of],
                    "load_cutoff": pa.array([cutoff], pa.timestamp("us", tz="UTC")),
                    "customers": [rows["feature_snapshot"]],
                    "detail_json": [json.dumps(detail, ensure_ascii=False, default=str)],
                }
            ),
        )
    return UnderstandingReport(
        as_of=as_of,
        load_cutoff=cutoff,
        batch_id=batch_id,
        customers=rows["feature_snapshot"],
        rows=rows,
        stages={str(k): int(v) for k, v in stage_counts.items()},
        tags=tag_counts,
        segments_k=None if model is None else model.k_,
        segments_criterion=None if model is None else model.criterion_,
        segment_scores={} if model is None else dict(model.scores_),
        value_tiers={str(k): int(v) for k, v in tier_counts.items()},
        transitions=transitions,
        seconds=seconds,
        pd_source=detail["pd_source"],
    )


def _write_parquet(wh: Warehouse, expr: ibis.Table, path: Path) -> None:
    """Write the result of ``expr`` to ``path`` in Arrow record batches (bounded memory)."""
    out = None
    for batch in wh.backend.to_pyarrow_batches(expr, chunk_size=250_000):
        out = out or pq.ParquetWriter(path, batch.schema)
        out.write_batch(batch)
    if out is None:
        pq.write_table(pa.table({}), path)
    else:
        out.close()


def _append_parquet(writer: BatchWriter, table: str, path: Path) -> int:
    """Append the rows of a Parquet file in record batches."""
    return sum(
        writer.append(table, pa.Table.from_batches([batch]))
        for batch in pq.ParquetFile(path).iter_batches(batch_size=250_000)
    )


def _append_expr(wh: Warehouse, writer: BatchWriter, table: str, expr: ibis.Table) -> int:
    """Append the result of ``expr`` in Arrow record batches (bounded memory)."""
    total = 0
    for batch in wh.backend.to_pyarrow_batches(expr, chunk_size=250_000):
        total += writer.append(table, pa.Table.from_batches([batch]))
    return total


def _tag_counts(wh: Warehouse, as_of: date, batch_id: str) -> dict[str, int]:
    t = wh.table("customer_tag")
    t = t.filter((t.as_of_date == ibis.literal(as_of)) & (t._batch_id == batch_id))
    counts = wh.to_arrow(t.group_by("tag").aggregate(n=t.count()).order_by("tag"))
    return dict(zip(counts.column("tag").to_pylist(), counts.column("n").to_pylist(), strict=True))


def _rule_profiles(wh: Warehouse, as_of: date, batch_id: str) -> list[dict[str, Any]]:
    t = wh.table("customer_segment")
    t = t.filter((t.as_of_date == ibis.literal(as_of)) & (t._batch_id == batch_id))
    counts = wh.to_arrow(t.group_by(["scheme", "segment"]).aggregate(n=t.count())).to_pylist()
    schemes = {s.name: s for s in FIVE_DIMENSIONS}
    out = []
    for row in sorted(counts, key=lambda r: (r["scheme"], r["segment"])):
        scheme = schemes.get(row["scheme"])
        if scheme is None:
            continue
        rule = scheme.label(row["segment"])
        out.append(
            {
                "as_of_date": as_of,
                "scheme": row["scheme"],
                "segment": row["segment"],
                "label_zh": rule.zh,
                "label_en": rule.en,
                "customers": row["n"],
                "description": rule.condition or "otherwise",
            }
        )
    return out


def _clusters(
    frame: pd.DataFrame, model: SegmentModel | None, as_of: date
) -> tuple[pa.Table | None, list[dict[str, Any]], SegmentModel | None]:
    """Fit on current customers (ever held a product, not churned); assign them all."""
    live = frame[frame["ever_held"].astype(bool) & (frame["stage"] != Stage.CHURNED.value)]
    model = model or SegmentModel()
    try:
        model.fit(live)
    except SegmentationError:
        return None, [], None  # too few customers for data-driven segments
    codes = model.predict(live)
    table = pa.table(
        {
            "as_of_date": pa.array([as_of] * len(live), pa.date32()),
            "customer_key": pa.array(live["customer_key"].to_numpy(), pa.string()),
            "scheme": ["cluster"] * len(live),
            "segment": pa.array(codes, pa.string()),
        }
    )
    counts = pd.Series(codes).value_counts().to_dict()
    profiles = [
        {
            "as_of_date": as_of,
            "scheme": "cluster",
            "segment": d.segment,
            "label_zh": d.label_zh,
            "label_en": d.label_en,
            "customers": int(counts.get(d.segment, 0)),
            "description": d.text,
        }
        for d in model.descriptions_
    ]
    return table, profiles, model


def _rfm(frame: pd.DataFrame, as_of: date) -> pa.Table:
    """RFM over customers who have held a product: recency in days, 365-day F and M."""
    held = frame[frame["ever_held"].astype(bool)]
    # No customer-initiated transaction ever: older than any real recency.
    recency = held["days_since_last_txn"].astype("float64").fillna(100_000.0)
    scored = score_rfm(
        pd.DataFrame(
            {
                "customer_id": held["customer_key"].to_numpy(),
                "recency_days": recency.to_numpy(),
                "frequency": held["txn_count_365d"].astype("float64").to_numpy(),
                "monetary": held["txn_amount_365d"].astype("float64").to_numpy(),
            }
        )
    )
    assert {s.value for s in RfmSegment} >= set(scored["segment"])
    assert {s.value for s in ValueMatrixSegment} >= set(scored["value_segment"])
    return pa.table(
        {
            "as_of_date": pa.array([as_of] * len(held), pa.date32()),
            "customer_key": pa.array(held["customer_key"].to_numpy(), pa.string()),
            "recency_days": pa.array(recency.to_numpy().astype(np.int64)),
            "frequency": pa.array(held["txn_count_365d"].to_numpy().astype(np.int64)),
            "monetary": pa.array(held["txn_amount_365d"].to_numpy().astype(np.float64)),
            "r_score": pa.array(scored["r_score"].to_numpy().astype(np.int64)),
            "f_score": pa.array(scored["f_score"].to_numpy().astype(np.int64)),
            "m_score": pa.array(scored["m_score"].to_numpy().astype(np.int64)),
            "rfm_cell": pa.array(scored["rfm_cell"].astype(str).to_numpy(), pa.string()),
            "rfm_segment": pa.array(scored["segment"].astype(str).to_numpy(), pa.string()),
            "value_segment": pa.array(scored["value_segment"].astype(str).to_numpy(), pa.string()),
        }
    )


def monthly_survival(stages: pd.DataFrame) -> dict[str, float]:
    """Observed monthly survival per previous stage (share not churned now), else defaults."""
    out = dict(DEFAULT_MONTHLY_SURVIVAL)
    known = stages.dropna(subset=["previous_stage"])
    for stage, group in known.groupby("previous_stage"):
        if stage == Stage.CHURNED.value or len(group) < 30:
            continue  # too few customers to trust the observed rate
        out[str(stage)] = float((group["stage"] != Stage.CHURNED.value).mean())
    return out


def _clv(
    frame: pd.DataFrame,
    stages: pd.DataFrame,
    previous: pd.DataFrame,
    segment_of: dict[str, str],
    settings: ClvSettings,
    as_of: date,
    pd_model: DefaultModel | None = None,
) -> pa.Table:
    """Bank margin CLV over the horizon, value tiers and budget strategy per customer.

    ``margin`` is the annual margin at current balances (deposit spread and loan NIM on
    average balances plus fees); expected loss is PD × LGD on the credit exposure; PD is
    ``pd_model``'s when given, else the observed 12-month default rate of the customer's
    data-driven segment (all customers when there is none); floored at ``minimum_pd``.
    """
    held = frame[frame["ever_held"].astype(bool)].copy()
    survival = monthly_survival(stages)
    s = held["stage"].map(survival).fillna(DEFAULT_MONTHLY_SURVIVAL["active"]).to_numpy(float)
    held["segment"] = held["customer_key"].map(segment_of).fillna("all")
    exposure = (held["loan_balance"] + held["card_balance"]).to_numpy(float)
    defaulted = held["defaulted_12m"].astype(bool)
    has_credit = exposure > 0
    overall = float(defaulted[has_credit].mean()) if has_credit.any() else 0.0
    if pd_model is not None:
        pd_ = np.asarray(pd_model.probability_of_default(held), dtype=float)
    else:
        rate = held[has_credit].groupby("segment")["defaulted_12m"].mean().to_dict()
        pd_ = held["segment"].map(lambda seg: rate.get(seg, overall)).to_numpy(float)
    pd_ = np.maximum(np.nan_to_num(pd_, nan=overall), settings.minimum_pd)
    common = {
        "monthly_survival": s,
        "horizon_months": settings.horizon_months,
        "annual_discount_rate": settings.annual_discount_rate,
    }
    margin = bank_margin_clv(
        held["annual_margin"].to_numpy(float), 1.0, **common,
        acquisition_cost=settings.acquisition_cost,
    )  # fmt: skip
    loss = bank_margin_clv(exposure, -pd_ * settings.loss_given_default, **common)
    total = margin + loss
    keys = held["customer_key"].to_numpy()
    tiers = assign_value_tiers(total, keys, DEFAULT_VALUE_TIERS)
    n = len(held)
    return pa.table(
        {
            "as_of_date": pa.array([as_of] * n, pa.date32()),
            "customer_key": pa.array(keys, pa.string()),
            "clv": pa.array(total),
            "margin_clv": pa.array(margin),
            "expected_loss_clv": pa.array(loss),
            "monthly_survival": pa.array(s),
            "probability_of_default": pa.array(pd_),
            "value_tier": pa.array(tiers, pa.string()),
            "budget_strategy": pa.array([BUDGET_STRATEGY[t]["code"] for t in tiers], pa.string()),
        }
    )
