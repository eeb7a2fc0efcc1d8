"""``/auth``: OAuth2 password flow, refresh-token rotation, logout, who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from nextbest.api.deps import PUBLIC, Allowed, Context
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.schemas import MeOut, RefreshIn, TokenOut
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal

router = APIRouter(prefix="/auth", tags=["auth"], responses=PROBLEM_RESPONSES)


def _out(pair) -> TokenOut:  # type: ignore[no-untyped-def]
    return TokenOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post("/token", dependencies=[PUBLIC])
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], context: Context, request: Request
) -> TokenOut:
    """Log in with user name and password (OAuth2 password flow)."""
    client = request.client.host if request.client else ""
    return _out(context.users.login(form.username, form.password, client=client))


@router.post("/refresh", dependencies=[PUBLIC])
def refresh(body: RefreshIn, context: Context) -> TokenOut:
    """Exchange a refresh token for a new pair; the old refresh token stops working."""
    return _out(context.users.refresh(body.refresh_token))


@router.post("/logout", status_code=204, response_class=Response)
def logout(
    body: RefreshIn, context: Context, principal: Annotated[Principal, Allowed(P.SELF_READ)]
) -> Response:
    """Revoke the refresh token (and every token rotated from it)."""
    context.users.logout(body.refresh_token, actor=principal.subject)
    return Response(status_code=204)


@router.get("/me")
async def me(principal: Annotated[Principal, Allowed(P.SELF_READ)]) -> MeOut:
    return MeOut(
        subject=principal.subject,
        kind=principal.kind,  # type: ignore[arg-type]
        roles=sorted(principal.roles),
        permissions=sorted(principal.permissions),
    )
