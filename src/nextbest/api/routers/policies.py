"""``/policies/{name}``: read the active version, publish a new one (audited atomically)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from nextbest.api.deps import Allowed, Context
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.schemas import PolicyIn, PolicyOut
from nextbest.opstore.policies import PolicyRecord
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal

router = APIRouter(prefix="/policies", tags=["policies"], responses=PROBLEM_RESPONSES)

PolicyName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_.-]*$")]


def policy_out(record: PolicyRecord) -> PolicyOut:
    return PolicyOut(
        policy_name=record.policy_name,
        version=record.version,
        body=dict(record.body),
        checksum=record.checksum,
        status=record.status,
        created_at=record.created_at,
        created_by=record.created_by,
    )


@router.get("/{policy_name}")
def active(
    policy_name: PolicyName,
    context: Context,
    principal: Annotated[Principal, Allowed(P.POLICY_READ)],
) -> PolicyOut:
    return policy_out(context.policy_admin.active(policy_name))


@router.put("/{policy_name}")
def publish(
    policy_name: PolicyName,
    body: PolicyIn,
    context: Context,
    principal: Annotated[Principal, Allowed(P.POLICY_WRITE)],
) -> PolicyOut:
    """Publish the next version; the change and its audit entry commit together."""
    return policy_out(context.policy_admin.publish(policy_name, body.body, actor=principal.subject))
