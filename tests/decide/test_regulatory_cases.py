"""Named regulatory cases: each must be removed by the rule that names it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from nextbest.decide.context import HOLDING_COLUMNS, synthetic_context
from nextbest.decide.inputs import OperationalInputs
from tests.decide.conftest import default_catalogue, default_engine, default_policy, offer_facts
from tests.decide.reference import allowed

BANK = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 6, 1, 12, 0, tzinfo=BANK)
# A customer with no holdout/control draw problems ("key0000" is in neither group).
BASE: dict[str, Any] = {
    "customer_key": "aaaaaaaa", "age": 40, "kyc_status": "verified", "risk_level": "C5",
    "risk_assessed_until": date(2027, 1, 1), "aum": 1_000_000.0, "region": "east",
    "pd": 0.01, "vulnerable": False, "open_complaint": False,
    **dict.fromkeys(HOLDING_COLUMNS, False),
}  # fmt: skip
GRANTED_ALL = {("marketing", c): 1 for c in ["sms", "email", "phone", "in_app", "app_push"]}


def decide(customer: dict[str, Any], consent=None, counts=None, dnd=False, cooldown=(), at=NOON):  # type: ignore[no-untyped-def]
    engine = default_engine()
    record = {**customer, "risk_tolerance": None if customer["risk_level"] is None
              else int(customer["risk_level"][1])}  # fmt: skip
    inputs = OperationalInputs(
        1,
        {k: np.array([v], np.int8) for k, v in (consent or GRANTED_ALL).items()},
        {k: np.array([v]) for k, v in (counts or {}).items()},
        np.array([dnd]),
        {p: np.array([True]) for p in cooldown},
    )
    m = len(default_catalogue())
    static = engine.static_codes_record(record, at.date())
    return engine.decide_row(
        customer["customer_key"], record, static, np.full(m, 0.1), np.full(m, 100.0), inputs, at
    ).explanation.removed_by()


def test_base_customer_is_in_no_group() -> None:
    removed = decide(BASE)
    assert not any(r.startswith(("holdout", "control")) for r in removed.values())


CASES = [
    ("C3 and R4", {"risk_level": "C3"}, {}, "fund_r4_phone", "suitability.risk_level_match"),
    ("C3 and R3 allowed", {"risk_level": "C3"}, {}, "wm_r3_email", None),
    ("expired assessment", {"risk_assessed_until": date(2026, 5, 31)}, {}, "wm_r2_app",
     "suitability.assessment_unexpired"),
    ("no assessment", {"risk_level": None, "risk_assessed_until": None}, {}, "ins_r3_phone",
     "suitability.assessment_unexpired"),
    ("70-year-old and R5", {"age": 70}, {}, "fund_r5_app", "suitability.senior_high_risk"),
    ("vulnerable and R4", {"vulnerable": True}, {}, "gold_r4_app",
     "suitability.vulnerable_high_risk"),
    ("PD above threshold", {"pd": 0.09}, {}, "loan_email", "suitability.credit_pd_threshold"),
    ("unknown PD", {"pd": None}, {}, "cc_app", "suitability.credit_pd_threshold"),
    ("open complaint", {"open_complaint": True}, {}, "td_app", "suitability.open_complaint_pause"),
    ("minor", {"age": 17}, {}, "td_app", "eligibility.adult"),
    ("KYC pending", {"kyc_status": "pending"}, {}, "td_app", "eligibility.kyc_verified"),
    ("already holds", {"holds_fund": True}, {}, "fund_r5_app", "eligibility.not_already_holding"),
    ("AUM too low", {"aum": 10_000.0}, {}, "cd_phone", "eligibility.minimum_aum"),
    ("wrong region", {"region": "south"}, {}, "car_sms", "eligibility.region"),
    ("withdrawn SMS consent", {}, {"consent": {**GRANTED_ALL, ("marketing", "sms"): 0}},
     "td_sms", "consent.marketing"),
    ("never consented to e-mail", {}, {"consent": {("marketing", "sms"): 1}}, "loan_email",
     "consent.marketing"),
    ("service consent withdrawn", {}, {"consent": {("service", "sms"): 0}}, "svc_card_expiry",
     "consent.service"),
    ("quiet hours at 21:30", {}, {"at": NOON.replace(hour=21, minute=30)}, "td_sms",
     "contact.quiet_hours"),
    ("quiet hours at 07:59 by phone", {}, {"at": NOON.replace(hour=7, minute=59)},
     "loan_phone", "contact.quiet_hours"),
    ("in-app at 21:30 is fine", {}, {"at": NOON.replace(hour=21, minute=30)}, "td_app", None),
    ("weekly SMS cap", {}, {"counts": {"cap_sms_week": 1}}, "td_sms", "contact.cap_sms_week"),
    ("monthly cap", {}, {"counts": {"cap_all_month": 3}}, "wm_r2_app", "contact.cap_all_month"),
    ("service bypasses caps", {}, {"counts": {"cap_all_month": 3, "cap_sms_week": 5}},
     "svc_card_expiry", None),
    ("do not disturb", {}, {"dnd": True}, "loan_phone", "contact.do_not_disturb"),
    ("service ignores DND", {}, {"dnd": True}, "svc_card_expiry", None),
    ("cool-down after reject", {}, {"cooldown": ["loan_personal"]}, "loan_email",
     "contact.cooldown"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "change", "ops", "offer", "rule"), CASES, ids=[c[0] for c in CASES]
)
def test_named_case(name: str, change: dict, ops: dict, offer: str, rule: str | None) -> None:  # type: ignore[type-arg]
    removed = decide({**BASE, **change}, **ops)
    if rule is None:
        assert removed.get(offer) in (None, "arbitration.lower_priority")
    else:
        assert removed[offer] == rule


def test_holdout_and_control_are_respected_and_deterministic() -> None:
    engine, policy = default_engine(), default_policy()
    n = 20_000
    context = synthetic_context(n, default_catalogue().ids, seed=5)
    inputs = OperationalInputs(n, {k: np.ones(n, np.int8) for k in GRANTED_ALL})
    from nextbest.decide.assignment import key_hashes

    hashes = key_hashes(context.customer_keys)
    zero = np.zeros((n, len(default_catalogue())), np.int16)
    codes = engine.apply_operational(zero, hashes, inputs, NOON)
    again = engine.apply_operational(zero, hashes, inputs, NOON)
    assert (codes == again).all()
    holdout = engine.position["holdout.bank"]
    in_holdout = (codes == holdout).any(axis=1)
    assert abs(in_holdout.mean() - policy.spec.holdout.fraction) < 0.01
    for j, offer in enumerate(default_catalogue()):
        if offer.purpose == "marketing":
            assert (codes[in_holdout, j] == holdout).all()
        else:
            assert not (codes[:, j] == holdout).any()
    wealth = [j for j, o in enumerate(default_catalogue()) if o.campaign_id == "wealth"]
    control = codes[:, wealth[0]] == engine.position["control.wealth"]
    assert 0.08 < control.sum() / (~in_holdout).sum() < 0.12
    assert (codes[control][:, wealth] == engine.position["control.wealth"]).all()


def test_bulk_path_matches_reference_on_random_customers() -> None:
    """The DuckDB bulk path (what batches use) against the reference, 5,000 customers."""
    engine = default_engine()
    n = 5_000
    context = synthetic_context(n, default_catalogue().ids, seed=21, as_of=date(2026, 6, 1))
    rng = np.random.default_rng(2)
    consent = {k: rng.choice(np.array([1, 0, -1], np.int8), n) for k in GRANTED_ALL}
    counts = {"cap_sms_week": rng.integers(0, 2, n), "cap_all_month": rng.integers(0, 4, n)}
    dnd = rng.random(n) < 0.1
    inputs = OperationalInputs(n, consent, counts, dnd)
    from nextbest.decide.assignment import key_hashes, unit_draws

    hashes = key_hashes(context.customer_keys)
    codes = engine.apply_operational(
        engine.static_codes(context, NOON.date()), hashes, inputs, NOON
    )
    spec = default_policy().spec
    holdout = unit_draws(hashes, spec.holdout.seed) < spec.holdout.fraction
    controls = {c.campaign: unit_draws(hashes, c.seed) < c.fraction for c in spec.control_groups}
    facts = offer_facts(default_catalogue())
    for i in range(n):
        customer = context.record(i)
        ops = {
            "consent": {k: int(v[i]) for k, v in consent.items()},
            "counts": {k: int(v[i]) for k, v in counts.items()},
            "dnd": bool(dnd[i]),
            "cooldown": set(),
        }
        expected = [
            allowed(customer, o, ops, NOON, bool(holdout[i]),
                    bool(controls[o["campaign"]][i]) if o["campaign"] in controls else False)
            for o in facts
        ]  # fmt: skip
        assert (codes[i] == 0).tolist() == expected, (i, customer)


def test_time_window_is_local() -> None:
    assert decide(BASE, at=NOON + timedelta(hours=10)).get("td_sms") == "contact.quiet_hours"
