"""Ground truth of one block: what the exports do not show, written beside them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from nextbest.demo.world.activity import Activity
from nextbest.demo.world.calendar import Window
from nextbest.demo.world.credit import Credit
from nextbest.demo.world.holdings import Holdings
from nextbest.demo.world.lifecycle import Lifecycle
from nextbest.demo.world.params import WorldParams
from nextbest.demo.world.population import Population

__all__ = ["CHURN_SILENCE_DAYS", "ResponseTraits", "draw_response_traits", "truth_tables"]

CHURN_SILENCE_DAYS = 90


@dataclass(frozen=True)
class ResponseTraits:
    """Per customer and channel response parameters, arrays of shape (n, channels)."""

    open_p: np.ndarray
    click_p: np.ndarray
    complaint_p: np.ndarray
    conversion_effect: np.ndarray
    churn_effect: np.ndarray


def draw_response_traits(
    params: WorldParams, pop: Population, rng: np.random.Generator
) -> ResponseTraits:
    r = params.response
    n, k = pop.size, len(r.channels)
    seg = pop.segment
    open_p = np.clip(
        np.asarray(r.open_rate)[None, :] * np.exp(rng.normal(-0.045, 0.3, (n, k))), 0, 0.98
    )
    click_p = np.clip(
        np.asarray(r.click_given_open)[None, :] * np.exp(rng.normal(-0.045, 0.3, (n, k))), 0, 0.95
    )
    complaint = np.asarray(r.complaint_rate)[None, :] * np.exp(rng.normal(-0.125, 0.5, (n, k)))
    complaint *= np.where(seg == len(params.segments.names) - 1, 2.0, 1.0)[:, None]
    conv = np.asarray(r.conversion_effect)[seg] + rng.normal(0, r.effect_sigma, (n, k))
    churn = np.asarray(r.churn_effect)[seg] + rng.normal(0, r.effect_sigma / 2, (n, k))
    return ResponseTraits(open_p, click_p, np.clip(complaint, 0, 0.5), conv, churn)


def _date32(days: np.ndarray, nullable: bool = True) -> pa.Array:
    days = np.asarray(days, dtype=np.int64)
    mask = days == -1 if nullable else np.zeros(len(days), dtype=bool)
    return pa.array(days.astype(np.int32), type=pa.date32(), mask=mask)


def truth_tables(
    params: WorldParams,
    window: Window,
    khh: pa.Array,
    pop: Population,
    life: Lifecycle,
    hold: Holdings,
    credit: Credit,
    act: Activity,
    traits: ResponseTraits,
) -> dict[str, pa.Table]:
    n, months = pop.size, window.months
    last = act.last_customer_txn_day
    silent_from = np.where(last >= 0, last, life.churn_day - 1) + CHURN_SILENCE_DAYS
    observed = np.where(life.closes_all, life.churn_day, np.maximum(life.churn_day, silent_from))
    observed = np.where((life.churn_day >= 0) & (observed <= window.end_day), observed, -1)
    names = np.array(params.segments.names)
    out: dict[str, pa.Table] = {}
    out["customers"] = pa.table(
        {
            "KHH": khh,
            "segment": pa.array(names[pop.segment]),
            "segment_id": pa.array(pop.segment.astype(np.int8)),
            "frailty": pa.array(pop.frailty.astype(np.float32)),
            "activity": pa.array(pop.activity.astype(np.float32)),
            "risk_tolerance": pa.array(pop.risk_tolerance.astype(np.int8)),
            "income": pa.array(np.round(pop.income, 2)),
            "wealth": pa.array(np.round(hold.wealth, 2)),
            "onboarding_date": _date32(pop.onboarding_day, nullable=False),
            "churn_date": _date32(life.churn_day),
            "observed_churn_date": _date32(observed),
            "closes_all_accounts": pa.array(life.closes_all & (life.churn_day >= 0)),
            "last_customer_txn_date": _date32(last),
            "annual_pd": pa.array(credit.pd.astype(np.float32)),
            "default_date": _date32(credit.default_day),
        }
    )
    states = pa.array(params.lifecycle.states)
    rows = np.repeat(np.arange(n), months)
    month = np.tile(window.starts[:-1], n)
    out["lifecycle"] = pa.table(
        {
            "KHH": khh.take(pa.array(rows)),
            "month": _date32(month),
            "state": states.take(pa.array(life.state.ravel().astype(np.int64))),
            "churn_hazard": pa.array(life.hazard.ravel()),
            "churn_prob_3m": pa.array(life.churn_3m.ravel()),
        }
    )
    adoption = {"KHH": khh}
    for j, code in enumerate(hold.products.code):
        adoption[str(code)] = pa.array(hold.propensity[:, j].astype(np.float32))
    out["adoption"] = pa.table(adoption)
    k = len(params.response.channels)
    rows = np.repeat(np.arange(n), k)
    out["response"] = pa.table(
        {
            "KHH": khh.take(pa.array(rows)),
            "channel": pa.array(params.response.channels * n),
            "open_prob": pa.array(traits.open_p.ravel().astype(np.float32)),
            "click_prob": pa.array(traits.click_p.ravel().astype(np.float32)),
            "complaint_prob": pa.array(traits.complaint_p.ravel().astype(np.float32)),
            "conversion_effect": pa.array(traits.conversion_effect.ravel().astype(np.float32)),
            "churn_effect": pa.array(traits.churn_effect.ravel().astype(np.float32)),
        }
    )
    return out
