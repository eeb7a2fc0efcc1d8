"""The offer catalogue: product × channel × message × price terms × validity × cost.

An offer is what a customer is shown; the catalogue is one versioned YAML document. The
version is the SHA-256 of its canonical JSON, so a decision can name exactly the catalogue
it was made from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nextbest.decide.errors import DecisionError
from nextbest.domain.enums import (
    CREDIT_FAMILIES,
    DEPOSIT_FAMILIES,
    INVESTMENT_FAMILIES,
    ContactChannel,
    ProductFamily,
    ProductRisk,
)

__all__ = [
    "OFFER_ATTRIBUTE_TYPES",
    "Offer",
    "OfferCatalogue",
    "PriceTerms",
    "load_catalogue",
    "parse_catalogue",
]

Purpose = Literal["marketing", "service"]


class PriceTerms(BaseModel):
    """Which pricing rule prices the offer (see :mod:`nextbest.decide.pricing`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str = Field(description="name of a pricing rule in the policy's `pricing` section")
    display: str = ""


class Offer(BaseModel):
    """One offer of the catalogue.

    Attributes
    ----------
    offer_id:
        Stable identifier (letters, digits, ``_``, ``-``).
    product_id, product_family, product_risk:
        The product offered; ``product_risk`` (R1–R5) is required for investment products.
    channel:
        The contact channel the offer is delivered through.
    purpose:
        ``marketing`` (caps, holdout and marketing consent apply) or ``service``
        (bypasses marketing caps; needs service consent on its channel).
    campaign_id:
        The campaign the offer belongs to (budgets and control groups are per campaign).
    cost_per_contact:
        Money spent per offer made, in the bank's currency.
    lever:
        Business weight multiplied into the priority (1.0 neutral).
    min_aum:
        Minimum assets under management for eligibility (0 for none).
    regions:
        Regions the offer may be made in (empty: everywhere).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    offer_id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,62}$")
    product_id: str
    product_family: ProductFamily
    product_risk: ProductRisk | None = None
    channel: ContactChannel
    purpose: Purpose = "marketing"
    campaign_id: str = "always_on"
    message: str = ""
    creative: str = ""
    price: PriceTerms | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    cost_per_contact: float = Field(default=0.0, ge=0)
    lever: float = Field(default=1.0, ge=0)
    min_aum: float = Field(default=0.0, ge=0)
    regions: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Offer:
        if self.product_family in INVESTMENT_FAMILIES and self.product_risk is None:
            raise ValueError("investment products need product_risk (R1..R5)")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    @property
    def risk_number(self) -> int | None:
        """``R3`` -> 3; ``None`` for products without a risk level."""
        return None if self.product_risk is None else int(self.product_risk.value[1])

    @property
    def group(self) -> str:
        """``investment``, ``credit``, ``deposit`` or ``other``."""
        if self.product_family in INVESTMENT_FAMILIES:
            return "investment"
        if self.product_family in CREDIT_FAMILIES:
            return "credit"
        if self.product_family in DEPOSIT_FAMILIES:
            return "deposit"
        return "other"

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def attributes(self) -> dict[str, Any]:
        """The ``offer_*`` columns policy expressions may reference."""
        return {
            "offer_id": self.offer_id,
            "offer_product": self.product_id,
            "offer_family": self.product_family.value,
            "offer_risk": self.risk_number,
            "offer_group": self.group,
            "offer_channel": self.channel.value,
            "offer_purpose": self.purpose,
            "offer_campaign": self.campaign_id,
            "offer_min_aum": float(self.min_aum),
            "offer_all_regions": not self.regions,
            "offer_regions": "|" + "|".join(self.regions) + "|",
        }


OFFER_ATTRIBUTE_TYPES: dict[str, str] = {
    "offer_id": "string",
    "offer_product": "string",
    "offer_family": "string",
    "offer_risk": "int",
    "offer_group": "string",
    "offer_channel": "string",
    "offer_purpose": "string",
    "offer_campaign": "string",
    "offer_min_aum": "float",
    "offer_all_regions": "bool",
    "offer_regions": "string",
}


class _CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "catalogue"
    offers: list[Offer]


class OfferCatalogue:
    """An ordered, versioned set of offers (order fixes the column order of every matrix)."""

    def __init__(self, offers: list[Offer], name: str = "catalogue") -> None:
        seen: set[str] = set()
        for offer in offers:
            if offer.offer_id in seen:
                raise DecisionError(f"offer catalogue {name!r}: offer_id {offer.offer_id!r} twice")
            seen.add(offer.offer_id)
        if not offers:
            raise DecisionError(f"offer catalogue {name!r}: no offers")
        self.name = name
        self.offers: tuple[Offer, ...] = tuple(offers)
        self.index: dict[str, int] = {o.offer_id: i for i, o in enumerate(offers)}

    def __len__(self) -> int:
        return len(self.offers)

    def __iter__(self) -> Iterator[Offer]:
        return iter(self.offers)

    def __getitem__(self, offer_id: str) -> Offer:
        try:
            return self.offers[self.index[offer_id]]
        except KeyError:
            raise DecisionError(f"offer catalogue {self.name!r}: no offer {offer_id!r}") from None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(o.offer_id for o in self.offers)

    def body(self) -> dict[str, Any]:
        """The canonical JSON-able body (what is stored as a policy version)."""
        return {
            "name": self.name,
            "offers": [o.model_dump(mode="json", exclude_defaults=False) for o in self.offers],
        }

    @property
    def version(self) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(canonical).hexdigest()[:16]


def parse_catalogue(data: Mapping[str, Any], source: str = "<catalogue>") -> OfferCatalogue:
    """Validate a catalogue mapping; errors name the offer position and field."""
    try:
        parsed = _CatalogueFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise DecisionError(f"{source}: invalid offer catalogue: {problems}") from None
    return OfferCatalogue(parsed.offers, parsed.name)


def load_catalogue(path: Path | None = None) -> OfferCatalogue:
    """Read a catalogue YAML file (the shipped default when ``path`` is None)."""
    path = path or Path(__file__).with_name("defaults") / "offers.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DecisionError(f"{path}: cannot read offer catalogue: {exc}") from None
    if not isinstance(data, dict):
        raise DecisionError(f"{path}: expected a mapping with an `offers` list")
    return parse_catalogue(data, str(path))
