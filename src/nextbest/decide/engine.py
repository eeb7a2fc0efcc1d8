"""The decision engine: screening, arbitration, optimisation and pricing, batch and per customer.

One :class:`DecisionEngine` per (policy, catalogue). Every rule has a stable reason code
(:attr:`DecisionEngine.legend`); a decision is the matrix of codes (0 = survived), the
priorities and the winner. Batch and single-customer paths run the same rule functions
(the single path on one-row arrays), so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from nextbest.decide import optimiser
from nextbest.decide.arbitration import context_weights, pick_winners, priorities
from nextbest.decide.assignment import key_hashes, unit_draws
from nextbest.decide.consent_rules import CONSENT_CODES, CONSENT_REASONS, consent_allows
from nextbest.decide.contact_policy import contact_checks, contact_codes
from nextbest.decide.context import CustomerContext
from nextbest.decide.eligibility import ReasonLegend, StaticScreen
from nextbest.decide.errors import DecisionError
from nextbest.decide.explanation import DecisionExplanation, OfferVerdict
from nextbest.decide.inputs import OperationalInputs
from nextbest.decide.offers import OfferCatalogue
from nextbest.decide.policies import DecisionPolicy
from nextbest.decide.pricing import explain_price, price
from nextbest.decide.suitability import (
    REGULATORY_FLOOR,
    regulatory_floor_allows,
    regulatory_floor_allows_record,
)

__all__ = ["BatchDecisions", "Decision", "DecisionEngine", "OptimisationReport"]

HOLDOUT = "holdout.bank"
MIN_PRIORITY = "arbitration.min_priority"
LOWER_PRIORITY = "arbitration.lower_priority"
CONSTRAINT = "optimisation.not_selected"


@dataclass(frozen=True)
class OptimisationReport:
    sample_size: int
    lp_bound_sample: float
    duals: dict[str, float]
    value_greedy: float
    value_optimised: float
    violations: tuple[str, ...]

    @property
    def gain_over_greedy(self) -> float:
        return 0.0 if self.value_greedy <= 0 else self.value_optimised / self.value_greedy - 1


@dataclass(frozen=True, eq=False)
class BatchDecisions:
    """Decisions for many customers (arrays aligned with the context rows)."""

    customer_keys: pa.Array
    codes: np.ndarray
    priority: np.ndarray
    winner: np.ndarray
    price: np.ndarray
    method: str
    versions: dict[str, str]
    optimisation: OptimisationReport | None = None
    in_holdout: np.ndarray | None = None

    def removed_offers(self, legend_position: Mapping[str, int]) -> np.ndarray:
        """Per customer, how many offers a rule removed (survivors that lost not counted)."""
        kept = (legend_position[LOWER_PRIORITY], legend_position[CONSTRAINT])
        codes = self.codes
        return ((codes != 0) & (codes != kept[0]) & (codes != kept[1])).sum(axis=1)


@dataclass(frozen=True)
class Decision:
    """One customer's decision."""

    customer_key: str
    offer_id: str | None
    channel: str | None
    campaign_id: str | None
    priority: float | None
    price: float | None
    codes: tuple[int, ...]
    explanation: DecisionExplanation
    versions: dict[str, str] = field(default_factory=dict)


class DecisionEngine:
    """Applies one policy to one catalogue.

    Parameters
    ----------
    policy, catalogue:
        The validated policy and the offers it governs.
    timezone:
        The bank's time zone (quiet hours and contact periods are in bank time).
    """

    def __init__(
        self, policy: DecisionPolicy, catalogue: OfferCatalogue, timezone: str = "Asia/Shanghai"
    ) -> None:
        self.policy = policy
        self.catalogue = catalogue
        self.tz = ZoneInfo(timezone)
        self.screen = StaticScreen(policy, catalogue)
        spec = policy.spec
        entries: list[tuple[str, str]] = [("", "survived")]
        entries += list(zip(self.screen.rule_codes, self.screen.rule_reasons, strict=True))
        entries.append((REGULATORY_FLOOR, "breaks the regulatory suitability floor"))
        entries.append((HOLDOUT, "customer is in the bank-wide holdout (no marketing)"))
        entries += [
            (f"control.{c.campaign}", f"customer is in the control group of {c.campaign}")
            for c in spec.control_groups
        ]
        entries += list(zip(CONSENT_CODES, CONSENT_REASONS, strict=True))
        entries += contact_codes(spec.contact)
        entries += [
            (MIN_PRIORITY, "priority not above the policy minimum"),
            (LOWER_PRIORITY, "survived, but another offer had a higher priority"),
            (CONSTRAINT, "survived, but the global optimisation chose otherwise"),
        ]
        self.legend = ReasonLegend(tuple(e[0] for e in entries), tuple(e[1] for e in entries))
        self.position = {c: i for i, c in enumerate(self.legend.codes)}
        self.versions = {"policy": policy.version, "catalogue": catalogue.version}

    # -- screening ---------------------------------------------------------------------

    def static_codes(self, context: CustomerContext, day: date) -> np.ndarray:
        """Eligibility, suitability and the regulatory floor, in bulk (DuckDB)."""
        codes = self.screen.evaluate_bulk(context, day, first_code=1)
        for j, offer in enumerate(self.catalogue):
            broken = (codes[:, j] == 0) & ~regulatory_floor_allows(context, offer, day)
            codes[broken, j] = self.position[REGULATORY_FLOOR]
        return codes

    def static_codes_record(self, record: Mapping[str, Any], day: date) -> np.ndarray:
        """:meth:`static_codes` for one customer given as a mapping (pure Python)."""
        codes = self.screen.evaluate_record(record, day, first_code=1)
        for j, offer in enumerate(self.catalogue):
            if codes[j] == 0 and not regulatory_floor_allows_record(dict(record), offer, day):
                codes[j] = self.position[REGULATORY_FLOOR]
        return codes

    def apply_operational(
        self,
        codes: np.ndarray,
        hashes: np.ndarray,
        inputs: OperationalInputs,
        at: datetime,
    ) -> np.ndarray:
        """Holdout, control groups, consent and contact policy on top of static codes."""
        if at.tzinfo is None:
            raise DecisionError("decision time must be timezone-aware")
        local = at.astimezone(self.tz)
        spec = self.policy.spec
        codes = codes.copy()
        in_holdout = unit_draws(hashes, spec.holdout.seed) < spec.holdout.fraction
        controls = {
            c.campaign: unit_draws(hashes, c.seed) < c.fraction for c in spec.control_groups
        }
        for j, offer in enumerate(self.catalogue):
            column = codes[:, j]
            checks: list[tuple[str, np.ndarray]] = []
            if offer.purpose == "marketing":
                checks.append((HOLDOUT, ~in_holdout))
                if offer.campaign_id in controls:
                    checks.append((f"control.{offer.campaign_id}", ~controls[offer.campaign_id]))
            checks.append((f"consent.{offer.purpose}", consent_allows(offer, inputs, spec.consent)))
            checks.extend(contact_checks(offer, inputs, spec.contact, local))
            for code, allowed in checks:
                column[(column == 0) & ~allowed] = self.position[code]
        return codes

    # -- arbitration and pricing -------------------------------------------------------

    def priorities(
        self, context: CustomerContext, request: Mapping[str, str] | None = None
    ) -> np.ndarray:
        weights = context_weights(self.catalogue, self.policy.spec.arbitration, request)
        return priorities(context.propensity, context.value, self.catalogue, weights)

    def arbitrate(self, codes: np.ndarray, priority: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Winners per customer; survivors that lost get a reason code too."""
        survives = codes == 0
        winner = pick_winners(priority, survives, self.policy.spec.arbitration.min_priority)
        codes = codes.copy()
        low = survives & (priority <= self.policy.spec.arbitration.min_priority)
        codes[low] = self.position[MIN_PRIORITY]
        lost = (codes == 0) & (np.arange(codes.shape[1])[None, :] != winner[:, None])
        codes[lost] = self.position[LOWER_PRIORITY]
        return winner, codes

    def prices(self, context: CustomerContext, winner: np.ndarray) -> np.ndarray:
        """Price of each customer's winning offer (NaN when unpriced or no winner)."""
        out = np.full(len(winner), np.nan)
        attrs = context.attributes
        pd = attrs["pd"].to_numpy(zero_copy_only=False).astype(float)
        aum = attrs["aum"].to_numpy(zero_copy_only=False).astype(float)
        for j, offer in enumerate(self.catalogue):
            if offer.price is None:
                continue
            rows = np.flatnonzero(winner == j)
            if rows.size:
                rule = self.policy.pricing_rule(offer.price.rule)
                out[rows] = price(rule, pd[rows], aum[rows], context.value[rows, j])
        return out

    # -- batch -------------------------------------------------------------------------

    def decide_batch(
        self,
        context: CustomerContext,
        inputs: OperationalInputs,
        at: datetime,
        *,
        optimise: bool = True,
        sample_size: int = 50_000,
        seed: int = 0,
        capacity_scale: float = 1.0,
    ) -> BatchDecisions:
        """Decide for every customer of ``context``.

        With ``optimise``, the winners come from the global optimisation (dual prices from
        the LP relaxation of a ``sample_size`` sample, applied to all customers, then a
        feasibility repair); otherwise from per-customer arbitration.
        ``capacity_scale`` multiplies every budget and capacity (e.g. a regional run).
        """
        day = at.astimezone(self.tz).date()
        codes = self.static_codes(context, day)
        hashes = key_hashes(context.customer_keys)
        codes = self.apply_operational(codes, hashes, inputs, at)
        priority = self.priorities(context)
        report = None
        method = "arbitration"
        winner, final = self.arbitrate(codes, priority)
        if optimise and self.policy.spec.optimisation != type(self.policy.spec.optimisation)():
            method = "optimised"
            problem = optimiser.build_problem(
                self.catalogue,
                self.policy.spec.optimisation,
                priority,
                codes == 0,
                scale=capacity_scale,
            )
            winner, report = self._optimise(problem, sample_size, seed)
            final = codes.copy()
            lost = (final == 0) & (np.arange(final.shape[1])[None, :] != winner[:, None])
            final[lost] = self.position[CONSTRAINT]
        return BatchDecisions(
            context.attributes["customer_key"],
            final,
            priority,
            winner,
            self.prices(context, winner),
            method,
            {**self.versions, "snapshot": context.snapshot_version, "model": context.model_version},
            report,
            unit_draws(hashes, self.policy.spec.holdout.seed) < self.policy.spec.holdout.fraction,
        )

    def _optimise(
        self, problem: optimiser.AllocationProblem, sample_size: int, seed: int
    ) -> tuple[np.ndarray, OptimisationReport]:
        n = problem.shape[0]
        rng = np.random.default_rng(seed)
        size = min(sample_size, n)
        rows = np.sort(rng.choice(n, size, replace=False))
        lp = optimiser.solve_lp(problem.take(rows, size / n))
        assignment = optimiser.apply_duals(problem, lp.duals)
        greedy_assignment = optimiser.greedy(problem)
        report = OptimisationReport(
            size,
            lp.objective,
            dict(zip(problem.resource_names, lp.duals.tolist(), strict=True)),
            optimiser.objective(problem, greedy_assignment),
            optimiser.objective(problem, assignment),
            tuple(optimiser.violations(problem, assignment)),
        )
        return assignment, report

    # -- one customer ------------------------------------------------------------------

    def decide_row(
        self,
        customer_key: str,
        record: Mapping[str, Any],
        static: np.ndarray,
        propensity: np.ndarray,
        value: np.ndarray,
        inputs: OperationalInputs,
        at: datetime,
        request: Mapping[str, str] | None = None,
        excluded: Mapping[int, str] | None = None,
    ) -> Decision:
        """Decide for one customer from its static codes (snapshot) and live inputs.

        ``excluded`` removes offers for a reason found after arbitration (e.g. a cap
        reservation lost to a concurrent decision): offer column -> rule code.
        """
        hashes = key_hashes([customer_key])
        codes = self.apply_operational(static[None, :], hashes, inputs, at)
        for j, code in (excluded or {}).items():
            if codes[0, j] == 0:
                codes[0, j] = self.position[code]
        weights = context_weights(self.catalogue, self.policy.spec.arbitration, request)
        levers = np.array([o.lever for o in self.catalogue]) * weights
        priority = (propensity * value * levers)[None, :]
        winner_arr, final = self.arbitrate(codes, priority)
        j = int(winner_arr[0])
        offer = self.catalogue.offers[j] if j >= 0 else None
        price_value = None
        price_explained = None
        if offer is not None and offer.price is not None:
            rule = self.policy.pricing_rule(offer.price.rule)
            price_explained = explain_price(rule, record.get("pd"), record.get("aum"), value[j])
            price_value = price_explained.price
        explanation = self.explain(
            customer_key, record, final[0], priority[0], j, "arbitration", price_explained
        )
        return Decision(
            customer_key,
            None if offer is None else offer.offer_id,
            None if offer is None else offer.channel.value,
            None if offer is None else offer.campaign_id,
            None if j < 0 else float(priority[0, j]),
            price_value,
            tuple(int(c) for c in final[0]),
            explanation,
            dict(self.versions),
        )

    def explain(
        self,
        customer_key: str,
        record: Mapping[str, Any],
        codes: np.ndarray,
        priority: np.ndarray,
        winner: int,
        method: str,
        price_explained: Any = None,
    ) -> DecisionExplanation:
        """Verdict per offer: the removing rule with its reason and inputs, or the score."""
        verdicts = []
        for j, offer in enumerate(self.catalogue):
            code = int(codes[j])
            rule, reason = self.legend.describe(code)
            if j == winner:
                verdicts.append(OfferVerdict(offer.offer_id, "winner", priority=float(priority[j])))
            elif rule in (LOWER_PRIORITY, CONSTRAINT):
                verdicts.append(
                    OfferVerdict(offer.offer_id, "survivor", rule, reason, float(priority[j]))
                )
            else:
                inputs = self.screen.inputs_of(record, j, rule)
                verdicts.append(OfferVerdict(offer.offer_id, "removed", rule, reason, None, inputs))
        won = None if winner < 0 else self.catalogue.offers[winner].offer_id
        return DecisionExplanation(customer_key, won, method, tuple(verdicts), price_explained)
