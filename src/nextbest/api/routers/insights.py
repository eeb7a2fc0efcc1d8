"""Read-only understanding, models and scores: ``/tags``, ``/segments``, ``/lifecycle``,
``/clv``, ``/customers/{key}/insight``, ``/customers/{key}/scores``, ``/models``.

Rows carry pseudonymous customer keys only; monetary and risk figures are withheld
(``null``, named in ``withheld``) without ``customer:read_sensitive``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from nextbest.api.deps import Allowed, Context, Limit, Offset
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.routers.customers import CustomerKey
from nextbest.api.schemas import (
    ClvOut,
    CustomerInsightOut,
    CustomerScoresOut,
    DatedPage,
    LifecycleOut,
    ModelOut,
    Page,
    SegmentOut,
    StageCountOut,
    TagOut,
    page,
)
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal

router = APIRouter(tags=["understanding"], responses=PROBLEM_RESPONSES)

Name = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
ModelName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get("/tags")
def tags(
    context: Context,
    principal: Annotated[Principal, Allowed(P.INSIGHT_READ)],
    limit: Limit = 50,
    offset: Offset = 0,
) -> DatedPage[TagOut]:
    """The tag catalogue and how many customers carry each tag on the latest as-of date."""
    rows = context.insights.tags(limit=limit, offset=offset)
    body = page(rows.items, rows.total, limit, offset)
    return DatedPage[TagOut].model_validate({**body, "as_of": rows.as_of})


@router.get("/segments")
def segments(
    context: Context,
    principal: Annotated[Principal, Allowed(P.INSIGHT_READ)],
    scheme: Name = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DatedPage[SegmentOut]:
    """Segment profiles (scheme, segment, labels, size) on the latest as-of date."""
    rows = context.insights.segments(scheme, limit=limit, offset=offset)
    body = page(rows.items, rows.total, limit, offset)
    return DatedPage[SegmentOut].model_validate({**body, "as_of": rows.as_of})


@router.get("/lifecycle")
def lifecycle(
    context: Context, principal: Annotated[Principal, Allowed(P.INSIGHT_READ)]
) -> LifecycleOut:
    """Customers per lifecycle stage on the latest as-of date."""
    as_of, stages = context.insights.lifecycle()
    return LifecycleOut(as_of=as_of, stages=[StageCountOut(**s) for s in stages])


@router.get("/clv")
def clv(
    context: Context,
    principal: Annotated[Principal, Allowed(P.INSIGHT_READ)],
    value_tier: Name = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DatedPage[ClvOut]:
    """Customers' lifetime value on the latest as-of date (amounts need sensitive access)."""
    rows = context.insights.clv(principal, value_tier, limit=limit, offset=offset)
    body = page(rows.items, rows.total, limit, offset)
    return DatedPage[ClvOut].model_validate(
        {**body, "as_of": rows.as_of, "withheld": list(rows.withheld)}
    )


@router.get("/customers/{customer_key}/insight")
def customer_insight(
    customer_key: CustomerKey,
    context: Context,
    principal: Annotated[Principal, Allowed(P.INSIGHT_READ)],
) -> CustomerInsightOut:
    """One customer's tags, segments, lifecycle stage, RFM and CLV (latest as-of date)."""
    found = context.insights.customer(customer_key, principal)
    return CustomerInsightOut.model_validate({**vars(found), "withheld": list(found.withheld)})


@router.get("/customers/{customer_key}/scores")
def customer_scores(
    customer_key: CustomerKey,
    context: Context,
    principal: Annotated[Principal, Allowed(P.SCORE_READ)],
) -> CustomerScoresOut:
    """Propensity per offer from the current serving snapshot (values and PD if allowed)."""
    found = context.insights.scores(customer_key, principal)
    return CustomerScoresOut.model_validate({**vars(found), "withheld": list(found.withheld)})


@router.get("/models")
def models(
    context: Context,
    principal: Annotated[Principal, Allowed(P.MODEL_READ)],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ModelOut]:
    """Every registered model version with its status (champion or challenger)."""
    rows = context.insights.models(limit=limit, offset=offset)
    return Page[ModelOut].model_validate(page(rows.items, rows.total, limit, offset))


@router.get("/models/{model_name}")
def model_versions(
    model_name: ModelName,
    context: Context,
    principal: Annotated[Principal, Allowed(P.MODEL_READ)],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ModelOut]:
    """The versions of one model; 404 for a name never registered."""
    rows = context.insights.models(model_name, limit=limit, offset=offset)
    return Page[ModelOut].model_validate(page(rows.items, rows.total, limit, offset))
