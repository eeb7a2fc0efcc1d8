"""Dependencies shared by the routers, as ``Annotated`` aliases.

Every route declares exactly one :class:`RequirePermission` (``Allowed(...)`` in a
parameter, or ``PUBLIC`` in the route's dependencies). The route x role test finds it in
each route's dependency tree and fails for a route without one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from nextbest.api.context import ApiContext
from nextbest.security.errors import AccessDeniedError, AuthenticationError
from nextbest.security.permissions import Permission, Principal

__all__ = [
    "MAX_PAGE",
    "PUBLIC",
    "Allowed",
    "Context",
    "Limit",
    "Offset",
    "RequirePermission",
    "get_context",
]

MAX_PAGE = 200
MAX_OFFSET = 1_000_000

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_context(request: Request) -> ApiContext:
    # async (like the permission check below): run inline, not handed to the thread pool
    return request.app.state.context  # type: ignore[no-any-return]


Context = Annotated[ApiContext, Depends(get_context)]


class RequirePermission:
    """Authenticate the caller and check one permission (``None``: public route)."""

    def __init__(self, permission: Permission | None) -> None:
        self.permission = permission

    def __repr__(self) -> str:
        return f"RequirePermission({self.permission})"

    async def __call__(
        self,
        request: Request,
        context: Context,
        token: Annotated[str | None, Security(oauth2)] = None,
        api_key: Annotated[str | None, Security(api_key_header)] = None,
    ) -> Principal | None:
        if self.permission is None:
            return None
        credential = api_key or token
        if not credential:
            raise AuthenticationError("not authenticated: send a bearer token or X-API-Key")
        principal = context.principals.get(credential)
        if principal is None:
            if api_key:
                principal = context.users.principal_from_api_key(api_key)
            else:
                principal = context.users.principal_from_token(credential)
            context.principals.put(credential, principal)
        if not principal.can(self.permission):
            raise AccessDeniedError(f"permission {self.permission.value} is required")
        request.state.principal = principal
        return principal


def Allowed(permission: Permission) -> object:
    """``principal: Annotated[Principal, Allowed(P.X)]`` — the caller, checked for ``X``."""
    return Depends(RequirePermission(permission))


PUBLIC = Depends(RequirePermission(None))

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size (at most 200)")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")]
