"""A fast path for ``POST /api/v1/decide``, the one hot route (ASGI middleware).

FastAPI's routing, dependency solving and response re-validation cost about as much CPU
as the decision itself. For the common case this middleware answers directly with the
same pieces the route uses: the caller must already be in the credential cache (so the
credential was checked by the normal path less than a second ago) and hold
``decision:decide``, and the body must validate as :class:`DecideIn`. Anything else (no
or unknown credential, missing permission, invalid body, any error while deciding) is
handed unchanged to the FastAPI route, which authenticates, validates and answers with
problem details as usual. Deciding has no side effect before it succeeds (one
transaction), so handing over after an error repeats nothing that was done.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from nextbest.api.schemas import DecideIn
from nextbest.security.permissions import Permission

__all__ = ["DecideFastPath"]


class DecideFastPath:
    def __init__(self, app: Any, path: str) -> None:
        self.app = app
        self.path = path
        self.served = 0  # answered here (tests check that the fast path is taken)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        answer = self._answer(scope, body)
        if answer is None:
            replayed = {"type": "http.request", "body": body, "more_body": False}
            await self.app(scope, _replay([replayed], receive), send)
            return
        self.served += 1
        scope["endpoint"] = DecideFastPath  # the metrics label it with its route
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def _answer(self, scope: Any, body: bytes) -> bytes | None:
        from nextbest.api.routers.decisions import decide_now

        context = scope["app"].state.context
        credential = _credential(scope["headers"])
        if credential is None:
            return None
        principal = context.principals.get(credential)
        if principal is None or not principal.can(Permission.DECISION_DECIDE):
            return None
        try:
            request = DecideIn.model_validate_json(body)
        except ValidationError:
            return None
        try:
            out = decide_now(context, request, principal)
        except Exception:  # the route answers it properly (problem details)
            return None
        return out.model_dump_json().encode()


def _credential(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The credential the route's check would use (the API key first, else the bearer), for
    a JSON body only (the route decides what other content types get)."""
    key = token = None
    json_body = False
    for name, value in headers:
        if name == b"x-api-key":
            key = value.decode("latin-1") or None
        elif name == b"authorization" and value[:7].lower() == b"bearer ":
            token = value[7:].decode("latin-1").strip() or None
        elif name == b"content-type":
            json_body = value.split(b";")[0].strip().lower() == b"application/json"
    return (key or token) if json_body else None


def _replay(first: list[dict[str, Any]], receive: Any) -> Any:
    pending = list(first)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
