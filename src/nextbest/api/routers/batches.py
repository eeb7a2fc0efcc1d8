"""``/batches``: the ingestion ledger (lineage and counts of recent batches)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from nextbest.api.deps import MAX_PAGE, Allowed, Context
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.schemas import BatchOut
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal

router = APIRouter(prefix="/batches", tags=["batches"], responses=PROBLEM_RESPONSES)


@router.get("")
def recent(
    context: Context,
    principal: Annotated[Principal, Allowed(P.BATCH_READ)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> list[BatchOut]:
    """The most recently started batches, newest first."""
    return [
        BatchOut(
            batch_id=b.batch_id,
            source=b.source,
            mapping=b.mapping,
            status=b.status,
            started_at=b.started_at,
            finished_at=b.finished_at,
            rows_read=b.rows_read,
            rows_loaded=b.rows_loaded,
            rows_flagged=b.rows_flagged,
            rows_rejected=b.rows_rejected,
            rows_queued=b.rows_queued,
            message=b.message,
        )
        for b in context.batches.recent(limit)
    ]
