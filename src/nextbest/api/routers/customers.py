"""``/customers``: search and profiles (masked by role), audited unmasking."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from nextbest.api.deps import Allowed, Context, Limit, Offset
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.schemas import CustomerOut, Page, UnmaskIn, page
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal
from nextbest.security.unmask import UnmaskRequest
from nextbest.services.customers import CustomerFilter, CustomerView

router = APIRouter(prefix="/customers", tags=["customers"], responses=PROBLEM_RESPONSES)

CustomerKey = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str | None, Query(min_length=1, max_length=64)]


def to_out(view: CustomerView) -> CustomerOut:
    return CustomerOut.model_validate(
        {
            "customer_key": view.customer_key,
            "identifiers": view.identifiers,
            "identifiers_masked": view.identifiers_masked,
            "attributes": view.attributes,
            "withheld": list(view.withheld),
            "erased": view.erased,
        }
    )


@router.get("")
def search(
    context: Context,
    principal: Annotated[Principal, Allowed(P.CUSTOMER_READ)],
    limit: Limit = 50,
    offset: Offset = 0,
    province: Text = None,
    city: Text = None,
    home_branch: Text = None,
    gender: Annotated[Literal["M", "F", "U"] | None, Query()] = None,
    source_system: Text = None,
    mobile: Annotated[str | None, Query(min_length=6, max_length=20)] = None,
    id_number: Annotated[str | None, Query(min_length=6, max_length=32)] = None,
) -> Page[CustomerOut]:
    """Find customers by attributes, or by mobile / ID number (looked up blind, audited)."""
    equals = {
        k: v
        for k, v in {
            "province": province,
            "city": city,
            "home_branch": home_branch,
            "gender": gender,
            "source_system": source_system,
        }.items()
        if v is not None
    }
    kind: Literal["mobile", "id_number"] | None = None
    value = None
    if mobile is not None:
        kind, value = "mobile", mobile
    elif id_number is not None:
        kind, value = "id_number", id_number
    result = context.customers.search(
        CustomerFilter(equals, kind, value), principal, limit=limit, offset=offset
    )
    return Page[CustomerOut].model_validate(
        page([to_out(v) for v in result.items], result.total, limit, offset)
    )


@router.get("/{customer_key}")
def profile(
    customer_key: CustomerKey,
    context: Context,
    principal: Annotated[Principal, Allowed(P.CUSTOMER_READ)],
) -> CustomerOut:
    """A customer's profile: identifiers masked, sensitive fields as the role allows."""
    return to_out(context.customers.profile(customer_key, principal))


@router.post("/{customer_key}/unmask")
def unmask(
    customer_key: CustomerKey,
    body: UnmaskIn,
    context: Context,
    principal: Annotated[Principal, Allowed(P.CUSTOMER_UNMASK)],
) -> CustomerOut:
    """Identifiers in clear, for a stated purpose and justification (audited)."""
    request = UnmaskRequest.parse(body.purpose.value, body.justification)
    return to_out(context.customers.profile(customer_key, principal, request))
