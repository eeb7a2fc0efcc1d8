"""Walking the app's routes: their declared permission and a valid example call each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from nextbest.api.deps import RequirePermission
from nextbest.security.permissions import Permission

PATH_VALUES = {
    "customer_key": "ckaaaa",
    "username": "analyst.user",
    "key_id": "0123456789ab",
    "policy_name": "contact_policy",
    "decision_id": "d" + "0" * 24,
    "model_name": "churn",
}

# A valid body per (method, path) so that allowed calls reach the service.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/auth/refresh"): {"refresh_token": "nbr_unknown"},
    ("POST", "/api/v1/auth/logout"): {"refresh_token": "nbr_unknown"},
    ("POST", "/api/v1/customers/{customer_key}/unmask"): {
        "purpose": "customer_service",
        "justification": "call ticket CS-2026-0001",
    },
    ("POST", "/api/v1/customers/{customer_key}/consents"): {
        "purpose": "marketing",
        "channel": "sms",
        "status": "granted",
    },
    ("POST", "/api/v1/privacy/{customer_key}/export"): {"reference": "DSR-2026-01"},
    ("POST", "/api/v1/privacy/{customer_key}/withdraw-consent"): {"reference": "DSR-2026-02"},
    ("POST", "/api/v1/privacy/{customer_key}/erase"): {"reference": "DSR-2026-03"},
    ("PUT", "/api/v1/privacy/{customer_key}/legal-hold"): {"reason": "litigation L-1"},
    ("POST", "/api/v1/users"): {
        "username": "new.user",
        "display_name": "New",
        "roles": ["analyst"],
        "password": "another long passphrase",
    },
    ("PATCH", "/api/v1/users/{username}"): {"is_active": True},
    ("POST", "/api/v1/api-keys"): {"name": "crm", "roles": ["marketer"]},
    ("POST", "/api/v1/events"): {"event_type": "app.login", "customer_key": "ckaaaa"},
    ("PUT", "/api/v1/policies/{policy_name}"): {"body": {"max_contacts_per_week": 2}},
    ("POST", "/api/v1/decide"): {"customer_key": "ckaaaa", "channel_context": "in_app"},
    ("POST", "/api/v1/decisions/{decision_id}/outcome"): {"outcome": "accepted"},
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    permission: Permission | None
    public: bool

    @property
    def url(self) -> str:
        return self.path.format(**PATH_VALUES)

    @property
    def body(self) -> Any:
        return BODIES.get((self.method, self.path))


def _checks(dependant: Dependant) -> Iterator[RequirePermission]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, RequirePermission):
            yield sub.call
        yield from _checks(sub)


def walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path, route) of every route, descending into included routers.

    FastAPI >= 0.160 keeps included routers as nested entries of ``app.routes``.
    """
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from walk(nested.routes, prefix + route.include_context.prefix)
        else:
            yield prefix + route.path, route


def operations(app: FastAPI) -> list[Operation]:
    """Every (method, path) of every APIRoute with its declared permission.

    Raises AssertionError for a route that declares none or more than one, or when the
    walk and the OpenAPI document disagree about which operations exist.
    """
    found = []
    for path, route in walk(app.routes):
        if not isinstance(route, APIRoute):
            continue
        checks = list(_checks(route.dependant))
        assert len(checks) == 1, f"{path}: declares {len(checks)} permission checks"
        for method in sorted(route.methods):
            permission = checks[0].permission
            found.append(Operation(method, path, permission, permission is None))
    documented = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    assert {(o.method, o.path) for o in found} == documented
    return found


def other_paths(app: FastAPI) -> set[str]:
    return {path for path, route in walk(app.routes) if not isinstance(route, APIRoute)}
