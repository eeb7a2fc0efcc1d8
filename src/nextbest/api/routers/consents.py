"""``/customers/{key}/consents``: current consent state, grants and withdrawals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from nextbest.api.deps import Allowed, Context
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.routers.customers import CustomerKey
from nextbest.api.schemas import ConsentIn, ConsentOut
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal

router = APIRouter(prefix="/customers", tags=["consents"], responses=PROBLEM_RESPONSES)


def consent_out(state) -> ConsentOut:  # type: ignore[no-untyped-def]
    return ConsentOut(
        customer_key=state.customer_key,
        purpose=state.purpose,
        channel=state.channel,
        status=state.status,
        event_time=state.event_time,
        source=state.source,
    )


@router.get("/{customer_key}/consents")
def current(
    customer_key: CustomerKey,
    context: Context,
    principal: Annotated[Principal, Allowed(P.CONSENT_READ)],
) -> list[ConsentOut]:
    """The latest state per purpose and channel."""
    return [consent_out(s) for s in context.consents.current(customer_key)]


@router.post("/{customer_key}/consents", status_code=201)
def record(
    customer_key: CustomerKey,
    body: ConsentIn,
    context: Context,
    principal: Annotated[Principal, Allowed(P.CONSENT_WRITE)],
) -> ConsentOut:
    """Record a grant or withdrawal now; a withdrawal takes effect at once."""
    state = context.consents.record(
        customer_key,
        body.purpose.value,
        str(body.channel),
        body.status.value,
        actor=principal.subject,
    )
    return consent_out(state)
