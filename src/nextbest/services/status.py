"""``nextbest status``: what an installation holds and what its last batches did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nextbest.config import Settings
from nextbest.errors import NextbestError
from nextbest.opstore.batches import BatchLedger
from nextbest.opstore.store import open_opstore
from nextbest.warehouse import latest_published, open_warehouse

__all__ = ["BatchSummary", "StatusReport", "installation_status"]


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    status: str
    mapping: str
    source: str
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    rows_loaded: int
    rows_flagged: int
    rows_rejected: int
    rows_queued: int
    rows_unchanged: int
    message: str | None


@dataclass(frozen=True)
class StatusReport:
    home: str
    warehouse: str
    warehouse_bytes: int
    opstore: str
    published: str | None
    tables: dict[str, int]
    batches: tuple[BatchSummary, ...]
    rejects_by_rule: dict[str, int]
    flags_by_rule: dict[str, int]
    open_match_candidates: int


def _by_rule(wh: Any, table: str) -> dict[str, int]:
    t = wh.table(table)
    counts = wh.to_arrow(t.group_by("rule").aggregate(n=t.count()).order_by("rule"))
    return dict(zip(counts.column("rule").to_pylist(), counts.column("n").to_pylist(), strict=True))


def installation_status(settings: Settings, recent: int = 5) -> StatusReport:
    """Summarise stores, table row counts, the last ``recent`` batches, flags and rejects.

    Raises
    ------
    NextbestError
        If the installation was not initialised (run ``nextbest init``).
    """
    if not settings.warehouse_file.exists():
        raise NextbestError(f"no warehouse at {settings.warehouse_file}: run `nextbest init` first")
    opstore = open_opstore(settings, migrate=False)
    try:
        from sqlalchemy import func, select

        from nextbest.opstore.models.matches import MatchCandidate

        batches = BatchLedger(opstore).recent(recent)
        with opstore.session() as s:
            open_matches = int(
                s.scalar(
                    select(func.count())
                    .select_from(MatchCandidate)
                    .where(MatchCandidate.status == "open")
                )
                or 0
            )
        url = opstore.engine.url.render_as_string(hide_password=True)
    finally:
        opstore.dispose()
    with open_warehouse(settings, read_only=True) as wh:
        tables = wh.row_counts()
        rejects = _by_rule(wh, "quarantine")
        flags = _by_rule(wh, "dq_flag")
    published = latest_published(settings)
    return StatusReport(
        home=str(settings.home),
        warehouse=str(settings.warehouse_file),
        warehouse_bytes=settings.warehouse_file.stat().st_size,
        opstore=url,
        published=str(published) if published else None,
        tables=tables,
        batches=tuple(
            BatchSummary(
                batch_id=b.batch_id,
                status=b.status,
                mapping=b.mapping,
                source=b.source,
                started_at=b.started_at,
                finished_at=b.finished_at,
                rows_read=b.rows_read,
                rows_loaded=b.rows_loaded,
                rows_flagged=b.rows_flagged,
                rows_rejected=b.rows_rejected,
                rows_queued=b.rows_queued,
                rows_unchanged=int((b.files or {}).get("rows_unchanged", 0)),
                message=b.message,
            )
            for b in batches
        ),
        rejects_by_rule=rejects,
        flags_by_rule=flags,
        open_match_candidates=open_matches,
    )
