"""Why a customer got the offer they got: a verdict per offer and the price's components."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from nextbest.decide.pricing import PriceExplanation

__all__ = ["DecisionExplanation", "OfferVerdict"]

Status = Literal["removed", "survivor", "winner"]


@dataclass(frozen=True)
class OfferVerdict:
    """One offer's fate: removed by ``rule`` (with ``reason`` and the ``inputs`` it read),
    or a survivor with its ``priority``, or the winner."""

    offer_id: str
    status: Status
    rule: str | None = None
    reason: str | None = None
    priority: float | None = None
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DecisionExplanation:
    customer_key: str
    winner: str | None
    method: str
    verdicts: tuple[OfferVerdict, ...]
    price: PriceExplanation | None = None

    def to_json(self) -> dict[str, Any]:
        """As JSON (equal to the generic ``to_jsonable`` of the CLI, built directly)."""
        return {
            "customer_key": self.customer_key,
            "winner": self.winner,
            "method": self.method,
            "verdicts": [
                {
                    "offer_id": v.offer_id,
                    "status": v.status,
                    "rule": v.rule,
                    "reason": v.reason,
                    "priority": v.priority,
                    "inputs": {
                        k: x.isoformat() if isinstance(x, date) else x for k, x in v.inputs.items()
                    },
                }
                for v in self.verdicts
            ],
            "price": None if self.price is None else asdict(self.price),
        }

    def removed_by(self) -> dict[str, str]:
        """Offer id -> the rule that removed it."""
        return {v.offer_id: v.rule for v in self.verdicts if v.rule is not None}

    def lines(self) -> list[str]:
        """Human-readable lines, winner first, then survivors by priority, then removals."""
        out = [f"customer {self.customer_key}: winner {self.winner or 'none'} ({self.method})"]
        ranked = sorted(
            (v for v in self.verdicts if v.status != "removed"),
            key=lambda v: -(v.priority or 0.0),
        )
        out += [f"  {v.status:<8} {v.offer_id}: priority {v.priority:.4f}" for v in ranked]
        out += [
            f"  removed  {v.offer_id}: {v.rule} — {v.reason}"
            for v in self.verdicts
            if v.status == "removed"
        ]
        if self.price is not None:
            p = self.price
            out.append(
                f"  price {p.price} ({p.rule}: base {p.base}, risk {p.risk_premium:.4f}, "
                f"tier {p.tier_adjustment:+.4f}, clipped to [{p.floor}, {p.ceiling}])"
            )
        return out
