"""Decision policies: one YAML document, validated on load, rules in the expression language.

A policy has sections ``eligibility`` and ``suitability`` (lists of named rules: an
``applies_to`` offer selector and a ``require`` expression that must be *true* for the
offer to survive; null fails), ``consent``, ``contact`` (caps, cool-down, quiet hours,
do-not-disturb), ``holdout`` and ``control_groups``, ``arbitration``, ``pricing`` and
``optimisation``. Rules may reference customer attributes
(:data:`nextbest.decide.context.ATTRIBUTE_TYPES`), the offer's ``offer_*`` attributes,
``holds_offer_family`` (whether the customer holds the offered product family) and
``decision_date``. Every expression is parsed and type-checked on load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nextbest.decide.context import ATTRIBUTE_TYPES
from nextbest.decide.errors import DecisionError
from nextbest.decide.offers import OFFER_ATTRIBUTE_TYPES, Offer
from nextbest.domain.enums import ContactChannel, ProductFamily, ProductRisk
from nextbest.expr import Expr, ExpressionError, parse, validate

__all__ = [
    "RULE_COLUMN_TYPES",
    "ArbitrationSpec",
    "CapSpec",
    "CompiledRule",
    "ConsentSpec",
    "ContactSpec",
    "ContextWeight",
    "ControlGroupSpec",
    "DecisionPolicy",
    "HoldoutSpec",
    "OfferSelector",
    "OptimisationSpec",
    "PricingRuleSpec",
    "QuietHours",
    "RuleSpec",
    "load_policy",
    "parse_policy",
]

RULE_COLUMN_TYPES: dict[str, str] = {
    **ATTRIBUTE_TYPES,
    **OFFER_ATTRIBUTE_TYPES,
    "holds_offer_family": "bool",
    "decision_date": "date",
}

Group = Literal["investment", "credit", "deposit", "other"]
Period = Literal["day", "week", "month"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OfferSelector(_Model):
    """Which offers a rule applies to; every given criterion must match (empty: all)."""

    groups: tuple[Group, ...] = ()
    families: tuple[ProductFamily, ...] = ()
    risk_levels: tuple[ProductRisk, ...] = ()
    purposes: tuple[Literal["marketing", "service"], ...] = ()
    channels: tuple[ContactChannel, ...] = ()
    offers: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()

    def matches(self, offer: Offer) -> bool:
        checks = (
            (self.groups, offer.group),
            (self.families, offer.product_family),
            (self.risk_levels, offer.product_risk),
            (self.purposes, offer.purpose),
            (self.channels, offer.channel),
            (self.offers, offer.offer_id),
            (self.campaigns, offer.campaign_id),
        )
        return all(not allowed or value in allowed for allowed, value in checks)


class RuleSpec(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    reason: str
    require: str
    applies_to: OfferSelector = OfferSelector()


class ConsentSpec(_Model):
    """What to assume for a (purpose, channel) without any consent event."""

    absent: dict[Literal["marketing", "service"], Literal["allow", "deny"]] = {
        "marketing": "deny",
        "service": "allow",
    }


class CapSpec(_Model):
    channel: ContactChannel | Literal["all"]
    period: Period
    max: int = Field(ge=0)

    @property
    def scope(self) -> str:
        return f"{self.channel if isinstance(self.channel, str) else self.channel.value}"

    @property
    def name(self) -> str:
        return f"cap_{self.scope}_{self.period}"


class QuietHours(_Model):
    start: time = time(21, 0)
    end: time = time(8, 0)
    channels: tuple[ContactChannel, ...] = (ContactChannel.PHONE, ContactChannel.SMS)

    def contains(self, at: time) -> bool:
        """Whether a bank-time clock reading falls in the quiet period (may span midnight)."""
        if self.start <= self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end


class ContactSpec(_Model):
    caps: tuple[CapSpec, ...] = ()
    cooldown_days_after_reject: int = Field(default=30, ge=0)
    quiet_hours: QuietHours | None = QuietHours()
    do_not_disturb: bool = True


class HoldoutSpec(_Model):
    fraction: float = Field(default=0.05, ge=0, lt=1)
    seed: str = "holdout-v1"


class ControlGroupSpec(_Model):
    campaign: str
    fraction: float = Field(ge=0, lt=1)
    seed: str = "control-v1"


class ContextWeight(_Model):
    """Multiply the priority of offers on ``channels`` when context ``key`` equals ``equals``."""

    key: str
    equals: str
    channels: tuple[ContactChannel, ...] = ()
    weight: float = Field(gt=0)


class ArbitrationSpec(_Model):
    min_priority: float = 0.0
    context_weights: tuple[ContextWeight, ...] = ()


class PricingRuleSpec(_Model):
    """``loan_rate``: base + pd_slope × PD − tier discount; ``deposit_bonus``: base + tier bonus.

    ``tiers`` map a minimum value (AUM for deposits, offer value for loans) to a discount
    (loans) or bonus (deposits), in percentage points; the price is clipped to
    [floor, ceiling].
    """

    name: str
    kind: Literal["loan_rate", "deposit_bonus"]
    base: float
    pd_slope: float = 0.0
    tiers: tuple[tuple[float, float], ...] = ()
    floor: float
    ceiling: float

    @field_validator("tiers")
    @classmethod
    def _sorted(cls, tiers: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        if list(tiers) != sorted(tiers):
            raise ValueError("tiers must be sorted by their minimum")
        return tiers


class OptimisationSpec(_Model):
    """Constraints of the global optimisation (absent entries are unconstrained)."""

    budgets: dict[str, float] = {}
    channel_capacity: dict[ContactChannel, int] = {}
    product_max_volume: dict[str, int] = {}


class _PolicyFile(_Model):
    name: str
    eligibility: tuple[RuleSpec, ...] = ()
    suitability: tuple[RuleSpec, ...] = ()
    consent: ConsentSpec = ConsentSpec()
    contact: ContactSpec = ContactSpec()
    holdout: HoldoutSpec = HoldoutSpec()
    control_groups: tuple[ControlGroupSpec, ...] = ()
    arbitration: ArbitrationSpec = ArbitrationSpec()
    pricing: tuple[PricingRuleSpec, ...] = ()
    optimisation: OptimisationSpec = OptimisationSpec()


@dataclass(frozen=True, eq=False)
class CompiledRule:
    stage: str
    name: str
    reason: str
    expr: Expr
    selector: OfferSelector

    @property
    def code(self) -> str:
        return f"{self.stage}.{self.name}"


class DecisionPolicy:
    """A validated policy; ``version`` is the SHA-256 prefix of its canonical body."""

    def __init__(self, spec: _PolicyFile, rules: tuple[CompiledRule, ...]) -> None:
        self.spec = spec
        self.rules = rules

    @property
    def name(self) -> str:
        return self.spec.name

    def body(self) -> dict[str, Any]:
        return self.spec.model_dump(mode="json")

    @property
    def version(self) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(canonical).hexdigest()[:16]

    def pricing_rule(self, name: str) -> PricingRuleSpec:
        for rule in self.spec.pricing:
            if rule.name == name:
                return rule
        raise DecisionError(f"policy {self.name!r}: no pricing rule {name!r}")

    def control_group(self, campaign: str) -> ControlGroupSpec | None:
        return next((c for c in self.spec.control_groups if c.campaign == campaign), None)


def _compile_rules(spec: _PolicyFile, source: str) -> tuple[CompiledRule, ...]:
    compiled = []
    seen: set[str] = set()
    for stage in ("eligibility", "suitability"):
        for rule in getattr(spec, stage):
            where = f"{source}: {stage} rule {rule.name!r}"
            if f"{stage}.{rule.name}" in seen:
                raise DecisionError(f"{where}: defined twice")
            seen.add(f"{stage}.{rule.name}")
            try:
                expr = parse(rule.require)
                result = validate(expr, RULE_COLUMN_TYPES)
            except ExpressionError as exc:
                raise DecisionError(f"{where}: {exc}") from None
            if result not in ("bool", "null"):
                raise DecisionError(f"{where}: `require` must be true/false, got {result}")
            compiled.append(CompiledRule(stage, rule.name, rule.reason, expr, rule.applies_to))
    return tuple(compiled)


def parse_policy(data: Mapping[str, Any], source: str = "<policy>") -> DecisionPolicy:
    """Validate a policy mapping; errors name the source, section, rule and problem."""
    try:
        spec = _PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise DecisionError(f"{source}: invalid policy: {problems}") from None
    names = [p.name for p in spec.pricing]
    if len(set(names)) != len(names):
        raise DecisionError(f"{source}: pricing rule names must be unique")
    for rule in spec.pricing:
        if rule.floor > rule.ceiling:
            raise DecisionError(f"{source}: pricing rule {rule.name!r}: floor above ceiling")
    return DecisionPolicy(spec, _compile_rules(spec, source))


def load_policy(path: Path | None = None) -> DecisionPolicy:
    """Read a policy YAML file (the shipped default when ``path`` is None)."""
    path = path or Path(__file__).with_name("defaults") / "policy.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DecisionError(f"{path}: cannot read policy: {exc}") from None
    if not isinstance(data, dict):
        raise DecisionError(f"{path}: expected a mapping")
    return parse_policy(data, str(path))
