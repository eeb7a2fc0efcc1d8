"""Shared objects for the decisioning tests: the shipped policy, catalogue and engine."""

from __future__ import annotations

from functools import cache
from typing import Any

from nextbest.decide.engine import DecisionEngine
from nextbest.decide.offers import OfferCatalogue, load_catalogue
from nextbest.decide.policies import DecisionPolicy, load_policy


@cache
def default_engine() -> DecisionEngine:
    return DecisionEngine(default_policy(), default_catalogue())


@cache
def default_policy() -> DecisionPolicy:
    return load_policy()


@cache
def default_catalogue() -> OfferCatalogue:
    return load_catalogue()


def offer_facts(catalogue: OfferCatalogue) -> list[dict[str, Any]]:
    """The offer facts the naive reference needs, read from the catalogue."""
    return [
        {
            "id": o.offer_id,
            "purpose": o.purpose,
            "family": o.product_family.value,
            "product": o.product_id,
            "risk": o.risk_number,
            "channel": o.channel.value,
            "campaign": o.campaign_id,
            "min_aum": o.min_aum,
            "regions": set(o.regions),
        }
        for o in catalogue
    ]
