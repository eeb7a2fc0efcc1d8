"""Problem details (RFC 9457) for every error, naming the field at fault where there is one."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from nextbest.errors import NextbestError
from nextbest.opstore.consents import ConsentError
from nextbest.opstore.vault import LegalHoldError
from nextbest.security.errors import AccessDeniedError, AccountLockedError, AuthenticationError
from nextbest.services.customers import CustomerNotFoundError, NotPublishedError
from nextbest.services.decision_access import (
    DecisionNotFoundError,
    NoServingSnapshotError,
    NotInSnapshotError,
)
from nextbest.services.insights import InsightNotFoundError
from nextbest.services.policy_admin import PolicyNotFoundError
from nextbest.services.users import DuplicateUserError, UserNotFoundError

__all__ = [
    "PROBLEM_RESPONSES",
    "FieldProblem",
    "Problem",
    "ResourceNotFoundError",
    "install_problem_handlers",
]

PROBLEM_TYPE = "about:blank"
MEDIA_TYPE = "application/problem+json"


class ResourceNotFoundError(NextbestError):
    """A named resource (policy, ...) does not exist."""


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` lists each invalid field."""

    type: str = PROBLEM_TYPE
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    423: "Locked",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

# Order matters: the first matching class wins (subclasses before their bases).
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (AccountLockedError, 423),
    (AuthenticationError, 401),
    (AccessDeniedError, 403),
    (CustomerNotFoundError, 404),
    (UserNotFoundError, 404),
    (ResourceNotFoundError, 404),
    (NotInSnapshotError, 404),
    (DecisionNotFoundError, 404),
    (PolicyNotFoundError, 404),
    (InsightNotFoundError, 404),
    (DuplicateUserError, 409),
    (LegalHoldError, 409),
    (NotPublishedError, 503),
    (NoServingSnapshotError, 503),
    (ConsentError, 422),
    (NextbestError, 422),
)

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": _TITLES[status]}
    for status in (400, 401, 403, 404, 409, 413, 422, 423, 503)
}


def problem_response(
    status: int,
    detail: str,
    request: Request,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _field_name(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldProblem(field=_field_name(tuple(e.get("loc", ()))), message=str(e.get("msg")))
            for e in exc.errors()
        ]
        first = errors[0] if errors else FieldProblem(field="request", message="invalid")
        return problem_response(422, f"{first.field}: {first.message}", request, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code, str(exc.detail), request, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(NextbestError)
    async def _domain(request: Request, exc: NextbestError) -> JSONResponse:
        status = next(code for cls, code in _STATUS if isinstance(exc, cls))
        message = str(exc)
        field, sep, rest = message.partition(": ")
        errors = None
        if sep and field.replace("_", "").replace(".", "").isalnum() and " " not in field:
            errors = [FieldProblem(field=field, message=rest)]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem_response(status, message, request, errors, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # No internals (or personal data in messages) leak to the caller.
        return problem_response(500, "internal error; see the server log", request)
