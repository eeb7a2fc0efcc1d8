"""Transactions and digital events, driven by segment, latent state and the calendar.

Counts are Poisson per customer-month and kind; rows are expanded with ``np.repeat``. The
latent state scales activity (dormant customers wind down before they churn), the calendar
adds Spring Festival and 11.11 peaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextbest.demo.world.calendar import Window
from nextbest.demo.world.credit import Credit
from nextbest.demo.world.holdings import Holdings
from nextbest.demo.world.lifecycle import CHURNED, DORMANT, PROSPECT, Lifecycle
from nextbest.demo.world.params import WorldParams
from nextbest.demo.world.population import RETIRED, SALARIED, Population
from nextbest.domain.enums import (
    Channel,
    CounterpartyType,
    EventChannel,
    EventType,
    MerchantCategory,
)

__all__ = ["CATEGORIES", "CHANNELS", "COUNTERPARTIES", "Activity", "draw_activity"]

CHANNELS = tuple(Channel)
COUNTERPARTIES = tuple(CounterpartyType)
CATEGORIES = tuple(MerchantCategory)
EVENT_TYPES = tuple(EventType)
EVENT_CHANNELS = tuple(EventChannel)
_CH = {c: i for i, c in enumerate(CHANNELS)}
_CP = {c: i for i, c in enumerate(COUNTERPARTIES)}


@dataclass(frozen=True)
class Activity:
    txn_customer: np.ndarray
    txn_account: np.ndarray  # account number (int64)
    txn_day: np.ndarray
    txn_second: np.ndarray  # seconds after midnight
    txn_amount: np.ndarray  # CNY, positive
    txn_credit: np.ndarray  # bool: money in
    txn_channel: np.ndarray  # index into CHANNELS
    txn_category: np.ndarray  # index into CATEGORIES
    txn_counterparty: np.ndarray  # index into COUNTERPARTIES
    last_customer_txn_day: np.ndarray  # (n,) -1 if none in the window
    ev_customer: np.ndarray
    ev_day: np.ndarray
    ev_second: np.ndarray
    ev_type: np.ndarray
    ev_channel: np.ndarray
    ev_target: np.ndarray


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a (n, months) count matrix as (customer, month) index arrays."""
    months = counts.shape[1]
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    return flat // months, flat % months


def _pick(rng: np.random.Generator, options: list[int], weights: list[float], n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.asarray(options)[rng.choice(len(options), size=n, p=w / w.sum())]


def _category_tables(params: WorldParams, window: Window) -> np.ndarray:
    """(segments, 12 months of year, categories) cumulative category probabilities."""
    beh = params.segments.behaviour
    base = np.asarray(beh.category_weights)
    names = beh.category_names
    tab = np.repeat(base[:, None, :], 12, axis=1)
    boost = {
        11: {"online_shopping": 2.2},
        12: {"online_shopping": 1.2, "luxury": 1.3},
        9: {"education": 2.0},
        7: {"travel": 1.4},
        8: {"travel": 1.4, "education": 1.3},
    }
    for month, factors in boost.items():
        for cat, f in factors.items():
            tab[:, month - 1, names.index(cat)] *= f
    return np.cumsum(tab / tab.sum(axis=2, keepdims=True), axis=2)


def draw_activity(
    params: WorldParams,
    window: Window,
    pop: Population,
    life: Lifecycle,
    hold: Holdings,
    credit: Credit,
    rng: np.random.Generator,
) -> Activity:
    beh = params.segments.behaviour
    n, months = pop.size, window.months
    seg = pop.segment
    frac = life.active_fraction(window, pop.onboarding_day)
    state = life.state.copy()
    # in the month of churn the customer behaves as in the month before (wind-down)
    churn_month = (state == CHURNED) & (frac > 0)
    prev = np.concatenate([np.full((n, 1), 2, dtype=np.int8), state[:, :-1]], axis=1)
    state = np.where(churn_month, prev, state)
    intensity = pop.activity[:, None] * np.asarray(params.lifecycle.activity_by_state)[state] * frac
    festival = window.spring_festival_month[None, :]
    moy = window.month_of_year[None, :]
    spend_season = (
        np.where(festival, 1.3, 1.0)
        * np.where(moy == 11, 1.15, 1.0)
        * np.where(moy == 12, 1.08, 1.0)
    )

    begin = np.maximum(window.starts[:-1][None, :], pop.onboarding_day[:, None])
    leave = np.where(life.churn_day >= 0, life.churn_day, np.iinfo(np.int64).max)[:, None]
    stop = np.minimum(window.starts[1:][None, :], leave)
    span = np.maximum(stop - begin, 1)

    def days(c: np.ndarray, m: np.ndarray) -> np.ndarray:
        return begin[c, m] + (rng.random(len(c)) * span[c, m]).astype(np.int64)

    prod = hold.products
    basic_number = np.zeros(n, dtype=np.int64)
    basic = hold.acc_product == 0
    basic_number[hold.acc_customer[basic]] = hold.acc_number[basic]
    card_number = np.zeros(n, dtype=np.int64)
    card_open = np.zeros((n, months), dtype=bool)
    cards = np.flatnonzero(prod.is_card[hold.acc_product])
    card_number[hold.acc_customer[cards]] = hold.acc_number[cards]
    o = window.month_index(hold.opened_day[cards])
    c_end = np.where(
        hold.closed_day[cards] >= 0, window.month_index(hold.closed_day[cards]), months
    )
    month_ix = np.arange(months)[None, :]
    card_open[hold.acc_customer[cards]] |= (month_ix > o[:, None]) & (month_ix < c_end[:, None])
    holds_investment = np.zeros(n, dtype=bool)
    holds_investment[hold.acc_customer[prod.is_investment[hold.acc_product]]] = True
    app_user = rng.random(n) < np.asarray(beh.app_share)[seg]
    web_user = rng.random(n) < np.asarray(beh.web_share)[seg]

    parts: list[dict[str, np.ndarray]] = []

    # spending
    lam = np.asarray(beh.spend_rate)[seg][:, None] * intensity * spend_season
    c, m = _expand(rng.poisson(lam))
    k = len(c)
    cum = _category_tables(params, window)[seg[c], window.month_of_year[m] - 1]
    cat = (rng.random(k)[:, None] > cum).sum(axis=1).clip(0, cum.shape[1] - 1)
    med = np.asarray(beh.category_median)[cat] * np.asarray(beh.spend_scale)[seg[c]]
    amount = med * (pop.income[c] / 80_000) ** 0.35 * np.exp(rng.normal(0, 0.75, k))
    d = days(c, m)
    eleven = (window.month_of_year[m] == 11) & (cat == 3) & (rng.random(k) < 0.45)
    nov11 = window.starts[m] + 10
    d = np.where(eleven & (nov11 >= begin[c, m]) & (nov11 < stop[c, m]), nov11, d)
    channel = np.where(
        app_user[c],
        _pick(
            rng,
            [_CH[Channel.THIRD_PARTY], _CH[Channel.MOBILE_APP], _CH[Channel.POS]],
            [0.55, 0.15, 0.30],
            k,
        ),
        _pick(rng, [_CH[Channel.POS], _CH[Channel.THIRD_PARTY]], [0.9, 0.1], k),
    )
    on_card = card_open[c, m] & (rng.random(k) < 0.55)
    parts.append(
        {
            "c": c,
            "acc": np.where(on_card, card_number[c], basic_number[c]),
            "day": d,
            "sec": rng.integers(7 * 3600, 23 * 3600, k),
            "amt": amount,
            "credit": np.zeros(k, bool),
            "ch": channel,
            "cat": cat + 1,
            "cp": np.full(k, _CP[CounterpartyType.MERCHANT]),
            "ci": np.ones(k, bool),
        }
    )

    # transfers (red packets around Spring Festival)
    lam = np.asarray(beh.transfer_rate)[seg][:, None] * intensity * np.where(festival, 1.8, 1.0)
    c, m = _expand(rng.poisson(lam))
    k = len(c)
    web = web_user[c] & (rng.random(k) < 0.3)
    channel = np.where(
        app_user[c],
        np.where(web, _CH[Channel.ONLINE_BANKING], _CH[Channel.MOBILE_APP]),
        _pick(
            rng,
            [_CH[Channel.COUNTER], _CH[Channel.ATM], _CH[Channel.ONLINE_BANKING]],
            [0.45, 0.45, 0.10],
            k,
        ),
    )
    incoming = rng.random(k) < 0.45
    cash = channel == _CH[Channel.ATM]
    parts.append(
        {
            "c": c,
            "acc": basic_number[c],
            "day": days(c, m),
            "sec": rng.integers(6 * 3600, 24 * 3600, k),
            "amt": 800 * (pop.income[c] / 80_000) ** 0.5 * np.exp(rng.normal(0, 1.0, k)),
            "credit": incoming & ~cash,
            "ch": channel,
            "cat": np.zeros(k, np.int64),
            "cp": np.where(cash, _CP[CounterpartyType.NONE], _CP[CounterpartyType.INDIVIDUAL]),
            "ci": np.ones(k, bool),
        }
    )

    # investment purchases and redemptions
    lam = 0.35 * holds_investment[:, None] * intensity
    c, m = _expand(rng.poisson(lam))
    k = len(c)
    parts.append(
        {
            "c": c,
            "acc": basic_number[c],
            "day": days(c, m),
            "sec": rng.integers(9 * 3600, 22 * 3600, k),
            "amt": np.maximum(hold.wealth[c] * 0.05 * np.exp(rng.normal(0, 0.6, k)), 1.0),
            "credit": rng.random(k) < 0.35,
            "ch": np.where(app_user[c], _CH[Channel.MOBILE_APP], _CH[Channel.COUNTER]),
            "cat": np.zeros(k, np.int64),
            "cp": np.full(k, _CP[CounterpartyType.FINANCIAL_INSTITUTION]),
            "ci": np.ones(k, bool),
        }
    )

    # salary (stops while dormant: the pay goes to another bank) and pension
    salaried = np.isin(pop.occupation, SALARIED) & (rng.random(n) < np.where(seg == 1, 0.85, 0.5))
    payday = rng.integers(5, 16, n)
    pay_day = window.starts[:-1][None, :] + payday[:, None] - 1
    live = (pay_day >= begin) & (pay_day < stop)
    sal = salaried[:, None] & live & (state != DORMANT) & (state != PROSPECT)
    pen = (pop.occupation == RETIRED)[:, None] & live & (state != PROSPECT)
    for mask, cp, base in (
        (sal, CounterpartyType.EMPLOYER, 1.0),
        (pen, CounterpartyType.GOVERNMENT, 0.95),
    ):
        c, m = np.nonzero(mask)
        k = len(c)
        bonus = np.where(
            (window.month_of_year[m] == 1)
            & (rng.random(k) < 0.6)
            & (cp == CounterpartyType.EMPLOYER),
            1 + rng.uniform(0.5, 2.0, k),
            1.0,
        )
        parts.append(
            {
                "c": c,
                "acc": basic_number[c],
                "day": pay_day[c, m],
                "sec": rng.integers(2 * 3600, 6 * 3600, k),
                "amt": pop.income[c] / 12 * base * bonus * rng.normal(1, 0.03, k),
                "credit": np.ones(k, bool),
                "ch": np.full(k, _CH[Channel.SYSTEM]),
                "cat": np.zeros(k, np.int64),
                "cp": np.full(k, _CP[cp]),
                "ci": np.zeros(k, bool),
            }
        )

    # automatic repayments of paid instalments
    paid = credit.paid_day >= 0
    acc = credit.inst_account[paid]
    c = hold.acc_customer[acc]
    k = len(c)
    is_card = prod.is_card[hold.acc_product[acc]]
    parts.append(
        {
            "c": c,
            "acc": basic_number[c],
            "day": credit.paid_day[paid],
            "sec": rng.integers(1 * 3600, 5 * 3600, k),
            "amt": credit.amount_paid[paid],
            "credit": np.zeros(k, bool),
            "ch": np.full(k, _CH[Channel.SYSTEM]),
            "cat": np.zeros(k, np.int64),
            "cp": np.where(
                is_card,
                _CP[CounterpartyType.OWN_ACCOUNT],
                _CP[CounterpartyType.FINANCIAL_INSTITUTION],
            ),
            "ci": np.zeros(k, bool),
        }
    )

    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(cols["day"] * 86400 + cols["sec"], kind="stable")
    cols = {key: v[order] for key, v in cols.items()}
    last = np.full(n, -1, dtype=np.int64)
    ci = cols["ci"]
    np.maximum.at(last, cols["c"][ci], cols["day"][ci])

    # digital events
    lam = np.asarray(beh.digital_rate)[seg][:, None] * intensity * (app_user | web_user)[:, None]
    c, m = _expand(rng.poisson(lam))
    k = len(c)
    dig = params.digital
    types = [t.value for t in EVENT_TYPES]
    tw = np.array([dig.event_type_weights[t] for t in types])
    ev_channel = np.where(app_user[c] & (~web_user[c] | (rng.random(k) < 0.75)), 0, 1)
    ev = Activity(
        txn_customer=cols["c"],
        txn_account=cols["acc"],
        txn_day=cols["day"],
        txn_second=cols["sec"],
        txn_amount=np.round(cols["amt"], 2).clip(0.01),
        txn_credit=cols["credit"],
        txn_channel=cols["ch"],
        txn_category=cols["cat"],
        txn_counterparty=cols["cp"],
        last_customer_txn_day=last,
        ev_customer=c,
        ev_day=days(c, m),
        ev_second=rng.integers(6 * 3600, 24 * 3600, k),  # app use is a daytime habit
        ev_type=rng.choice(len(types), size=k, p=tw / tw.sum()),
        ev_channel=ev_channel,
        ev_target=rng.integers(0, len(dig.targets), k),
    )
    return ev
