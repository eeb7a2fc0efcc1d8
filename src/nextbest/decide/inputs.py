"""Operational inputs a decision reads from the operational store, as arrays per customer.

The pure core never queries a database: the services layer reads consents, contact
counters, the do-not-disturb list and recent rejections (in bulk for a batch, for one
customer in real time) and hands them over in this shape. The same object is recorded with
each real-time decision so that it can be replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ABSENT", "GRANTED", "WITHDRAWN", "OperationalInputs"]

GRANTED, WITHDRAWN, ABSENT = 1, 0, -1


@dataclass(frozen=True, eq=False)
class OperationalInputs:
    """Per-customer operational state, aligned with the rows of a customer context.

    Attributes
    ----------
    n:
        Number of customers.
    consent:
        ``(purpose, channel)`` -> ``int8`` array: 1 granted, 0 withdrawn, -1 no event
        (the latest event wins; a missing key means "no event" for everybody).
    counts:
        Cap name (``cap_sms_week``, ``cap_all_month``) -> contacts already made in the
        current period (missing: 0).
    do_not_disturb:
        Customers on the do-not-disturb list (no marketing contact).
    cooldown:
        ``product_id`` -> customers who rejected that product within the cool-down.
    """

    n: int
    consent: Mapping[tuple[str, str], np.ndarray] = field(default_factory=dict)
    counts: Mapping[str, np.ndarray] = field(default_factory=dict)
    do_not_disturb: np.ndarray | None = None
    cooldown: Mapping[str, np.ndarray] = field(default_factory=dict)

    def consent_state(self, purpose: str, channel: str) -> np.ndarray:
        state = self.consent.get((purpose, channel))
        return np.full(self.n, ABSENT, np.int8) if state is None else state

    def count(self, cap_name: str) -> np.ndarray:
        value = self.counts.get(cap_name)
        return np.zeros(self.n, np.int64) if value is None else value

    def dnd(self) -> np.ndarray:
        return np.zeros(self.n, bool) if self.do_not_disturb is None else self.do_not_disturb

    def cooling(self, product_id: str) -> np.ndarray:
        value = self.cooldown.get(product_id)
        return np.zeros(self.n, bool) if value is None else value

    def row(self, i: int) -> OperationalInputs:
        return OperationalInputs(
            1,
            {k: v[i : i + 1] for k, v in self.consent.items()},
            {k: v[i : i + 1] for k, v in self.counts.items()},
            None if self.do_not_disturb is None else self.do_not_disturb[i : i + 1],
            {k: v[i : i + 1] for k, v in self.cooldown.items()},
        )

    def to_json(self) -> dict[str, Any]:
        """One customer's inputs as JSON (what a decision record stores)."""
        if self.n != 1:
            raise ValueError("to_json records the inputs of one customer")
        return {
            "consent": {f"{p}:{c}": int(v[0]) for (p, c), v in sorted(self.consent.items())},
            "counts": {k: int(v[0]) for k, v in sorted(self.counts.items())},
            "do_not_disturb": bool(self.dnd()[0]),
            "cooldown": sorted(k for k, v in self.cooldown.items() if v[0]),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OperationalInputs:
        consent = {}
        for key, value in data.get("consent", {}).items():
            purpose, channel = key.split(":", 1)
            consent[(purpose, channel)] = np.array([value], np.int8)
        return cls(
            1,
            consent,
            {k: np.array([v], np.int64) for k, v in data.get("counts", {}).items()},
            np.array([bool(data.get("do_not_disturb", False))]),
            {k: np.array([True]) for k in data.get("cooldown", [])},
        )
