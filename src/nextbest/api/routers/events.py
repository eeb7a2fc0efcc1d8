"""``/events``: events into the operational store's inbox (the next batch loads them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from nextbest.api.deps import Allowed, Context
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.schemas import EventAcceptedOut, EventIn
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal

router = APIRouter(prefix="/events", tags=["events"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=202)
def put_event(
    body: EventIn, context: Context, principal: Annotated[Principal, Allowed(P.EVENT_WRITE)]
) -> EventAcceptedOut:
    """Queue one event; it is audited with its type and size (not its content)."""
    accepted = context.events.put(
        body.event_type, body.payload, source=principal.subject, customer_key=body.customer_key
    )
    return EventAcceptedOut(id=accepted.id, event_type=accepted.event_type)
