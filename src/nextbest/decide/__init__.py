"""Next-best-offer decisioning: offers, policies, rules, arbitration, optimisation, pricing.

The pure core works on a typed customer context (:mod:`nextbest.decide.context`) and on
operational inputs (consents, contact counters, flags) handed in as arrays; the services
layer fills those from the warehouse snapshot and the operational store. See
``docs/decisioning.md``.
"""

from __future__ import annotations

from nextbest.decide.errors import DecisionError

__all__ = ["DecisionError"]
