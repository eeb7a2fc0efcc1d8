"""Purpose-bound unmasking: clear identifiers need a permission AND a stated purpose.

The purpose is chosen from a closed list (so reports can count by purpose) and comes with a
free-text justification (a ticket or case number); both go into the audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nextbest.errors import NextbestError

__all__ = ["MIN_JUSTIFICATION", "UnmaskPurpose", "UnmaskRequest", "UnmaskRequestError"]

MIN_JUSTIFICATION = 8


class UnmaskPurpose(StrEnum):
    CUSTOMER_SERVICE = "customer_service"  # the customer is on the line or at the counter
    COMPLAINT_HANDLING = "complaint_handling"
    DATA_SUBJECT_REQUEST = "data_subject_request"
    FRAUD_INVESTIGATION = "fraud_investigation"
    REGULATORY_INQUIRY = "regulatory_inquiry"


class UnmaskRequestError(NextbestError):
    """Missing or unknown purpose, or a justification too short to identify the case."""


@dataclass(frozen=True, slots=True)
class UnmaskRequest:
    purpose: UnmaskPurpose
    justification: str

    @classmethod
    def parse(cls, purpose: str | None, justification: str | None) -> UnmaskRequest:
        if not purpose:
            raise UnmaskRequestError("purpose: required to see identifiers in clear")
        try:
            chosen = UnmaskPurpose(purpose)
        except ValueError:
            valid = ", ".join(p.value for p in UnmaskPurpose)
            raise UnmaskRequestError(f"purpose: unknown {purpose!r}; one of {valid}") from None
        text = (justification or "").strip()
        if len(text) < MIN_JUSTIFICATION:
            raise UnmaskRequestError(
                f"justification: at least {MIN_JUSTIFICATION} characters naming the case or ticket"
            )
        return cls(chosen, text)
