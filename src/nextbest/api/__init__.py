"""The REST API (FastAPI, under ``/api/v1``): thin routers that call the services.

``create_app(settings)`` builds the application; ``nextbest serve`` runs it with uvicorn.
"""

from __future__ import annotations

from nextbest.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
