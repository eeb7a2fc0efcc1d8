"""``/events``: events into the operational store's inbox (the next batch loads them)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter

from nextbest.api.deps import Allowed, Context
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.schemas import EventAcceptedOut, EventIn
from nextbest.errors import NextbestError
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal

router = APIRouter(prefix="/events", tags=["events"], responses=PROBLEM_RESPONSES)

MAX_PAYLOAD_BYTES = 16_384


@router.post("", status_code=202)
def put_event(
    body: EventIn, context: Context, principal: Annotated[Principal, Allowed(P.EVENT_WRITE)]
) -> EventAcceptedOut:
    """Queue one event; it is audited with its type and size (not its content)."""
    size = len(json.dumps(body.payload, ensure_ascii=False).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise NextbestError(f"payload: {size} bytes, at most {MAX_PAYLOAD_BYTES}")
    with context.store.session() as s:
        event_id = context.inbox.put(
            body.event_type,
            body.payload,
            source=principal.subject,
            customer_key=body.customer_key,
            session=s,
        )
        context.audit.record(
            "event.received",
            "inbox_event",
            str(event_id),
            {"event_type": body.event_type, "bytes": size},
            actor=principal.subject,
            session=s,
        )
    context.audit.anchor()
    return EventAcceptedOut(id=event_id, event_type=body.event_type)
