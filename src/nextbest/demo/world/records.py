"""Customer records with their own history: KYC status, risk assessments, consents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextbest.demo.world.calendar import Window
from nextbest.demo.world.lifecycle import DORMANT, Lifecycle
from nextbest.demo.world.params import WorldParams
from nextbest.demo.world.population import Population
from nextbest.domain.enums import ConsentPurpose, ContactChannel, KycStatus

__all__ = ["CONSENT_SLOTS", "KYC_STATUSES", "Records", "draw_records"]

KYC_STATUSES = tuple(KycStatus)
_VERIFIED, _PENDING, _EXPIRED, _REJECTED = range(4)
# (purpose, channel) combinations a customer can grant
CONSENT_SLOTS: tuple[tuple[ConsentPurpose, ContactChannel], ...] = (
    (ConsentPurpose.MARKETING, ContactChannel.SMS),
    (ConsentPurpose.MARKETING, ContactChannel.EMAIL),
    (ConsentPurpose.MARKETING, ContactChannel.PHONE),
    (ConsentPurpose.MARKETING, ContactChannel.APP_PUSH),
    (ConsentPurpose.MARKETING, ContactChannel.WECHAT),
    (ConsentPurpose.SERVICE, ContactChannel.SMS),
    (ConsentPurpose.PROFILING, ContactChannel.IN_APP),
    (ConsentPurpose.THIRD_PARTY_SHARING, ContactChannel.IN_APP),
)
CONSENT_SOURCES = ("app", "branch", "call", "web")


@dataclass(frozen=True)
class Records:
    kyc_customer: np.ndarray
    kyc_status: np.ndarray  # index into KYC_STATUSES
    kyc_from: np.ndarray
    kyc_to: np.ndarray  # -1 open
    risk_customer: np.ndarray
    risk_level: np.ndarray  # 1..5
    risk_on: np.ndarray
    risk_expires: np.ndarray
    consent_customer: np.ndarray
    consent_slot: np.ndarray  # index into CONSENT_SLOTS
    consent_granted: np.ndarray  # bool (False = withdrawal)
    consent_day: np.ndarray
    consent_second: np.ndarray
    consent_source: np.ndarray  # index into CONSENT_SOURCES


def _kyc(
    params: WorldParams, window: Window, pop: Population, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    n = pop.size
    kp = params.kyc
    start = pop.onboarding_day
    u = rng.random(n)
    pending = u < kp.pending_share
    rejected = u < kp.rejected_share
    first_end = start + rng.integers(1, 12, n)
    years = window.months / 12
    expires = rng.random(n) < kp.expire_share_per_year * years
    exp_day = window.first_day + (rng.random(n) * (window.end_day - window.first_day)).astype(
        np.int64
    )
    exp_day = np.maximum(exp_day, first_end + 30)
    renew_day = exp_day + rng.integers(10, 120, n)
    expires &= exp_day <= window.end_day
    # rows: [pending|rejected], verified, [expired, verified again]
    cust, status, frm, to = [], [], [], []
    sel = np.flatnonzero(pending)
    cust.append(sel)
    status.append(np.where(rejected[sel], _REJECTED, _PENDING))
    frm.append(start[sel])
    to.append(first_end[sel])
    v_from = np.where(pending, first_end, start)
    cust.append(np.arange(n))
    status.append(np.full(n, _VERIFIED))
    frm.append(v_from)
    to.append(np.where(expires, exp_day, -1))
    sel = np.flatnonzero(expires)
    cust.append(sel)
    status.append(np.full(len(sel), _EXPIRED))
    frm.append(exp_day[sel])
    renewed = renew_day[sel] <= window.end_day
    to.append(np.where(renewed, renew_day[sel], -1))
    sel2 = sel[renewed]
    cust.append(sel2)
    status.append(np.full(len(sel2), _VERIFIED))
    frm.append(renew_day[sel2])
    to.append(np.full(len(sel2), -1))
    cat = [np.concatenate(x) for x in (cust, status, frm, to)]
    order = np.lexsort((cat[2], cat[0]))
    return tuple(a[order] for a in cat)


def _risk(
    params: WorldParams, window: Window, pop: Population, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    rp = params.risk_assessment
    n = pop.size
    first = np.where(
        pop.onboarding_day >= window.first_day - rp.valid_days,
        pop.onboarding_day,
        window.first_day - rng.integers(1, rp.valid_days, n),
    )
    level = pop.risk_tolerance.astype(float)
    day = first
    cust, lv, on = [], [], []
    slots = int(np.ceil(window.months / 12)) + 2
    for _ in range(slots):  # a few yearly slots, each vectorised over customers
        live = day <= window.end_day
        cust.append(np.flatnonzero(live))
        lv.append(np.clip(np.rint(level[live]), 1, 5))
        on.append(day[live])
        renewed = rng.random(n) < rp.renew_share
        nxt = np.where(
            renewed,
            day + rp.valid_days - rng.integers(0, 30, n),
            day + rp.valid_days + rng.integers(rp.relapse_days[0], rp.relapse_days[1], n),
        )
        level = level + rng.normal(0, rp.drift_sd, n)
        day = nxt
    c, lvl, o = (np.concatenate(x) for x in (cust, lv, on))
    order = np.lexsort((o, c))
    return c[order], lvl[order].astype(np.int8), o[order], o[order] + rp.valid_days


def _consents(
    params: WorldParams, window: Window, pop: Population, life: Lifecycle, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    cp = params.consent
    n, s = pop.size, len(CONSENT_SLOTS)
    purpose_p = np.array([cp.grant[p.value] for p, _ in CONSENT_SLOTS])
    marketing_ok = rng.random(n) < cp.grant["marketing"]
    per_slot = rng.random((n, s)) < np.where(
        [p is ConsentPurpose.MARKETING for p, _ in CONSENT_SLOTS], 0.85, purpose_p
    )
    is_marketing = np.array([p is ConsentPurpose.MARKETING for p, _ in CONSENT_SLOTS])
    granted = per_slot & (marketing_ok[:, None] | ~is_marketing[None, :])
    gc, gs = np.nonzero(granted)
    g_day = pop.onboarding_day[gc]
    dormant_months = (life.state == DORMANT).sum(axis=1)
    rate = 1 - (1 - cp.withdraw_per_month) ** (
        window.months + (cp.withdraw_dormant_factor - 1) * dormant_months
    )
    withdraw = rng.random(len(gc)) < rate[gc]
    w_day = np.maximum(window.first_day, g_day + 1) + (
        rng.random(len(gc))
        * np.maximum(window.end_day - np.maximum(window.first_day, g_day + 1), 0)
    ).astype(np.int64)
    withdraw &= w_day <= window.end_day
    wc, ws, wd = gc[withdraw], gs[withdraw], w_day[withdraw]
    c = np.concatenate([gc, wc])
    slot = np.concatenate([gs, ws])
    granted_flag = np.concatenate([np.ones(len(gc), bool), np.zeros(len(wc), bool)])
    day = np.concatenate([g_day, wd])
    order = np.lexsort((day, slot, c))
    k = len(c)
    return (
        c[order],
        slot[order],
        granted_flag[order],
        day[order],
        rng.integers(8 * 3600, 21 * 3600, k),
        rng.integers(0, len(CONSENT_SOURCES), k),
    )


def draw_records(
    params: WorldParams, window: Window, pop: Population, life: Lifecycle, rng: np.random.Generator
) -> Records:
    kc, ks, kf, kt = _kyc(params, window, pop, rng)
    rc, rl, ro, rx = _risk(params, window, pop, rng)
    cc, cs, cg, cd, csec, csrc = _consents(params, window, pop, life, rng)
    return Records(kc, ks, kf, kt, rc, rl, ro, rx, cc, cs, cg, cd, csec, csrc)
