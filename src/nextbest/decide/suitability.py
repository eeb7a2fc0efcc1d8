"""The regulatory floor of suitability, enforced in code whatever the policy YAML says.

The policy's ``suitability`` rules are the configurable statement of the appropriateness
rules; this module is defence in depth: a mistaken or loosened policy still cannot make
the engine offer a product that breaks the regulator's core rules:

* a customer assessed Cn is offered a product of risk Rm only if m <= n;
* investment products only while the risk assessment is unexpired;
* no R4–R5 products to customers aged 65+ or flagged vulnerable;
* no marketing to a customer with an open complaint.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.decide.context import CustomerContext
from nextbest.decide.offers import Offer

__all__ = ["REGULATORY_FLOOR", "regulatory_floor_allows", "regulatory_floor_allows_record"]

REGULATORY_FLOOR = "suitability.regulatory_floor"
SENIOR_AGE = 65


def regulatory_floor_allows(context: CustomerContext, offer: Offer, day: date) -> np.ndarray:
    """Boolean per customer: does ``offer`` respect the regulatory floor?"""
    attrs = context.attributes
    n = attrs.num_rows
    allowed = np.ones(n, bool)
    risk = offer.risk_number
    if risk is not None:
        tolerance = pc.fill_null(attrs["risk_tolerance"], 0).to_numpy()
        allowed &= tolerance >= risk
        if risk >= 4:
            age = pc.fill_null(attrs["age"], 200).to_numpy()
            vulnerable = pc.fill_null(attrs["vulnerable"], True).to_numpy(zero_copy_only=False)
            allowed &= (age < SENIOR_AGE) & ~vulnerable
    if offer.group == "investment":
        expiry = attrs["risk_assessed_until"]
        unexpired = pc.fill_null(pc.greater_equal(expiry, pa.scalar(day, pa.date32())), False)
        allowed &= unexpired.to_numpy(zero_copy_only=False)
    if offer.purpose == "marketing":
        complaint = pc.fill_null(attrs["open_complaint"], True).to_numpy(zero_copy_only=False)
        allowed &= ~complaint
    return allowed


def regulatory_floor_allows_record(record: dict[str, object], offer: Offer, day: date) -> bool:
    """:func:`regulatory_floor_allows` for one customer given as a mapping."""
    risk = offer.risk_number
    if risk is not None:
        tolerance = record.get("risk_tolerance")
        if not isinstance(tolerance, int) or tolerance < risk:
            return False
        if risk >= 4:
            age = record.get("age")
            if (
                not isinstance(age, int)
                or age >= SENIOR_AGE
                or record.get("vulnerable") is not False
            ):
                return False
    if offer.group == "investment":
        expiry = record.get("risk_assessed_until")
        if not isinstance(expiry, date) or expiry < day:
            return False
    return not (offer.purpose == "marketing" and record.get("open_complaint") is not False)
