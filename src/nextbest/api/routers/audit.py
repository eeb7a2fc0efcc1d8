"""``/audit``: read the log (filtered, paged) and verify the chain and its anchor."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from nextbest.api.deps import Allowed, Context, Limit, Offset
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.schemas import AuditEntryOut, AuditVerifyOut
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal
from nextbest.services.audit import AuditFilter

router = APIRouter(prefix="/audit", tags=["audit"], responses=PROBLEM_RESPONSES)

Text = Annotated[str | None, Query(min_length=1, max_length=128)]


@router.get("")
def entries(
    context: Context,
    principal: Annotated[Principal, Allowed(P.AUDIT_READ)],
    limit: Limit = 50,
    offset: Offset = 0,
    action: Text = None,
    actor: Text = None,
    subject_id: Text = None,
    since: Annotated[datetime | None, Query()] = None,
) -> list[AuditEntryOut]:
    """Newest first."""
    where = AuditFilter(action=action, actor=actor, subject_id=subject_id, since=since)
    return [
        AuditEntryOut(
            seq=e.seq,
            occurred_at=e.occurred_at,
            actor=e.actor,
            action=e.action,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            detail=dict(e.detail),
        )
        for e in context.audit.entries(where, limit=limit, offset=offset)
    ]


@router.get("/verify")
def verify(
    context: Context, principal: Annotated[Principal, Allowed(P.AUDIT_VERIFY)]
) -> AuditVerifyOut:
    result = context.audit.verify()
    return AuditVerifyOut(
        ok=result.ok, entries=result.entries, anchors=result.anchors, problems=list(result.problems)
    )
