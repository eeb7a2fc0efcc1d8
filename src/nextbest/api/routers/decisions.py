"""``/decide``, ``/decisions`` and ``/offers``: real-time decisions, outcomes, the batch run.

Real-time decisions are not audit entries: each is its own decision record (with everything
needed to replay it) written by the decisioning service.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from nextbest.api.context import ApiContext
from nextbest.api.deps import Allowed, Context, Limit, Offset
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.schemas import (
    BatchDecisionsOut,
    BatchRunOut,
    DecideIn,
    DecisionOut,
    OfferOut,
    OutcomeIn,
    OutcomeOut,
    page,
)
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal
from nextbest.services.decision_access import explanation_json

router = APIRouter(tags=["decisions"], responses=PROBLEM_RESPONSES)

DecisionId = Annotated[str, Path(pattern=r"^d[0-9a-f]{24}$", description="From POST /decide")]
Filter = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.post("/decide")
async def decide(
    body: DecideIn, context: Context, principal: Annotated[Principal, Allowed(P.DECISION_DECIDE)]
) -> DecisionOut:
    """Decide the next best offer for one customer now.

    Reserves the contact against the caps and records the decision. ``explanation`` lists
    every offer's fate; the customer attributes each rule read are included only for callers
    allowed sensitive fields.
    """
    # Runs on the event loop, not in the thread pool: the decision is short CPU work under
    # the GIL plus one local transaction, so a thread hop per request only adds latency.
    return decide_now(context, body, principal)


def decide_now(context: ApiContext, body: DecideIn, principal: Principal) -> DecisionOut:
    """What ``POST /decide`` does, shared with its fast path (:mod:`nextbest.api.fast_decide`)."""
    request: dict[str, str] = dict(body.context)
    if body.channel_context is not None:
        request[body.channel_context.value] = "true"
        request["channel_context"] = body.channel_context.value
    made = context.decisions.decide(body.customer_key, request)
    d = made.decision
    return DecisionOut(
        decision_id=made.decision_id,
        customer_key=d.customer_key,
        offer_id=d.offer_id,
        channel=d.channel,
        campaign_id=d.campaign_id,
        priority=d.priority,
        price=d.price,
        decided_at=made.decided_at,
        snapshot_run=made.run_id,
        versions=dict(d.versions),
        explanation=explanation_json(
            d.explanation, with_inputs=principal.can(P.CUSTOMER_READ_SENSITIVE)
        ),
    )


@router.post("/decisions/{decision_id}/outcome")
def outcome(
    decision_id: DecisionId,
    body: OutcomeIn,
    context: Context,
    principal: Annotated[Principal, Allowed(P.DECISION_DECIDE)],
) -> OutcomeOut:
    """Record the customer's answer once; a rejection starts the product's cool-down."""
    stored = context.decisions.record_outcome(decision_id, body.outcome)
    return OutcomeOut(
        decision_id=stored.decision_id,
        customer_key=stored.customer_key,
        offer_id=stored.offer_id,
        outcome=stored.outcome,
        outcome_at=stored.outcome_at,
    )


@router.get("/decisions")
def batch_decisions(
    context: Context,
    principal: Annotated[Principal, Allowed(P.DECISION_READ)],
    customer_key: Filter = None,
    offer_id: Filter = None,
    channel: Filter = None,
    campaign_id: Filter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> BatchDecisionsOut:
    """The current batch run's summary and one page of its decisions (pseudonymous keys)."""
    given = {"customer_key": customer_key, "offer_id": offer_id, "channel": channel}
    equals = {k: v for k, v in {**given, "campaign_id": campaign_id}.items() if v is not None}
    found = context.decisions.batch_decisions(equals, limit=limit, offset=offset)
    body: dict[str, Any] = page(found.items, found.total, limit, offset)
    return BatchDecisionsOut(run=BatchRunOut(**vars(found.run)), **body)


@router.get("/offers")
def offers(
    context: Context, principal: Annotated[Principal, Allowed(P.OFFER_READ)]
) -> list[OfferOut]:
    """The active offer catalogue."""
    return [
        OfferOut(
            offer_id=o.offer_id,
            product_id=o.product_id,
            product_family=str(o.product_family),
            product_risk=None if o.product_risk is None else str(o.product_risk),
            channel=o.channel.value,
            purpose=o.purpose,
            campaign_id=o.campaign_id,
            message=o.message,
            cost_per_contact=o.cost_per_contact,
            min_aum=o.min_aum,
            regions=list(o.regions),
        )
        for o in context.decisions.offers()
    ]
