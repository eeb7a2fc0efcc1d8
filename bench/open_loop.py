"""A fixed-rate (open-loop) HTTP/1.1 load generator that corrects coordinated omission.

Request ``i`` is *scheduled* at ``start + i / rate`` whatever happened to earlier requests,
and its latency is measured from that scheduled time to the last byte of its answer: a
server that stalls is charged for every request that should have been sent meanwhile,
instead of the generator politely waiting for it (which is what closed-loop tools and
per-worker rate limits such as ``hey -q`` do). Requests go over a pool of keep-alive
connections; a request due while every connection is busy opens another one (up to
``max_connections``) or waits for one, its clock already running.

The generator itself must keep up: ``late_sends`` counts requests put on the wire more
than 1 ms after their scheduled time, and ``python -m bench.open_loop selftest`` runs it
against a trivial in-process server to show the rate it sustains on one core.

Run ``python -m bench.open_loop URL --rate 1000 --seconds 60 [--method POST --body JSON
--header 'Authorization: Bearer ...']``; the last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httptools

__all__ = ["LoadResult", "run_open_loop"]

LATE_S = 0.001


@dataclass(frozen=True)
class LoadResult:
    rate: float
    seconds: float
    scheduled: int
    completed: int
    errors: int
    statuses: dict[str, int]
    late_sends: int
    connections: int
    generator_cpu_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, owner: _Generator) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.scheduled = 0.0
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, scheduled: float, request: bytes) -> None:
        self.scheduled = scheduled
        self.busy = True
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail()

    def on_message_complete(self) -> None:
        self.busy = False
        self.owner.done(self, self.parser.get_status_code(), self.scheduled)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.busy:
            self._fail()
        self.owner.lost(self)

    def _fail(self) -> None:
        if self.busy:
            self.busy = False
            self.owner.done(self, 0, self.scheduled)
        if self.transport is not None:
            self.transport.close()


class _Generator:
    def __init__(
        self,
        url: str,
        method: str,
        bodies: list[bytes],
        headers: dict[str, str],
        max_connections: int,
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]

        def request(body: bytes) -> bytes:
            lines = head + (
                ["Content-Type: application/json", f"Content-Length: {len(body)}"] if body else []
            )
            return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

        # request i carries body i mod n (e.g. a different customer each time)
        self.requests = [request(b) for b in bodies or [b""]]
        self.sent = 0
        self.max_connections = max_connections
        self.idle: deque[_Connection] = deque()
        self.open: set[_Connection] = set()
        self.opening = 0
        self.waiting: deque[float] = deque()  # scheduled times of requests queued for a slot
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.errors = 0
        self.late = 0
        self.peak_connections = 0
        self.closing = False

    def done(self, conn: _Connection, status: int, scheduled: float) -> None:
        if self.closing:  # already counted as a timeout
            return
        self.latencies.append(time.perf_counter() - scheduled)
        key = str(status) if status else "connection error"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if not 200 <= status < 300:
            self.errors += 1
        if conn.transport is not None:
            self._give(conn)

    def lost(self, conn: _Connection) -> None:
        self.open.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    def _give(self, conn: _Connection) -> None:
        if self.waiting:
            self._send(conn, self.waiting.popleft())
        else:
            self.idle.append(conn)

    def _send(self, conn: _Connection, scheduled: float) -> None:
        if time.perf_counter() - scheduled > LATE_S:
            self.late += 1
        conn.send(scheduled, self.requests[self.sent % len(self.requests)])
        self.sent += 1

    async def _open(self) -> None:
        self.opening += 1
        try:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(lambda: _Connection(self), self.host, self.port)
        except OSError:
            self.opening -= 1
            if self.waiting:  # count the request that needed this connection as failed
                self.latencies.append(time.perf_counter() - self.waiting.popleft())
                self.statuses["connection error"] = self.statuses.get("connection error", 0) + 1
                self.errors += 1
            return
        self.opening -= 1
        self.open.add(conn)
        self.peak_connections = max(self.peak_connections, len(self.open))
        self._give(conn)

    def submit(self, scheduled: float) -> None:
        if self.idle:
            self._send(self.idle.popleft(), scheduled)
            return
        self.waiting.append(scheduled)
        if len(self.open) + self.opening < self.max_connections:
            asyncio.get_running_loop().create_task(self._open())

    def close(self) -> None:
        self.closing = True
        for conn in list(self.open):
            if conn.transport is not None:
                conn.transport.close()


async def _run(gen: _Generator, rate: float, seconds: float, warm: int, grace: float) -> float:
    # open the warm pool first so that connection set-up is not charged to the first requests
    await asyncio.gather(*(gen._open() for _ in range(warm)))
    total = int(rate * seconds)
    interval = 1.0 / rate
    start = time.perf_counter() + 0.05
    i = 0
    while i < total:
        now = time.perf_counter()
        while i < total and start + i * interval <= now:
            gen.submit(start + i * interval)
            i += 1
        if i < total:
            delay = start + i * interval - time.perf_counter()
            await asyncio.sleep(max(0.0, delay))
    deadline = time.perf_counter() + grace
    while len(gen.latencies) < total and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    missing = total - len(gen.latencies)
    if missing > 0:  # never answered within the grace period: errors at the grace latency
        gen.errors += missing
        gen.statuses["timeout"] = missing
        gen.latencies.extend([time.perf_counter() - start - seconds] * missing)
    gen.close()
    return start


def run_open_loop(
    url: str,
    *,
    rate: float,
    seconds: float,
    method: str = "GET",
    bodies: list[bytes] | None = None,
    headers: dict[str, str] | None = None,
    max_connections: int = 256,
    warm_connections: int = 16,
    grace: float = 5.0,
) -> LoadResult:
    """Send ``rate`` requests per second for ``seconds`` and summarise their latencies.

    ``bodies``: request ``i`` carries ``bodies[i % len(bodies)]`` (none: no body).
    """
    import uvloop

    gen = _Generator(url, method, bodies or [], headers or {}, max_connections)
    cpu = time.process_time()
    uvloop.run(_run(gen, rate, seconds, warm_connections, grace))
    cpu = time.process_time() - cpu
    lat = sorted(gen.latencies)

    def q(p: float) -> float:
        if not lat:
            return float("nan")
        return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 3)

    return LoadResult(
        rate=rate,
        seconds=seconds,
        scheduled=int(rate * seconds),
        completed=len(lat) - gen.statuses.get("timeout", 0),
        errors=gen.errors,
        statuses=dict(sorted(gen.statuses.items())),
        late_sends=gen.late,
        connections=gen.peak_connections,
        generator_cpu_s=round(cpu, 2),
        p50_ms=q(0.50),
        p90_ms=q(0.90),
        p99_ms=q(0.99),
        p999_ms=q(0.999),
        max_ms=q(1.0),
    )


async def _trivial(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            writer.write(answer)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def _serve_trivial(port: int, core: int | None) -> None:
    import uvloop

    if core is not None:
        os.sched_setaffinity(0, {core})

    async def main() -> None:
        server = await asyncio.start_server(_trivial, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.open_loop")
    parser.add_argument("url", help="target URL, or 'selftest'")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--core", type=int, help="pin the generator to this core")
    parser.add_argument("--max-connections", type=int, default=256)
    args = parser.parse_args()
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    headers = dict(h.split(": ", 1) for h in args.header)
    if args.url == "selftest":
        import multiprocessing
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = None if args.core is None else 1 - args.core
        server = multiprocessing.get_context("spawn").Process(
            target=_serve_trivial, args=(port, other), daemon=True
        )
        server.start()
        time.sleep(1.0)
        try:
            result = run_open_loop(
                f"http://127.0.0.1:{port}/",
                rate=args.rate,
                seconds=args.seconds,
                method=args.method,
                bodies=[args.body.encode()],
                headers=headers,
            )
        finally:
            server.terminate()
    else:
        result = run_open_loop(
            args.url,
            rate=args.rate,
            seconds=args.seconds,
            method=args.method,
            bodies=[args.body.encode()],
            headers=headers,
            max_connections=args.max_connections,
        )
    print(json.dumps(result.to_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
