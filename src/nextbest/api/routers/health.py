"""``/health`` (liveness and readiness) and Prometheus ``/metrics`` (mounted at the root)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from nextbest import __version__
from nextbest.api.deps import PUBLIC, Context
from nextbest.api.schemas import HealthOut

router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"])


@router.get("/health", dependencies=[PUBLIC])
def health(context: Context) -> HealthOut:
    try:
        with context.store.session(readonly=True) as s:
            s.execute(text("SELECT 1"))
        opstore = "ok"
    except Exception:
        opstore = "unreachable"
    published = context.published.version()
    status = "ok" if opstore == "ok" and published else "degraded"
    return HealthOut(
        status=status,  # type: ignore[arg-type]
        opstore=opstore,  # type: ignore[arg-type]
        published=published,
        version=__version__,
    )


@metrics_router.get(
    "/metrics",
    dependencies=[PUBLIC],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Prometheus text exposition (request counts and latency per route)."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
