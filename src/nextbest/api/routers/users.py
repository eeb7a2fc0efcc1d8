"""``/users``, ``/roles`` and ``/api-keys``: accounts, the permission matrix, integrations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from nextbest.api.deps import Allowed, Context, Limit, Offset
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.schemas import (
    ApiKeyIn,
    ApiKeyOut,
    IssuedApiKeyOut,
    Page,
    RoleOut,
    UserIn,
    UserOut,
    UserPatch,
    page,
)
from nextbest.opstore.users import UserRecord
from nextbest.security.permissions import MATRIX, Principal, Role
from nextbest.security.permissions import Permission as P
from nextbest.services.users import ApiKeyInfo

router = APIRouter(tags=["users"], responses=PROBLEM_RESPONSES)

Username = Annotated[str, Path(min_length=2, max_length=64, pattern=r"^[a-z][a-z0-9._-]{1,63}$")]
KeyId = Annotated[str, Path(min_length=12, max_length=12, pattern=r"^[0-9a-f]{12}$")]


def user_out(record: UserRecord) -> UserOut:
    return UserOut(
        username=record.username,
        display_name=record.display_name,
        is_active=record.is_active,
        roles=sorted(record.roles),
    )


def key_out(info: ApiKeyInfo) -> ApiKeyOut:
    return ApiKeyOut(
        key_id=info.key_id,
        name=info.name,
        roles=list(info.roles),
        created_by=info.created_by,
        created_at=info.created_at,
        revoked_at=info.revoked_at,
    )


@router.get("/users")
def list_users(
    context: Context,
    principal: Annotated[Principal, Allowed(P.USER_READ)],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[UserOut]:
    records, total = context.users.list_users(limit=limit, offset=offset)
    return Page[UserOut].model_validate(page([user_out(r) for r in records], total, limit, offset))


@router.post("/users", status_code=201)
def create_user(
    body: UserIn, context: Context, principal: Annotated[Principal, Allowed(P.USER_MANAGE)]
) -> UserOut:
    record = context.users.create_user(
        body.username,
        body.display_name,
        [r.value for r in body.roles],
        body.password,
        actor=principal.subject,
    )
    return user_out(record)


@router.get("/users/{username}")
def get_user(
    username: Username, context: Context, principal: Annotated[Principal, Allowed(P.USER_READ)]
) -> UserOut:
    return user_out(context.users.get(username))


@router.patch("/users/{username}")
def update_user(
    username: Username,
    body: UserPatch,
    context: Context,
    principal: Annotated[Principal, Allowed(P.USER_MANAGE)],
) -> UserOut:
    """Change roles and/or (de)activate; deactivation revokes the user's refresh tokens."""
    record = context.users.get(username)
    if body.roles is not None:
        record = context.users.set_roles(
            username, [r.value for r in body.roles], actor=principal.subject
        )
    if body.is_active is not None:
        record = context.users.set_active(username, body.is_active, actor=principal.subject)
    context.principals.clear()  # takes effect on the next request
    return user_out(record)


@router.get("/roles")
def roles(principal: Annotated[Principal, Allowed(P.USER_READ)]) -> list[RoleOut]:
    """The permission matrix."""
    return [RoleOut(role=r, permissions=sorted(MATRIX[r])) for r in Role]


@router.get("/api-keys")
def list_keys(
    context: Context, principal: Annotated[Principal, Allowed(P.APIKEY_MANAGE)]
) -> list[ApiKeyOut]:
    return [key_out(k) for k in context.users.list_api_keys()]


@router.post("/api-keys", status_code=201)
def create_key(
    body: ApiKeyIn, context: Context, principal: Annotated[Principal, Allowed(P.APIKEY_MANAGE)]
) -> IssuedApiKeyOut:
    """Create a key for an integration; the key is in this answer only."""
    issued = context.users.create_api_key(
        body.name, [r.value for r in body.roles], actor=principal.subject
    )
    return IssuedApiKeyOut(**key_out(issued.info).model_dump(), key=issued.key)


@router.delete("/api-keys/{key_id}", status_code=204, response_class=Response)
def revoke_key(
    key_id: KeyId, context: Context, principal: Annotated[Principal, Allowed(P.APIKEY_MANAGE)]
) -> Response:
    context.users.revoke_api_key(key_id, actor=principal.subject)
    context.principals.clear()
    return Response(status_code=204)
