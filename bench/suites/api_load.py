"""Suite ``api_load``: ``nextbest serve`` under load against a bare ASGI hello-world.

Each stage starts a server in a child process on a free port (pinned to core 0 when the
machine has two) and drives it from another child (pinned to core 1) with a closed-loop
asyncio/httpx client: ``CONCURRENCY`` connections for ``SECONDS`` per endpoint. It reports
requests/s, p50/p99 latency and errors for ``GET /api/v1/health`` and ``POST /api/v1/decide``
(the baseline serves ``GET /`` from a bare ASGI app with the same uvicorn settings).

Not measured yet: the masked customer profile (needs a published copy with customers) and
a fixed-rate (open-loop) generator such as ``wrk2``/``hey -q``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import Stage

__all__ = ["stages"]

SECONDS = {"small": 5, "medium": 20, "large": 60}
CONCURRENCY = 8


def stages(size: str, workdir: Path) -> list[Stage]:
    def drive(target: str) -> list[str]:
        return [
            sys.executable, "-m", "bench.suites.api_load", target,
            "--workdir", str(workdir / target), "--seconds", str(SECONDS[size]),
        ]  # fmt: skip

    return [
        Stage("nextbest", drive("nextbest")),
        Stage("hello", drive("hello"), baseline=True, compare_to="nextbest"),
    ]


async def hello_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The baseline: the least an ASGI server can answer."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pin(core: int) -> None:
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {core})


def _start(argv: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    import httpx

    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {argv}")


async def _load(
    url: str, method: str, body: Any, headers: dict[str, str], seconds: float
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=10.0) as client:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    r = await client.request(method, url, json=body)
                    if r.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def q(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

    return {"requests": len(latencies), "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": q(0.50), "p99_ms": q(0.99), "errors": errors}  # fmt: skip


def _drive(url: str, method: str, body: Any, headers: dict[str, str], seconds: float) -> Any:
    """Run the load generator in its own process (pinned to the other core)."""
    argv = [sys.executable, "-m", "bench.suites.api_load", "load", "--url", url,
            "--method", method, "--body", json.dumps(body), "--headers", json.dumps(headers),
            "--seconds", str(seconds)]  # fmt: skip
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _prepare_nextbest(workdir: Path) -> tuple[dict[str, str], str]:
    """An installation with a batch run (synthetic customers) and a marketer's token."""
    from nextbest.config import Settings
    from nextbest.opstore.store import OperationalStore
    from nextbest.privacy.keys import KeyRing, init_keys
    from nextbest.services.audit import AuditService, anchor_path
    from nextbest.services.decisioning import run_batch
    from nextbest.services.users import UserService

    settings = Settings(home=workdir, opstore_url=f"sqlite:///{workdir / 'opstore.sqlite'}")
    workdir.mkdir(parents=True, exist_ok=True)
    init_keys(settings)
    store = OperationalStore(settings.opstore)
    store.migrate()
    run_batch(settings, synthetic_customers=10_000, seed=1, optimise=False)
    keyring = KeyRing.load(settings)
    users = UserService(store, keyring, AuditService(store, keyring, anchor_path(workdir)))
    users.create_user("bench.marketer", "bench", ["marketer"], "bench pass phrase 2026", actor="b")
    token = users.login("bench.marketer", "bench pass phrase 2026").access_token
    store.dispose()
    env = {**os.environ, "NEXTBEST_HOME": str(workdir), "NEXTBEST_OPSTORE_URL": settings.opstore}
    return env, token


def run_target(target: str, workdir: Path, seconds: float) -> dict[str, Any]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    pin = ["taskset", "-c", "0"] if (os.cpu_count() or 1) >= 2 else []
    if target == "hello":
        env = dict(os.environ)
        argv = [*pin, sys.executable, "-m", "uvicorn", "bench.suites.api_load:hello_app",
                "--port", str(port), "--log-level", "warning"]  # fmt: skip
        plans = [("hello", "GET", f"{base}/", None, {})]
    else:
        env, token = _prepare_nextbest(workdir)
        argv = [*pin, sys.executable, "-m", "nextbest.cli", "serve", "--port", str(port)]
        auth = {"Authorization": f"Bearer {token}"}
        body = {"customer_key": "cust0000042", "channel_context": "in_app"}
        plans = [
            ("health", "GET", f"{base}/api/v1/health", None, {}),
            ("decide", "POST", f"{base}/api/v1/decide", body, auth),
        ]
    server = _start(argv, env, f"{base}/")
    try:
        results = {name: _drive(url, m, b, h, seconds) for name, m, b, h, url in
                   [(n, m, b, h, u) for n, m, u, b, h in plans]}  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"rows": sum(r["requests"] for r in results.values()), "endpoints": results}


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suites.api_load")
    parser.add_argument("command", choices=["hello", "nextbest", "load"])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--url")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="null")
    parser.add_argument("--headers", default="{}")
    args = parser.parse_args()
    if args.command == "load":
        _pin(1)
        result = asyncio.run(_load(args.url, args.method, json.loads(args.body),
                                   json.loads(args.headers), args.seconds))  # fmt: skip
    else:
        result = run_target(args.command, args.workdir, args.seconds)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
