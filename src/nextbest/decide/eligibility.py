"""Static screening: the policy's eligibility and suitability rules for every customer × offer.

"Static" because these rules read only the customer context and the offer, never the
operational store, so the batch computes them once (in bulk, through Ibis on DuckDB) and the
real-time path reads the result from the snapshot. The same rules also run per record in
pure Python (:meth:`StaticScreen.evaluate_record`); a test checks both agree.

Result: an ``int16`` matrix of reason codes, 0 where the offer survives, else the position
(in :class:`ReasonLegend`) of the *first* rule that removed it, in policy order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from nextbest.decide.context import CustomerContext
from nextbest.decide.offers import Offer, OfferCatalogue
from nextbest.decide.policies import CompiledRule, DecisionPolicy
from nextbest.expr import compile_record

__all__ = ["OFFER_VALIDITY", "ReasonLegend", "StaticScreen"]

OFFER_VALIDITY = "offer.validity"


@dataclass(frozen=True)
class ReasonLegend:
    """Reason code <-> rule: code 0 means "survived"; each rule has a stable code."""

    codes: tuple[str, ...]
    reasons: tuple[str, ...]

    def code(self, rule: str) -> int:
        return self.codes.index(rule)

    def describe(self, code: int) -> tuple[str, str]:
        return self.codes[code], self.reasons[code]


def _offer_record(offer: Offer, day: date) -> dict[str, Any]:
    return {**offer.attributes(), "decision_date": day}


class StaticScreen:
    """The eligibility and suitability rules of a policy, resolved against a catalogue.

    Parameters
    ----------
    policy, catalogue:
        The policy whose rules apply and the offers they are applied to.
    """

    def __init__(self, policy: DecisionPolicy, catalogue: OfferCatalogue) -> None:
        self.policy = policy
        self.catalogue = catalogue
        # Per offer, the rules whose selector matches it, in policy order.
        self.rules_for: tuple[tuple[CompiledRule, ...], ...] = tuple(
            tuple(r for r in policy.rules if r.selector.matches(o)) for o in catalogue
        )
        self._record_fns = {r.code: compile_record(r.expr) for r in policy.rules}
        self.rule_codes: tuple[str, ...] = (OFFER_VALIDITY, *(r.code for r in policy.rules))
        self.rule_reasons: tuple[str, ...] = (
            "offer is outside its validity window",
            *(r.reason for r in policy.rules),
        )

    def evaluate_bulk(self, context: CustomerContext, day: date, first_code: int = 1) -> np.ndarray:
        """Reason codes for every customer × offer, computed in DuckDB through Ibis.

        ``first_code`` is the legend position of :data:`OFFER_VALIDITY`; the rules follow
        it in order.
        """
        import ibis

        from nextbest.expr import to_ibis

        n, m = len(context), len(self.catalogue)
        codes = np.zeros((n, m), dtype=np.int16)
        con = ibis.duckdb.connect()
        try:
            base = ibis.memtable(context.attributes)  # scanned in place, not copied
            position = {c: first_code + i for i, c in enumerate(self.rule_codes)}
            for j, offer in enumerate(self.catalogue):
                if not offer.valid_on(day):
                    codes[:, j] = position[OFFER_VALIDITY]
                    continue
                rules = self.rules_for[j]
                if not rules:
                    continue
                literals = {
                    k: ibis.literal(v, type=_IBIS_TYPES[k])
                    for k, v in _offer_record(offer, day).items()
                }
                table = base.mutate(
                    holds_offer_family=base[f"holds_{offer.product_family.value}"], **literals
                )
                # A rule passes only when true; null (missing data) fails.
                passed = {
                    f"r{i}": to_ibis(rule.expr, table).fill_null(False)
                    for i, rule in enumerate(rules)
                }
                result = con.to_pyarrow(table.select(**passed))
                column = codes[:, j]
                for i in reversed(range(len(rules))):
                    failed = ~result[f"r{i}"].to_numpy(zero_copy_only=False)
                    column[failed] = position[rules[i].code]
        finally:
            con.disconnect()
        return codes

    def evaluate_record(
        self, record: Mapping[str, Any], day: date, first_code: int = 1
    ) -> np.ndarray:
        """Reason codes for one customer (a mapping of its attributes) × every offer."""
        position = {c: first_code + i for i, c in enumerate(self.rule_codes)}
        codes = np.zeros(len(self.catalogue), dtype=np.int16)
        for j, offer in enumerate(self.catalogue):
            if not offer.valid_on(day):
                codes[j] = position[OFFER_VALIDITY]
                continue
            row = {
                **record,
                **_offer_record(offer, day),
                "holds_offer_family": record.get(f"holds_{offer.product_family.value}"),
            }
            for rule in self.rules_for[j]:
                if self._record_fns[rule.code](row) is not True:
                    codes[j] = position[rule.code]
                    break
        return codes

    def inputs_of(self, record: Mapping[str, Any], offer_index: int, code: str) -> dict[str, Any]:
        """The customer and offer values a rule read (for explanations)."""
        rule = next((r for r in self.policy.rules if r.code == code), None)
        if rule is None:
            return {}
        offer = self.catalogue.offers[offer_index]
        row = {
            **record,
            **offer.attributes(),
            "holds_offer_family": record.get(f"holds_{offer.product_family.value}"),
        }
        return {c: row.get(c) for c in sorted(rule.expr.columns)}


def rows_to_records(table: pa.Table, rows: Sequence[int]) -> list[dict[str, Any]]:
    return [table.slice(r, 1).to_pylist()[0] for r in rows]


_IBIS_TYPES = {
    "offer_id": "string",
    "offer_product": "string",
    "offer_family": "string",
    "offer_risk": "int64",
    "offer_group": "string",
    "offer_channel": "string",
    "offer_purpose": "string",
    "offer_campaign": "string",
    "offer_min_aum": "float64",
    "offer_all_regions": "boolean",
    "offer_regions": "string",
    "decision_date": "date",
}
