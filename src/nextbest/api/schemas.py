"""Request and response bodies (pydantic). ``*In`` are inputs, ``*Out`` outputs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from nextbest.domain.enums import ConsentPurpose, ConsentStatus, ContactChannel
from nextbest.security.permissions import Permission, Role
from nextbest.security.unmask import MIN_JUSTIFICATION, UnmaskPurpose

T = TypeVar("T")

Scalar = str | int | float | bool | None
ChannelOrAll = ContactChannel | Literal["all"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    following = offset + limit
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following if following < total else None,
    }


# --- auth ---------------------------------------------------------------------------------
class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class MeOut(BaseModel):
    subject: str
    kind: Literal["user", "api_key"]
    roles: list[Role]
    permissions: list[Permission]


# --- customers ----------------------------------------------------------------------------
class Identifiers(BaseModel):
    name: str | None
    id_number: str | None
    mobile: str | None
    email: str | None


class CustomerOut(BaseModel):
    customer_key: str
    identifiers: Identifiers
    identifiers_masked: bool
    attributes: dict[str, Scalar]
    withheld: list[str]
    erased: bool


class UnmaskIn(Strict):
    purpose: UnmaskPurpose
    justification: str = Field(min_length=MIN_JUSTIFICATION, max_length=500, pattern=r"\S")


# --- consents -----------------------------------------------------------------------------
class ConsentOut(BaseModel):
    customer_key: str
    purpose: str
    channel: str
    status: str
    event_time: datetime
    source: str


class ConsentIn(Strict):
    purpose: ConsentPurpose
    channel: ChannelOrAll = "all"
    status: ConsentStatus


# --- data-subject requests ----------------------------------------------------------------
class ReferenceIn(Strict):
    reference: str = Field(min_length=4, max_length=100, pattern=r"^\S.*\S$")


class WithdrawIn(ReferenceIn):
    purposes: list[ConsentPurpose] = Field(default_factory=list, max_length=10)


class LegalHoldIn(Strict):
    reason: str = Field(min_length=4, max_length=100, pattern=r"^\S.*\S$")


class ExportOut(BaseModel):
    customer_key: str
    exported_at: datetime
    identifiers: Identifiers
    attributes: dict[str, Scalar]
    consents: list[ConsentOut]
    legal_hold: bool
    erased: bool


class ErasureOut(BaseModel):
    customer_key: str
    erased_at: datetime
    erased_by: str


class LegalHoldOut(BaseModel):
    customer_key: str
    on_hold: bool


# --- users, roles, API keys ---------------------------------------------------------------
Username = Field(min_length=2, max_length=64, pattern=r"^[a-z][a-z0-9._-]{1,63}$")


class UserOut(BaseModel):
    username: str
    display_name: str
    is_active: bool
    roles: list[str]


class UserIn(Strict):
    username: str = Username
    display_name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1, max_length=7)
    password: str = Field(min_length=12, max_length=200)


class UserPatch(Strict):
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=7)
    is_active: bool | None = None


class RoleOut(BaseModel):
    role: Role
    permissions: list[Permission]


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    roles: list[Role] = Field(min_length=1, max_length=7)


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    roles: list[str]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class IssuedApiKeyOut(ApiKeyOut):
    key: str = Field(description="Shown once; only its hash is stored")


# --- audit --------------------------------------------------------------------------------
class AuditEntryOut(BaseModel):
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str | None
    detail: dict[str, Any]


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    anchors: int
    problems: list[str]


# --- events, batches, policies, health ----------------------------------------------------
class EventIn(Strict):
    event_type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.]*$")
    customer_key: str | None = Field(default=None, min_length=1, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict)


class EventAcceptedOut(BaseModel):
    id: int
    event_type: str


class BatchOut(BaseModel):
    batch_id: str
    source: str
    mapping: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    rows_loaded: int
    rows_flagged: int
    rows_rejected: int
    rows_queued: int
    message: str | None


class PolicyIn(Strict):
    body: dict[str, Any]


class PolicyOut(BaseModel):
    policy_name: str
    version: int
    body: dict[str, Any]
    checksum: str
    status: str
    created_at: datetime
    created_by: str


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    opstore: Literal["ok", "unreachable"]
    published: str | None
    version: str


# --- decisions ----------------------------------------------------------------------------
ContextKey = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
]
ContextValue = Annotated[str, StringConstraints(max_length=100)]


class DecideIn(Strict):
    customer_key: str = Field(min_length=1, max_length=64)
    channel_context: ContactChannel | None = Field(
        default=None, description="Where the customer is now (e.g. in_app): favours its channels"
    )
    context: dict[ContextKey, ContextValue] = Field(
        default_factory=dict, max_length=20, description="Further real-time context KEY=VALUE"
    )


class DecisionOut(BaseModel):
    decision_id: str
    customer_key: str
    offer_id: str | None
    channel: str | None
    campaign_id: str | None
    priority: float | None
    price: float | None
    decided_at: datetime
    snapshot_run: str
    versions: dict[str, str]
    explanation: dict[str, Any]


class OutcomeIn(Strict):
    outcome: Literal["accepted", "rejected"]


class OutcomeOut(BaseModel):
    decision_id: str
    customer_key: str
    offer_id: str | None
    outcome: str | None
    outcome_at: datetime | None


class BatchRunOut(BaseModel):
    run_id: str
    as_of: str | None
    snapshot_version: str
    model_version: str
    policy_version: str
    catalogue_version: str
    customers: int
    with_offer: int
    by_offer: dict[str, int]


class BatchDecisionOut(BaseModel):
    customer_key: str
    offer_id: str | None
    channel: str | None
    campaign_id: str | None
    priority: float | None
    price: float | None


class BatchDecisionsOut(Page[BatchDecisionOut]):
    run: BatchRunOut


class OfferOut(BaseModel):
    offer_id: str
    product_id: str
    product_family: str | None = None
    product_risk: str | None = None
    channel: str
    purpose: str
    campaign_id: str
    message: str
    cost_per_contact: float
    min_aum: float
    regions: list[str]


# --- understanding, models and scores -----------------------------------------------------
class DatedPage(Page[T], Generic[T]):
    """A page of results from one as-of date (``null`` before the first understanding run);
    ``withheld`` names sensitive fields nulled for this caller."""

    as_of: date | None
    withheld: list[str] = Field(default_factory=list)


class TagOut(BaseModel):
    code: str
    zh: str
    en: str
    category: str
    version: int
    customers: int


class SegmentOut(BaseModel):
    scheme: str
    segment: str
    label_zh: str | None
    label_en: str | None
    customers: int
    description: str | None


class StageCountOut(BaseModel):
    stage: str
    zh: str
    customers: int


class LifecycleOut(BaseModel):
    as_of: date | None
    stages: list[StageCountOut]


class ClvOut(BaseModel):
    customer_key: str
    clv: float | None
    margin_clv: float | None
    expected_loss_clv: float | None
    monthly_survival: float | None
    probability_of_default: float | None
    value_tier: str
    budget_strategy: str


class CustomerTagOut(BaseModel):
    code: str
    zh: str
    category: str
    version: int


class CustomerInsightOut(BaseModel):
    customer_key: str
    as_of: date
    tags: list[CustomerTagOut]
    segments: dict[str, str]
    lifecycle_stage: str | None
    previous_stage: str | None
    rfm: dict[str, Scalar] | None
    clv: dict[str, Scalar] | None
    withheld: list[str]


class CustomerScoresOut(BaseModel):
    customer_key: str
    run_id: str
    model_version: str
    propensity: dict[str, float | None]
    expected_value: dict[str, float | None] | None
    probability_of_default: float | None
    withheld: list[str]


class ModelOut(BaseModel):
    name: str
    version: str
    kind: str
    status: Literal["champion", "challenger"]
    data_window: list[str]
    features: int
    metrics: dict[str, Scalar]
    seed: int
    code_version: str
    created_at: str
