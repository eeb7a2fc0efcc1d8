"""Events from integrations into the operational store's inbox (the next batch loads them)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nextbest.errors import NextbestError
from nextbest.opstore.inbox import Inbox
from nextbest.opstore.store import OperationalStore
from nextbest.services.audit import AuditService

__all__ = ["MAX_PAYLOAD_BYTES", "AcceptedEvent", "EventIntake", "EventTooLargeError"]

MAX_PAYLOAD_BYTES = 16_384


class EventTooLargeError(NextbestError):
    """An event payload above :data:`MAX_PAYLOAD_BYTES`."""


@dataclass(frozen=True)
class AcceptedEvent:
    id: int
    event_type: str
    bytes: int


class EventIntake:
    """Queue events with their audit entry (type and size, never the content).

    Parameters
    ----------
    store, audit:
        The operational store holding the inbox, and the audit service.
    """

    def __init__(self, store: OperationalStore, audit: AuditService) -> None:
        self.store = store
        self.inbox = Inbox(store)
        self.audit = audit

    def put(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        source: str,
        customer_key: str | None = None,
    ) -> AcceptedEvent:
        """Queue one event; it and its audit entry commit together.

        Raises
        ------
        EventTooLargeError
            When the JSON payload exceeds :data:`MAX_PAYLOAD_BYTES`.
        """
        size = len(json.dumps(payload, ensure_ascii=False).encode())
        if size > MAX_PAYLOAD_BYTES:
            raise EventTooLargeError(f"payload: {size} bytes, at most {MAX_PAYLOAD_BYTES}")
        with self.store.session() as s:
            event_id = self.inbox.put(
                event_type, dict(payload), source=source, customer_key=customer_key, session=s
            )
            self.audit.record(
                "event.received",
                "inbox_event",
                str(event_id),
                {"event_type": event_type, "bytes": size},
                actor=source,
                session=s,
            )
        self.audit.anchor()
        return AcceptedEvent(event_id, event_type, size)
