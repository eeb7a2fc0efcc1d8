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

# Routes are matched in this order: the real-time decision path first (it is the hot one).
ROUTERS = (
    decisions.router,
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
    insights.router,
)
