"""A naive, independent statement of the default policy, for checking the engine.

Written from the issue's wording, not from the engine's code: plain ifs per customer and
offer. The engine must allow exactly the offers this allows.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

CREDIT = {"credit_card", "consumer_loan", "mortgage", "car_loan"}
INVESTMENT = {"wealth_management", "fund", "insurance", "precious_metal"}
WEEKLY_CAPS = {"sms": 1, "email": 1, "phone": 1, "app_push": 2}
MONTHLY_CAP = 3
PD_THRESHOLD = 0.08


def allowed(
    customer: dict[str, Any],
    offer: dict[str, Any],
    ops: dict[str, Any],
    local: datetime,
    in_holdout: bool,
    in_control: bool,
) -> bool:
    """May ``offer`` be made to ``customer`` at bank time ``local``?"""
    today: date = local.date()
    marketing = offer["purpose"] == "marketing"
    family = offer["family"]
    risk = offer["risk"]  # 1..5 or None
    # eligibility
    if customer["age"] is None or customer["age"] < 18:
        return False
    if customer["kyc_status"] != "verified":
        return False
    if marketing and customer[f"holds_{family}"] is not False:
        return False
    if customer["aum"] is None or customer["aum"] < offer["min_aum"]:
        return False
    if offer["regions"] and customer["region"] not in offer["regions"]:
        return False
    # suitability
    if marketing and customer["open_complaint"] is not False:
        return False
    if family in INVESTMENT:
        expiry = customer["risk_assessed_until"]
        if expiry is None or expiry < today:
            return False
    if risk is not None:
        level = customer["risk_level"]
        if level is None or int(level[1]) < risk:
            return False
        if risk >= 4 and (customer["age"] >= 65 or customer["vulnerable"] is not False):
            return False
    if marketing and family in CREDIT and (customer["pd"] is None or customer["pd"] > PD_THRESHOLD):
        return False
    # holdout and control groups
    if marketing and (in_holdout or in_control):
        return False
    # consent
    state = ops["consent"].get((offer["purpose"], offer["channel"]), -1)
    if state == 0 or (state == -1 and marketing):
        return False
    # contact policy
    if offer["channel"] in ("phone", "sms"):
        clock = local.time()
        if clock >= time(21, 0) or clock < time(8, 0):
            return False
    if marketing:
        if ops["dnd"]:
            return False
        if offer["product"] in ops["cooldown"]:
            return False
        weekly = WEEKLY_CAPS.get(offer["channel"])
        if weekly is not None and ops["counts"].get(f"cap_{offer['channel']}_week", 0) >= weekly:
            return False
        if ops["counts"].get("cap_all_month", 0) >= MONTHLY_CAP:
            return False
    return True
