"""Credit default target, customer holdout and the scorecard design."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from nextbest.models.credit import (
    CreditDefaultTarget,
    CustomerHoldout,
    HoldoutDesign,
    build_holdout_set,
    defaulters,
    pd_band,
    scorecard_design,
)
from nextbest.models.training_sets import SnapshotFrames, TrainingSetError
from nextbest.privacy.pseudonym import customer_keys
from nextbest.warehouse.duckdb import DuckDBWarehouse
from tests.models.generated import generated_bank

T = date(2025, 6, 30)
END = date(2026, 6, 30)
LOADED = datetime(2026, 8, 1, tzinfo=UTC)


def _instalments(rows: list[tuple[str, date, date | None]]) -> pa.Table:
    """One credit account per customer: (customer, due date, paid date)."""
    return pa.table({
        "account_key": [f"acc-{c}" for c, _, _ in rows],
        "customer_key": [c for c, _, _ in rows],
        "due_date": pa.array([d for _, d, _ in rows], pa.date32()),
        "amount_due": pa.array([100] * len(rows), pa.decimal128(18, 2)),
        "amount_paid": pa.array([None] * len(rows), pa.decimal128(18, 2)),
        "paid_date": pa.array([p for _, _, p in rows], pa.date32()),
        "days_past_due": pa.array([0] * len(rows), pa.int64()),
    })  # fmt: skip


@pytest.fixture(scope="module")
def credit_warehouse(tmp_path_factory: pytest.TempPathFactory) -> DuckDBWarehouse:
    wh = DuckDBWarehouse(tmp_path_factory.mktemp("credit") / "wh.duckdb")
    wh.create_schema()
    due = T + timedelta(days=20)
    instalments = _instalments([
        ("paid-89-late", due, due + timedelta(days=89)),
        ("paid-90-late", due, due + timedelta(days=90)),
        ("never-paid", due, None),
        # reaches 90 DPD on T itself: before the window
        ("reached-at-T", T - timedelta(days=90), None),
        # due late in the window: 90 DPD only after T + 12 months
        ("reached-after", END - timedelta(days=60), None),
        ("on-time", due, due),
    ])  # fmt: skip
    defaults = pa.table({
        "account_key": ["acc-event-in", "acc-event-before", "acc-event-after"],
        "customer_key": ["event-in", "event-before", "event-after"],
        "default_date": pa.array([END, T, END + timedelta(days=1)], pa.date32()),
        "reason": ["01", "01", "01"],
    })  # fmt: skip
    with wh.batch("credit", loaded_at=LOADED - timedelta(days=1)) as writer:
        writer.append("credit_instalment", instalments)
        writer.append("default_event", defaults)
    # a later load says the unpaid instalment was paid 10 days late after all
    late = _instalments([("never-paid", due, due + timedelta(days=10))])
    with wh.batch("late", loaded_at=LOADED + timedelta(days=1)) as writer:
        writer.append("credit_instalment", late)
    return wh


def test_ninety_days_past_due_or_a_default_event_inside_the_window(
    credit_warehouse: DuckDBWarehouse,
) -> None:
    bad = defaulters(credit_warehouse, LOADED, T, END)
    assert bad == {"paid-90-late", "never-paid", "event-in"}
    # labels read the instalments as known at the cut-off: after the late load, no default
    later = defaulters(credit_warehouse, LOADED + timedelta(days=2), T, END)
    assert later == bad - {"never-paid"}


def test_labels_follow_the_customers_in_order(credit_warehouse: DuckDBWarehouse) -> None:
    frames = SnapshotFrames(credit_warehouse, LOADED, "Asia/Shanghai")
    customers = pd.Series(["on-time", "event-in", "paid-89-late", "never-paid", "unknown"])
    labels = CreditDefaultTarget().labels(frames, T, END, customers)
    assert labels.tolist() == [0, 1, 0, 1, 0]


def test_eligible_are_live_credit_customers_not_in_default() -> None:
    snapshot = pd.DataFrame({
        "stage": ["active", "active", "active", "active", "churned", "active"],
        "holds_credit_card": [True, False, True, True, True, False],
        "holds_consumer_loan": [False, False, False, False, False, True],
        "holds_mortgage": [False] * 6,
        "holds_car_loan": [False] * 6,
        "days_past_due": [0, 0, 90, 89, 0, 30],
        "defaulted_ever": [False, False, False, False, False, True],
    })  # fmt: skip
    eligible = CreditDefaultTarget().eligible(snapshot)
    # no credit; already 90+ DPD; churned; a default event on or before T
    assert eligible.tolist() == [True, False, False, True, False, False]


def test_holdout_is_by_customer_and_reproducible_with_its_seed() -> None:
    keys = pd.Series([f"c{i:05d}" for i in range(20_000)])
    holdout = CustomerHoldout(share=0.3, seed=7)
    chosen = holdout.contains(keys)
    assert abs(chosen.mean() - 0.3) < 0.015
    # order-free and stable: the same key lands on the same side
    shuffled = keys.sample(frac=1.0, random_state=1)
    assert (holdout.contains(shuffled) == chosen[shuffled.index.to_numpy()]).all()
    assert (CustomerHoldout(0.3, 7).contains(keys) == chosen).all()
    assert (CustomerHoldout(0.3, 8).contains(keys) != chosen).mean() > 0.3
    with pytest.raises(TrainingSetError, match="holdout share"):
        CustomerHoldout(share=1.0)


def test_design_ends_label_windows_within_the_data() -> None:
    cutoff = datetime(2026, 11, 5, tzinfo=UTC)
    design = scorecard_design(date(2024, 10, 24), date(2026, 10, 31), cutoff)
    assert design.as_of == (date(2025, 4, 30), date(2025, 7, 31), date(2025, 10, 31))
    assert design.horizon_end(max(design.as_of)) == date(2026, 10, 31)
    assert design.to_dict()["data_window"] == ["2025-04-30", "2026-10-31"]
    assert "customer holdout" in design.to_dict()["validation"]
    # a last day inside a month: the last full month is the one before
    mid = scorecard_design(date(2024, 10, 24), date(2026, 11, 20), cutoff, points=1)
    assert mid.as_of == (date(2025, 10, 31),)
    # the first full month is November 2024: four points fit, five do not
    four = scorecard_design(date(2024, 10, 24), date(2026, 10, 31), cutoff, points=4)
    assert four.as_of[0] == date(2025, 1, 31)
    with pytest.raises(TrainingSetError, match=r"points=5.*allows 4 point"):
        scorecard_design(date(2024, 10, 24), date(2026, 10, 31), cutoff, points=5)
    # data from the first of a month: that month is full
    whole = scorecard_design(date(2024, 10, 1), date(2026, 10, 31), cutoff, points=5)
    assert whole.as_of[0] == date(2024, 10, 31)


def test_pd_bands() -> None:
    bands = pd_band(np.array([0.001, 0.005, 0.02, 0.08, 0.5]))
    assert bands.tolist() == ["very_low", "very_low", "medium", "high", "very_high"]


def test_holdout_set_on_the_generated_bank_matches_the_world_defaults() -> None:
    gb = generated_bank()
    # 15 months to 2026-10-31: one as-of date has a full 12-month window after it
    design = HoldoutDesign((date(2025, 10, 31),), 12, gb.loaded_by, CustomerHoldout())
    ts = build_holdout_set(gb.warehouse, design, CreditDefaultTarget(), frames=gb.frames)
    frame = ts.frame
    assert set(frame["role"]) == {"train", "validation"}
    # a customer is on one side only
    assert frame.groupby("customer_key")["role"].nunique().max() == 1
    # the labels are the world's true defaults in (T, T + 12 months]
    truth = pd.concat(pd.read_parquet(f) for f in Path(gb.bank, "truth").glob("customers_*"))
    keys = customer_keys(gb.keyring, "demo_core", pa.array(truth["KHH"].astype(str))).to_pylist()
    default = pd.Series(pd.to_datetime(truth["default_date"]).to_numpy(), index=keys)
    (as_of,) = design.as_of
    on = default.reindex(frame["customer_key"].to_numpy())
    true = (on > pd.Timestamp(as_of)) & (on <= pd.Timestamp(design.horizon_end(as_of)))
    assert frame["label"].sum() > 0
    assert (frame["label"].to_numpy() == true.to_numpy().astype(int)).all()
