"""Product holdings, accounts and monthly balances, consistent with life stage and risk.

Holding at the start of the window and adoption during it follow one logit per customer and
product (segment, income, age); adoption happens only in live lifecycle states, faster for
new customers. Balances follow the customer's wealth, the latent state (ramp-up when new,
decay when dormant) and a random walk; churners close everything or leave under 100 CNY.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextbest.demo.world.calendar import Window
from nextbest.demo.world.lifecycle import DORMANT, NEW, Lifecycle
from nextbest.demo.world.params import WorldParams
from nextbest.demo.world.population import STUDENT, UNEMPLOYED, Population
from nextbest.domain.enums import (
    CREDIT_FAMILIES,
    DEPOSIT_FAMILIES,
    INVESTMENT_FAMILIES,
    ProductFamily,
)

__all__ = ["Holdings", "ProductTable", "draw_holdings"]

LOAN_FAMILIES = ("consumer_loan", "car_loan", "mortgage")
_ACCOUNT_PREFIX = {  # first four digits of the account number per kind of product
    "deposit": 6217,
    "investment": 9100,
    "credit_card": 6225,
    "loan": 8800,
}


@dataclass(frozen=True)
class ProductTable:
    code: np.ndarray
    family: np.ndarray  # family value strings
    risk: np.ndarray  # 1..5
    min_age: np.ndarray
    max_age: np.ndarray
    min_amount: np.ndarray
    share: np.ndarray
    is_deposit: np.ndarray
    is_investment: np.ndarray
    is_credit: np.ndarray
    is_loan: np.ndarray
    is_card: np.ndarray

    @classmethod
    def build(cls, params: WorldParams) -> ProductTable:
        ps = params.products
        fam = [p.family for p in ps]
        return cls(
            code=np.array([p.code for p in ps]),
            family=np.array([f.value for f in fam]),
            risk=np.array([int(p.risk.value[1]) for p in ps]),
            min_age=np.array([p.min_age for p in ps], dtype=float),
            max_age=np.array([p.max_age for p in ps], dtype=float),
            min_amount=np.array([p.min_amount for p in ps]),
            share=np.array([p.share for p in ps]),
            is_deposit=np.array([f in DEPOSIT_FAMILIES for f in fam]),
            is_investment=np.array([f in INVESTMENT_FAMILIES for f in fam]),
            is_credit=np.array([f in CREDIT_FAMILIES for f in fam]),
            is_loan=np.array([f.value in LOAN_FAMILIES for f in fam]),
            is_card=np.array([f is ProductFamily.CREDIT_CARD for f in fam]),
        )

    @property
    def size(self) -> int:
        return len(self.code)

    def number_prefix(self) -> np.ndarray:
        kind = np.where(
            self.is_deposit,
            "deposit",
            np.where(
                self.is_investment, "investment", np.where(self.is_card, "credit_card", "loan")
            ),
        )
        return np.array([_ACCOUNT_PREFIX[k] for k in kind], dtype=np.int64)


@dataclass(frozen=True)
class Holdings:
    """Accounts (one row per customer and product held during the window) and balances."""

    products: ProductTable
    propensity: np.ndarray  # (n, P) monthly adoption probability of a live customer
    hold_probability: np.ndarray  # (n, P)
    wealth: np.ndarray  # (n,) liquid wealth (CNY)
    acc_customer: np.ndarray
    acc_product: np.ndarray
    acc_number: np.ndarray  # int64, 19 digits
    opened_day: np.ndarray
    closed_day: np.ndarray  # -1 while open
    credit_limit: np.ndarray  # CNY, NaN for non-credit
    term_months: np.ndarray  # loans only, else 0
    bal_account: np.ndarray  # row -> account index
    bal_month: np.ndarray
    bal_month_end: np.ndarray  # CNY
    bal_avg_daily: np.ndarray  # CNY


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _segment_matrix(params: WorldParams) -> np.ndarray:
    return np.array([p.seg for p in params.products]).T  # (segments, P)


def draw_holdings(
    params: WorldParams,
    window: Window,
    pop: Population,
    life: Lifecycle,
    rng: np.random.Generator,
) -> Holdings:
    prod = ProductTable.build(params)
    ps = params.products
    n, n_p, months = pop.size, prod.size, window.months
    lc = params.lifecycle

    beh = params.segments.behaviour
    wealth = (
        pop.income
        * np.asarray(beh.wealth_months)[pop.segment]
        / 12
        * np.exp(rng.normal(-0.18, 0.6, n))
    )
    age_start = pop.age - months / 12
    logit = (
        np.array([p.base for p in ps])[None, :]
        + _segment_matrix(params)[pop.segment]
        + np.array([p.income for p in ps])[None, :] * pop.income_z[:, None]
        + np.array([p.age for p in ps])[None, :] * ((age_start[:, None] - 40) / 10)
    )
    eligible = (age_start[:, None] >= prod.min_age) & (age_start[:, None] <= prod.max_age)
    eligible &= ~prod.is_investment | (prod.risk[None, :] <= pop.risk_tolerance[:, None])
    eligible &= ~prod.is_credit | (
        (pop.income[:, None] >= 24_000) & ~np.isin(pop.occupation, (STUDENT, UNEMPLOYED))[:, None]
    )
    # large minimum subscriptions (certificates of deposit) need the wealth to match
    big_ticket = (prod.min_amount >= 100_000) & ~prod.is_credit
    eligible &= ~big_ticket[None, :] | (wealth[:, None] >= prod.min_amount)
    hold_p = _sigmoid(logit) * eligible
    hold_p[:, 0] = 1.0
    propensity = np.array([p.hazard for p in ps])[None, :] * 4 * _sigmoid(logit + 1) * eligible

    established = life.onboard_month < 0
    held_start = established[:, None] & (rng.random((n, n_p)) < hold_p)
    held_start[:, 0] = established
    state_mult = np.array([0.0, 3.0, 1.0, 0.8, 0.1, 0.0])[life.state]  # (n, months)
    hit = rng.random((n, n_p, months)) < propensity[:, :, None] * state_mult[:, None, :]
    adopted = hit.any(axis=2) & ~held_start
    adopt_month = hit.argmax(axis=2)
    adopted[:, 0] = ~established  # the basic account opens with the relationship
    adopt_month[:, 0] = np.maximum(life.onboard_month, 0)

    ci, pj = np.nonzero(held_start | adopted)
    start = held_start[ci, pj]
    nacc = len(ci)
    term = np.zeros(nacc, dtype=np.int64)
    for fam, (lo, hi) in params.credit.loan_term_months.items():
        sel = prod.family[pj] == fam
        term[sel] = rng.integers(lo, hi + 1, sel.sum())
    onboard = pop.onboarding_day[ci]
    before = np.maximum(window.first_day - onboard, 1)
    lookback = np.where(
        term > 0, np.minimum(before, (term * 30.44 * 0.95).astype(np.int64)), before
    )
    opened_start = window.first_day - 1 - (rng.random(nacc) * lookback).astype(np.int64)
    m = adopt_month[ci, pj]
    opened_adopt = window.starts[m] + (rng.random(nacc) * window.month_length[m]).astype(np.int64)
    opened = np.where(start, opened_start, np.maximum(opened_adopt, onboard))
    opened = np.where(pj == 0, onboard, opened)

    closed = np.full(nacc, -1, dtype=np.int64)
    matures = opened + (term * 30.44).astype(np.int64)
    loan_done = (term > 0) & (matures <= window.end_day)
    closed[loan_done] = matures[loan_done]
    churn = life.churn_day[ci]
    leaves = (churn >= 0) & (life.closes_all[ci] | (pj != 0))
    closed = np.where(leaves & ((closed < 0) | (closed > churn)), np.maximum(churn, opened), closed)

    limit = np.full(nacc, np.nan)
    card = prod.is_card[pj]
    limit[card] = np.maximum(
        np.round(pop.income[ci][card] * params.credit.card_limit_income_multiple / 1000) * 1000,
        5000,
    )
    for fam, mult in params.credit.loan_income_multiple.items():
        sel = prod.family[pj] == fam
        principal = pop.income[ci][sel] * mult * np.exp(rng.normal(0, 0.3, sel.sum()))
        limit[sel] = np.maximum(np.round(principal / 1000) * 1000, prod.min_amount[pj][sel])

    serial = ((pop.index[ci] * 32 + pj) * 982_451_653 + 371_204_958_113_467) % 10**15
    number = prod.number_prefix()[pj] * 10**15 + serial

    # balance rows: months whose last day the account is open on
    first_m = np.maximum(window.month_index(opened), 0)
    last_m = np.where(closed >= 0, np.minimum(window.month_index(closed), months), months) - 1
    first_m = np.where(window.month_index(opened) >= months, months, first_m)
    count = np.maximum(last_m - first_m + 1, 0)
    b_acc = np.repeat(np.arange(nacc), count)
    b_month = first_m[b_acc] + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    b_cust = ci[b_acc]

    # state factor: ramp-up when new, decay while dormant, zero otherwise outside the relation
    run = np.zeros((n, months))
    for k in range(months):
        prev = run[:, k - 1] if k else np.zeros(n)
        run[:, k] = (prev + 1) * (life.state[:, k] == DORMANT)
    factor = np.where(life.state == DORMANT, lc.dormant_balance_decay**run, 1.0)
    months_on_book = np.arange(months)[None, :] - life.onboard_month[:, None]
    factor = np.where(
        (life.state == NEW) & (life.onboard_month[:, None] >= 0),
        0.4 + 0.2 * np.clip(months_on_book, 0, 3),
        factor,
    )
    walk = np.exp(np.cumsum(rng.normal(0, 0.05, (n, months)), axis=1))

    share_sum = np.bincount(ci, weights=prod.share[pj], minlength=n)
    acc_share = (
        prod.share[pj] * np.exp(rng.normal(-0.08, 0.4, nacc)) / np.maximum(share_sum[ci], 1e-9)
    )
    target = wealth[ci] * acc_share
    target = np.where(
        prod.min_amount[pj] >= 100_000, np.maximum(target, prod.min_amount[pj]), target
    )
    level = target[b_acc] * factor[b_cust, b_month] * walk[b_cust, b_month]
    level *= np.exp(rng.normal(0, 0.04, len(b_acc)))

    bp = pj[b_acc]
    activity = params.lifecycle.activity_by_state
    act = np.asarray(activity)[life.state[b_cust, b_month]]
    card_debt = (
        pop.income[b_cust]
        / 12
        * 0.25
        * pop.activity[b_cust]
        * act
        * np.exp(rng.normal(-0.12, 0.5, len(b_acc)))
    )
    level = np.where(prod.is_card[bp], np.minimum(card_debt, limit[b_acc]), level)
    elapsed = (window.starts[b_month + 1] - opened[b_acc]) / 30.44
    remaining = np.clip(1 - elapsed / np.maximum(term[b_acc], 1), 0, 1)
    level = np.where(prod.is_loan[bp], limit[b_acc] * remaining, level)

    # the basic account: a residual under 100 CNY for churners who leave it open, else >= 150
    basic = bp == 0
    gone = (life.churn_day[b_cust] >= 0) & (
        window.starts[b_month + 1] - 1 >= life.churn_day[b_cust]
    )
    residual = rng.uniform(3, 95, len(b_acc))
    floor = 150 + rng.exponential(200, len(b_acc))
    level = np.where(basic & gone, residual, np.where(basic, np.maximum(level, floor), level))
    level = np.round(level, 2)
    avg = np.round(level * np.exp(rng.normal(0, 0.07, len(b_acc))), 2)
    in_open_month = b_month == window.month_index(opened[b_acc])
    avg = np.where(
        in_open_month,
        np.round(
            avg * (window.starts[b_month + 1] - opened[b_acc]) / window.month_length[b_month], 2
        ),
        avg,
    )

    return Holdings(
        products=prod,
        propensity=propensity,
        hold_probability=hold_p,
        wealth=wealth,
        acc_customer=ci,
        acc_product=pj,
        acc_number=number,
        opened_day=opened,
        closed_day=closed,
        credit_limit=limit,
        term_months=term,
        bal_account=b_acc,
        bal_month=b_month,
        bal_month_end=level,
        bal_avg_daily=avg,
    )
