"""Materialising customer understanding for as-of dates into the warehouse."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from nextbest.segment.clustering import SegmentModel
from nextbest.services.understanding import (
    BUDGET_STRATEGY,
    SEGMENT_PD_SOURCE,
    ClvSettings,
    latest_as_of,
    run_understanding,
)
from tests.profile.bank import AS_OF, T_LOAD, open_bank


def test_run_writes_every_table_for_the_as_of_date_and_reruns_supersede(tmp_path) -> None:
    wh = open_bank(tmp_path)
    small = SegmentModel(k_range=(2,))
    earlier = date(2024, 5, 31)
    first = run_understanding(wh, earlier, load_cutoff=T_LOAD, segment_model=small)
    assert first.transitions is None and first.stages["prospect"] == 1
    report = run_understanding(wh, AS_OF, load_cutoff=T_LOAD, segment_model=small)
    assert report.customers == 6 and report.stages["churned"] == 1
    assert report.tags["payroll"] == 1 and report.segments_k == 2
    assert report.transitions is not None
    assert report.transitions["new"]["new"] == 1  # c_new: new in May and in June
    assert latest_as_of(wh) == AS_OF
    for table in ("feature_snapshot", "customer_lifecycle", "customer_rfm", "customer_clv"):
        cur = wh.current(table)
        dates = set(wh.to_arrow(cur.select("as_of_date")).column(0).to_pylist())
        assert dates == {earlier, AS_OF}, table
    life = {
        r["customer_key"]: r
        for r in wh.to_arrow(
            wh.current("customer_lifecycle").filter(lambda t: t.as_of_date == AS_OF)
        ).to_pylist()
    }
    assert life["c_new"]["previous_stage"] == "new"
    clv = wh.to_arrow(wh.current("customer_clv").filter(lambda t: t.as_of_date == AS_OF))
    rows = clv.to_pylist()
    assert len(rows) == 5  # prospects have no value yet
    assert {r["budget_strategy"] for r in rows} <= {v["code"] for v in BUDGET_STRATEGY.values()}
    best = max(rows, key=lambda r: r["clv"])
    assert best["customer_key"] == "c_mature" and best["value_tier"] in ("top", "high")
    churned = next(r for r in rows if r["customer_key"] == "c_churned")
    assert churned["monthly_survival"] == 0.0 and churned["clv"] == 0.0
    run = wh.to_arrow(wh.current("understanding_run").filter(lambda t: t.as_of_date == AS_OF))
    assert json.loads(run.column("detail_json")[0].as_py())["segments"]["k"] == 2
    # a re-run with a later cut-off appends a new version that current() returns
    again = run_understanding(wh, AS_OF, load_cutoff=T_LOAD + timedelta(days=1),
                              segment_model=small)  # fmt: skip
    cur = wh.to_arrow(wh.current("feature_snapshot").filter(lambda t: t.as_of_date == AS_OF))
    assert set(cur.column("_batch_id").to_pylist()) == {again.batch_id}
    assert cur.num_rows == 6
    wh.close()


@dataclass(frozen=True)
class _AgePd:
    """A stand-in credit model: PD grows with age (the real one is the champion scorecard)."""

    label: str = "credit_scorecard v0007"

    def probability_of_default(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["age"].fillna(0).to_numpy(float) / 1000.0


def test_clv_takes_pd_from_the_credit_model_when_given(tmp_path) -> None:
    wh = open_bank(tmp_path)
    small = SegmentModel(k_range=(2,))
    plain = run_understanding(wh, AS_OF, load_cutoff=T_LOAD, segment_model=small)
    assert plain.pd_source == SEGMENT_PD_SOURCE
    model = _AgePd()
    report = run_understanding(wh, AS_OF, load_cutoff=T_LOAD + timedelta(days=1),
                               segment_model=small, pd_model=model)  # fmt: skip
    assert report.pd_source == "credit_scorecard v0007"
    run = wh.to_arrow(wh.current("understanding_run").filter(lambda t: t.as_of_date == AS_OF))
    assert json.loads(run.column("detail_json")[0].as_py())["pd_source"] == model.label
    clv = wh.to_arrow(wh.current("customer_clv").filter(lambda t: t.as_of_date == AS_OF))
    snap = wh.to_arrow(wh.current("feature_snapshot").filter(lambda t: t.as_of_date == AS_OF))
    age = dict(zip(snap.column("customer_key").to_pylist(), snap.column("age").to_pylist(),
                   strict=True))  # fmt: skip
    for row in clv.to_pylist():
        expected = max((age[row["customer_key"]] or 0) / 1000.0, ClvSettings().minimum_pd)
        assert row["probability_of_default"] == pytest.approx(expected)
    wh.close()
