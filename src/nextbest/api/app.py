"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from nextbest import __version__
from nextbest.api.context import ApiContext
from nextbest.api.errors import install_problem_handlers
from nextbest.api.fast_decide import DecideFastPath
from nextbest.api.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from nextbest.api.links import add_links
from nextbest.api.metrics import RequestMetrics
from nextbest.api.routers import ROUTERS
from nextbest.api.routers.health import metrics_router
from nextbest.config import Settings, load_settings

__all__ = ["API_PREFIX", "DOC_PATHS", "create_app"]

API_PREFIX = "/api/v1"
# Routes FastAPI itself adds (the schema and its viewer): public by design, no data.
DOC_PATHS = frozenset(
    {f"{API_PREFIX}/openapi.json", f"{API_PREFIX}/docs", f"{API_PREFIX}/docs/oauth2-redirect"}
)


def create_app(
    settings: Settings | None = None,
    *,
    context: ApiContext | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """Build the API.

    Parameters
    ----------
    settings:
        The installation; ``load_settings()`` when omitted.
    context:
        Already opened stores and services (tests); otherwise opened at start-up and closed
        at shutdown.
    max_body_bytes:
        Larger request bodies get 413 before they are read.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = context is None
        if own:
            app.state.context = ApiContext.open(settings or load_settings())
        try:
            yield
        finally:
            if own:
                app.state.context.close()

    app = FastAPI(
        title="nextbest",
        version=__version__,
        description="Precision marketing for retail banks. See docs/api.md.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        swagger_ui_oauth2_redirect_url=f"{API_PREFIX}/docs/oauth2-redirect",
        redoc_url=None,
        lifespan=lifespan,
    )
    if context is not None:
        app.state.context = context
    app.state.registry = CollectorRegistry()
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(metrics_router)
    app.add_middleware(DecideFastPath, path=f"{API_PREFIX}/decide")  # inside metrics and limit
    app.add_middleware(RequestMetrics, registry=app.state.registry)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:  # built once, with the links between operations
            app.openapi_schema = add_links(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
