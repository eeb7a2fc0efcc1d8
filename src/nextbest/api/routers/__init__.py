"""One router per resource; :data:`ROUTERS` is the list the app mounts."""

from __future__ import annotations

from nextbest.api.routers import (
    audit,
    auth,
    batches,
    consents,
    customers,
    decisions,
    events,
    health,
    insights,
    policies,
    privacy,
    users,
)

__all__ = ["ROUTERS"]

ROUTERS = (
    auth.router,
    health.router,
    customers.router,
    consents.router,
    privacy.router,
    users.router,
    audit.router,
    events.router,
    batches.router,
    policies.router,
    decisions.router,
    insights.router,
)
