"""Contact policy: caps per channel and period, cool-down, quiet hours, do-not-disturb.

Marketing offers are subject to everything; service messages bypass the marketing caps,
the cool-down and the do-not-disturb list, but not quiet hours (a 22:00 phone call is as
unwelcome for a card expiry as for a fund) and not their consent
(:mod:`nextbest.decide.consent_rules`). Periods are calendar periods in bank time: a day,
an ISO week starting Monday, a calendar month.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import numpy as np

from nextbest.decide.inputs import OperationalInputs
from nextbest.decide.offers import Offer
from nextbest.decide.policies import CapSpec, ContactSpec

__all__ = ["applicable_caps", "contact_checks", "contact_codes", "period_start"]


def period_start(period: str, local: datetime) -> date:
    """First day (bank time) of the ``day``/``week``/``month`` containing ``local``."""
    day = local.date()
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def applicable_caps(offer: Offer, spec: ContactSpec) -> tuple[CapSpec, ...]:
    """The caps an offer counts against (none for service messages)."""
    if offer.purpose != "marketing":
        return ()
    return tuple(c for c in spec.caps if c.channel in ("all", offer.channel))


def contact_checks(
    offer: Offer, inputs: OperationalInputs, spec: ContactSpec, local: datetime
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(rule code, allowed per customer)`` for each contact rule, in order.

    ``local`` is the decision (or planned send) time in bank time.
    """
    marketing = offer.purpose == "marketing"
    if marketing and spec.do_not_disturb:
        yield "contact.do_not_disturb", ~inputs.dnd()
    quiet = spec.quiet_hours
    if quiet is not None and offer.channel in quiet.channels:
        inside = quiet.contains(local.time())
        yield "contact.quiet_hours", np.full(inputs.n, not inside)
    if marketing and spec.cooldown_days_after_reject > 0:
        yield "contact.cooldown", ~inputs.cooling(offer.product_id)
    for cap in applicable_caps(offer, spec):
        yield f"contact.{cap.name}", inputs.count(cap.name) + 1 <= cap.max


def contact_codes(spec: ContactSpec) -> list[tuple[str, str]]:
    """Every contact rule code with its reason, in evaluation order."""
    codes = [
        ("contact.do_not_disturb", "customer is on the do-not-disturb list"),
        ("contact.quiet_hours", "quiet hours for this channel (bank time)"),
        ("contact.cooldown", "customer rejected this product within the cool-down period"),
    ]
    codes += [
        (f"contact.{c.name}", f"at most {c.max} marketing contacts per {c.period} on {c.scope}")
        for c in spec.caps
    ]
    return codes
