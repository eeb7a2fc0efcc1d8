"""Credit: probability of default, instalments with late payment, delinquency and default."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextbest.demo.world.calendar import Window, days_to_yyyymmdd
from nextbest.demo.world.holdings import Holdings
from nextbest.demo.world.params import WorldParams
from nextbest.demo.world.population import Population

__all__ = ["Credit", "draw_credit"]

DEFAULT_DPD = 90


@dataclass(frozen=True)
class Credit:
    pd: np.ndarray  # (n,) true annual probability of default
    onset_day: np.ndarray  # (n,) day of the first never-cured missed instalment, -1 if none
    default_day: np.ndarray  # (n,) onset + 90 days if within the window, else -1
    inst_account: np.ndarray  # account index per instalment
    due_day: np.ndarray
    amount_due: np.ndarray  # CNY
    amount_paid: np.ndarray  # CNY (0 when unpaid)
    paid_day: np.ndarray  # -1 when unpaid
    days_past_due: np.ndarray
    def_account: np.ndarray  # account index per default event
    def_day: np.ndarray


def draw_credit(
    params: WorldParams,
    window: Window,
    pop: Population,
    hold: Holdings,
    rng: np.random.Generator,
) -> Credit:
    cp = params.credit
    n, months = pop.size, window.months
    logit = (
        cp.pd_logit["intercept"]
        + cp.pd_logit["income_z"] * pop.income_z
        + cp.pd_logit["young"] * (pop.age < 30)
        + cp.pd_logit["frailty"] * np.log(pop.frailty)
        + np.asarray(cp.pd_by_segment)[pop.segment]
    )
    pd = 1 / (1 + np.exp(-logit))
    monthly = 1 - (1 - pd) ** (1 / 12)
    onset_month = rng.geometric(monthly) - 1
    onset_in = onset_month < months

    prod = hold.products
    credit_acc = np.flatnonzero(prod.is_credit[hold.acc_product])
    opened = hold.opened_day[credit_acc]
    closed = hold.closed_day[credit_acc]
    card_acc = prod.is_card[hold.acc_product[credit_acc]]
    dom = np.where(card_acc, 20, np.minimum(days_to_yyyymmdd(opened) % 100, 28))
    first_m = np.maximum(window.month_index(opened) + 1, 0)
    stop = np.where(closed >= 0, closed, window.end_day)
    last_m = window.month_index(stop)
    last_m = np.where(
        window.starts[np.clip(last_m, 0, months)] + dom - 1 > stop, last_m - 1, last_m
    )
    last_m = np.minimum(last_m, months - 1)
    count = np.maximum(last_m - first_m + 1, 0)
    row_acc = np.repeat(np.arange(len(credit_acc)), count)
    row_m = first_m[row_acc] + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    acc = credit_acc[row_acc]
    cust = hold.acc_customer[acc]
    due = window.starts[row_m] + dom[row_acc] - 1

    card = prod.is_card[hold.acc_product[acc]]
    term = np.maximum(hold.term_months[acc], 1)
    margin = np.array([p.margin for p in params.products])[hold.acc_product[acc]]
    loan_due = hold.credit_limit[acc] / term * (1 + margin * term / 24)
    card_due = (
        pop.income[cust] / 12 * 0.25 * pop.activity[cust] * np.exp(rng.normal(-0.12, 0.5, len(acc)))
    )
    amount_due = np.round(np.where(card, np.minimum(card_due, hold.credit_limit[acc]), loan_due), 2)

    # default onset at the first instalment in the onset month or later; nothing paid after
    onset_day_c = np.where(onset_in, window.starts[np.minimum(onset_month, months - 1)], -1)
    od = onset_day_c[cust]
    missed = (od >= 0) & (due >= od)
    first_missed = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_missed, cust[missed], due[missed])
    has = first_missed < np.iinfo(np.int64).max
    onset_day = np.where(has, first_missed, -1)
    default_day = np.where(
        has & (first_missed + DEFAULT_DPD <= window.end_day), first_missed + DEFAULT_DPD, -1
    )
    # after default the account is charged off: no further instalments
    keep = ~(missed & (default_day[cust] >= 0) & (due > default_day[cust]))

    late = ~missed & (rng.random(len(acc)) < cp.late_share)
    paid_day = np.where(
        late,
        due + rng.integers(cp.late_days[0], cp.late_days[1] + 1, len(acc)),
        due - rng.integers(0, 8, len(acc)),
    )
    unpaid = missed | (paid_day > window.end_day)
    paid_day = np.where(unpaid, -1, paid_day)
    dpd = np.where(unpaid, np.maximum(window.end_day - due, 0), 0)
    amount_paid = np.where(unpaid, 0.0, amount_due)

    # every open credit account of a defaulted customer defaults on the same day
    is_def = default_day[hold.acc_customer[credit_acc]] >= 0
    is_def &= hold.opened_day[credit_acc] < onset_day[hold.acc_customer[credit_acc]]
    def_acc = credit_acc[is_def]

    return Credit(
        pd=pd,
        onset_day=onset_day,
        default_day=default_day,
        inst_account=acc[keep],
        due_day=due[keep],
        amount_due=amount_due[keep],
        amount_paid=amount_paid[keep],
        paid_day=paid_day[keep],
        days_past_due=dpd[keep],
        def_account=def_acc,
        def_day=default_day[hold.acc_customer[def_acc]],
    )
