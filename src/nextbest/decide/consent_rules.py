"""Consent per purpose × channel: an offer needs its purpose's consent on its channel.

The effective state comes from the operational store's consent ledger (latest event wins,
a withdrawal wins a tie) and is read at decision time, so a withdrawal takes effect on the
very next decision. Without any event, the policy's ``consent.absent`` setting decides
(default: marketing denied, service allowed). Service messages bypass marketing caps but
never their own consent.
"""

from __future__ import annotations

import numpy as np

from nextbest.decide.inputs import ABSENT, GRANTED, OperationalInputs
from nextbest.decide.offers import Offer
from nextbest.decide.policies import ConsentSpec

__all__ = ["CONSENT_CODES", "consent_allows"]

CONSENT_CODES = ("consent.marketing", "consent.service")
CONSENT_REASONS = (
    "no marketing consent on the offer's channel (withdrawn or never given)",
    "service consent on the offer's channel withdrawn",
)


def consent_allows(offer: Offer, inputs: OperationalInputs, spec: ConsentSpec) -> np.ndarray:
    """Boolean per customer: may ``offer`` be sent on its channel for its purpose?"""
    state = inputs.consent_state(offer.purpose, offer.channel.value)
    allowed = state == GRANTED
    if spec.absent.get(offer.purpose, "deny") == "allow":
        allowed |= state == ABSENT
    return allowed
