"""``/privacy/{key}``: data-subject requests (export, withdraw consent, erase), legal holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from nextbest.api.deps import Allowed, Context
from nextbest.api.errors import PROBLEM_RESPONSES
from nextbest.api.routers.consents import consent_out
from nextbest.api.routers.customers import CustomerKey
from nextbest.api.schemas import (
    ConsentOut,
    ErasureOut,
    ExportOut,
    LegalHoldIn,
    LegalHoldOut,
    ReferenceIn,
    WithdrawIn,
)
from nextbest.security.permissions import Permission as P
from nextbest.security.permissions import Principal
from nextbest.services.customers import json_scalar

router = APIRouter(prefix="/privacy", tags=["privacy"], responses=PROBLEM_RESPONSES)


@router.post("/{customer_key}/export")
def export(
    customer_key: CustomerKey,
    body: ReferenceIn,
    context: Context,
    principal: Annotated[Principal, Allowed(P.DSR_EXPORT)],
) -> ExportOut:
    """Everything held about the data subject, for handing to them (audited)."""
    result = context.requests.export(customer_key, body.reference, actor=principal.subject)
    return ExportOut(
        customer_key=result.customer_key,
        exported_at=result.exported_at,
        identifiers=result.identifiers,  # type: ignore[arg-type]
        attributes={k: json_scalar(v) for k, v in result.attributes.items()},
        consents=[consent_out(c) for c in result.consents],
        legal_hold=result.legal_hold,
        erased=result.erased,
    )


@router.post("/{customer_key}/withdraw-consent")
def withdraw(
    customer_key: CustomerKey,
    body: WithdrawIn,
    context: Context,
    principal: Annotated[Principal, Allowed(P.CONSENT_WRITE)],
) -> list[ConsentOut]:
    """Withdraw the purposes (all when empty) on every channel, effective immediately."""
    states = context.requests.withdraw_consent(
        customer_key,
        body.reference,
        actor=principal.subject,
        purposes=tuple(p.value for p in body.purposes),
    )
    return [consent_out(s) for s in states]


@router.post("/{customer_key}/erase")
def erase(
    customer_key: CustomerKey,
    body: ReferenceIn,
    context: Context,
    principal: Annotated[Principal, Allowed(P.DSR_ERASE)],
) -> ErasureOut:
    """Crypto-shred the customer's identifiers (refused with 409 under legal hold)."""
    tombstone = context.requests.erase(customer_key, body.reference, actor=principal.subject)
    return ErasureOut(
        customer_key=tombstone.customer_key,
        erased_at=tombstone.erased_at,
        erased_by=tombstone.erased_by,
    )


@router.put("/{customer_key}/legal-hold")
def place_hold(
    customer_key: CustomerKey,
    body: LegalHoldIn,
    context: Context,
    principal: Annotated[Principal, Allowed(P.LEGAL_HOLD_MANAGE)],
) -> LegalHoldOut:
    context.requests.place_legal_hold(customer_key, body.reason, actor=principal.subject)
    return LegalHoldOut(customer_key=customer_key, on_hold=True)


@router.delete("/{customer_key}/legal-hold")
def release_hold(
    customer_key: CustomerKey,
    context: Context,
    principal: Annotated[Principal, Allowed(P.LEGAL_HOLD_MANAGE)],
) -> LegalHoldOut:
    context.requests.release_legal_hold(customer_key, actor=principal.subject)
    return LegalHoldOut(customer_key=customer_key, on_hold=False)
