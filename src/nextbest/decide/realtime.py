"""The real-time rule path: the engine's per-customer rules compiled to plain Python.

:meth:`DecisionEngine.decide_row` runs the batch rule functions on one-row NumPy arrays,
which costs milliseconds per call in array set-up. :class:`CompiledRules` is built once per
engine and walks, for each offer, a precomputed list of checks over plain Python values
(:class:`LiveInputs`), in exactly the order of :meth:`DecisionEngine.apply_operational`
and with the same priority arithmetic, so its codes, priorities and winner equal
``decide_row``'s (tested against it); replay still runs ``decide_row``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from nextbest.decide.consent_rules import ABSENT, GRANTED
from nextbest.decide.contact_policy import applicable_caps
from nextbest.decide.explanation import DecisionExplanation, OfferVerdict
from nextbest.decide.inputs import OperationalInputs
from nextbest.decide.pricing import explain_price

if TYPE_CHECKING:
    from nextbest.decide.engine import DecisionEngine

__all__ = ["CompiledRules", "LiveInputs", "RowOutcome"]


@dataclass(frozen=True, slots=True)
class LiveInputs:
    """One customer's operational inputs as plain values (what real time reads).

    ``consent`` maps ``(purpose, channel)`` to 1 granted / 0 withdrawn (absent: no event);
    ``counts`` maps a cap name to contacts already made in the current period.
    """

    consent: Mapping[tuple[str, str], int]
    counts: Mapping[str, int]
    dnd: bool
    cooling: frozenset[str]

    def to_operational(
        self, consent_keys: Sequence[tuple[str, str]], cap_names: Sequence[str]
    ) -> OperationalInputs:
        """The same inputs as a one-row :class:`OperationalInputs` (for ``decide_row``)."""
        return OperationalInputs(
            1,
            {k: np.array([self.consent.get(k, ABSENT)], np.int8) for k in consent_keys},
            {c: np.array([self.counts.get(c, 0)], np.int64) for c in cap_names},
            np.array([self.dnd]),
            {p: np.array([True]) for p in sorted(self.cooling)},
        )

    def to_json(
        self, consent_keys: Sequence[tuple[str, str]], cap_names: Sequence[str]
    ) -> dict[str, Any]:
        """Equal to ``to_operational(...).to_json()`` (what a decision record stores)."""
        return {
            "consent": {f"{p}:{c}": self.consent.get((p, c), ABSENT) for p, c in consent_keys},
            "counts": {c: self.counts.get(c, 0) for c in cap_names},
            "do_not_disturb": self.dnd,
            "cooldown": sorted(self.cooling),
        }


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """Codes per offer (0 = winner or survivor before arbitration codes), priorities, winner."""

    codes: list[int]
    priority: list[float]
    winner: int


@dataclass(frozen=True, slots=True)
class _OfferPlan:
    marketing: bool
    control: int  # legend position of the offer's control group, 0 if none
    consent_key: tuple[str, str]
    consent_absent_ok: bool
    quiet: bool
    product: str
    caps: tuple[tuple[str, int, int], ...]  # (cap name, max, legend position)


class CompiledRules:
    """Per-offer rule plans of one engine (policy × catalogue), evaluated in plain Python."""

    def __init__(self, engine: DecisionEngine) -> None:
        from nextbest.decide.engine import HOLDOUT, LOWER_PRIORITY, MIN_PRIORITY

        self.engine = engine
        spec = engine.policy.spec
        pos = engine.position
        self.catalogue = engine.catalogue
        self.levers = [float(o.lever) for o in engine.catalogue]
        self.holdout_code = pos[HOLDOUT]
        self.dnd_code = pos["contact.do_not_disturb"]
        self.quiet_code = pos["contact.quiet_hours"]
        self.cool_code = pos["contact.cooldown"]
        self.min_code = pos[MIN_PRIORITY]
        self.lower_code = pos[LOWER_PRIORITY]
        self.consent_codes = {p: pos[f"consent.{p}"] for p in ("marketing", "service")}
        self.min_priority = float(spec.arbitration.min_priority)
        self.use_dnd = spec.contact.do_not_disturb
        self.use_cooldown = spec.contact.cooldown_days_after_reject > 0
        self.quiet_hours = spec.contact.quiet_hours
        self.control_campaigns = tuple(c.campaign for c in spec.control_groups)
        channels = sorted({o.channel.value for o in engine.catalogue})
        self.consent_keys = tuple((p, c) for p in ("marketing", "service") for c in channels)
        self.cap_names = tuple(c.name for c in spec.contact.caps)
        plans = []
        for offer in engine.catalogue:
            marketing = offer.purpose == "marketing"
            control = 0
            if marketing and offer.campaign_id in self.control_campaigns:
                control = pos[f"control.{offer.campaign_id}"]
            plans.append(
                _OfferPlan(
                    marketing,
                    control,
                    (offer.purpose, offer.channel.value),
                    spec.consent.absent.get(offer.purpose, "deny") == "allow",
                    self.quiet_hours is not None and offer.channel in self.quiet_hours.channels,
                    offer.product_id,
                    tuple(
                        (c.name, int(c.max), pos[f"contact.{c.name}"])
                        for c in applicable_caps(offer, spec.contact)
                    ),
                )
            )
        self.plans = tuple(plans)
        # explanation: the columns each static rule reads, per code
        self._rule_columns = {r.code: tuple(sorted(r.expr.columns)) for r in engine.policy.rules}
        self._offer_rows = [
            {
                **offer.attributes(),
                "holds_offer_family": f"holds_{offer.product_family.value}",
            }
            for offer in engine.catalogue
        ]
        self._weights: dict[tuple[tuple[str, str], ...], list[float]] = {}

    def weighted_levers(self, request: Mapping[str, str] | None) -> list[float]:
        """lever × context weight per offer (cached per distinct request)."""
        key = tuple(sorted((request or {}).items()))
        found = self._weights.get(key)
        if found is None:
            from nextbest.decide.arbitration import context_weights

            weights = context_weights(
                self.catalogue, self.engine.policy.spec.arbitration, dict(request or {})
            )
            levers = np.array([o.lever for o in self.catalogue]) * weights
            found = [float(x) for x in levers]
            if len(self._weights) < 256:
                self._weights[key] = found
        return found

    def evaluate(
        self,
        static: Sequence[int],
        base: Sequence[float],
        in_holdout: bool,
        in_control: Mapping[str, bool],
        inputs: LiveInputs,
        local: datetime,
        levers: Sequence[float],
        excluded: Mapping[int, str] | None = None,
    ) -> RowOutcome:
        """Codes, priorities and winner for one customer.

        ``static`` are the snapshot's eligibility/suitability codes, ``base`` is propensity
        × value per offer, ``local`` the decision time in bank time.
        """
        position = self.engine.position
        quiet_now = self.quiet_hours is not None and self.quiet_hours.contains(local.time())
        consent = inputs.consent
        counts = inputs.counts
        codes = list(static)
        for j, plan in enumerate(self.plans):
            if codes[j]:
                continue
            code = 0
            if plan.marketing:
                if in_holdout:
                    code = self.holdout_code
                elif plan.control and in_control.get(self.catalogue.offers[j].campaign_id, False):
                    code = plan.control
            if not code:
                state = consent.get(plan.consent_key, ABSENT)
                if not (state == GRANTED or (plan.consent_absent_ok and state == ABSENT)):
                    code = self.consent_codes[plan.consent_key[0]]
            if not code and plan.marketing and self.use_dnd and inputs.dnd:
                code = self.dnd_code
            if not code and plan.quiet and quiet_now:
                code = self.quiet_code
            if not code and plan.marketing and self.use_cooldown and plan.product in inputs.cooling:
                code = self.cool_code
            if not code:
                for name, limit, cap_code in plan.caps:
                    if counts.get(name, 0) + 1 > limit:
                        code = cap_code
                        break
            codes[j] = code
        for j, rule in (excluded or {}).items():
            if codes[j] == 0:
                codes[j] = position[rule]
        priority = [b * w for b, w in zip(base, levers, strict=True)]
        best, top = -1, -np.inf
        for j, code in enumerate(codes):
            if code == 0 and priority[j] > top:
                best, top = j, priority[j]
        winner = best if best >= 0 and top > self.min_priority else -1
        for j, code in enumerate(codes):
            if code == 0 and j != winner:
                codes[j] = self.min_code if priority[j] <= self.min_priority else self.lower_code
        return RowOutcome(codes, priority, winner)

    def explain(
        self,
        customer_key: str,
        record: Mapping[str, Any],
        outcome: RowOutcome,
        value: Sequence[float],
    ) -> DecisionExplanation:
        """The same explanation :meth:`DecisionEngine.decide_row` gives (with the price)."""
        legend = self.engine.legend
        verdicts = []
        winner = outcome.winner
        lower = self.lower_code
        for j, offer in enumerate(self.catalogue):
            code = outcome.codes[j]
            if j == winner:
                verdicts.append(
                    OfferVerdict(offer.offer_id, "winner", priority=outcome.priority[j])
                )
                continue
            rule, reason = legend.describe(code)
            if code == lower:
                verdicts.append(
                    OfferVerdict(offer.offer_id, "survivor", rule, reason, outcome.priority[j])
                )
                continue
            columns = self._rule_columns.get(rule)
            inputs: dict[str, Any] = {}
            if columns is not None:
                row = self._offer_rows[j]
                for c in columns:  # offer attributes shadow customer ones, as in inputs_of
                    if c == "holds_offer_family":
                        inputs[c] = record.get(row[c])
                    elif c in row:
                        inputs[c] = row[c]
                    else:
                        inputs[c] = record.get(c)
            verdicts.append(OfferVerdict(offer.offer_id, "removed", rule, reason, None, inputs))
        price = None
        if winner >= 0:
            offer = self.catalogue.offers[winner]
            if offer.price is not None:
                rule_spec = self.engine.policy.pricing_rule(offer.price.rule)
                price = explain_price(rule_spec, record.get("pd"), record.get("aum"), value[winner])
        won = None if winner < 0 else self.catalogue.offers[winner].offer_id
        return DecisionExplanation(customer_key, won, "arbitration", tuple(verdicts), price)
