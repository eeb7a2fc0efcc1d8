"""Suite ``decide``: batch decisions against a plain pandas argmax; real-time latency.

Stages:

* ``batch`` — :func:`nextbest.services.decisioning.run_batch` on N synthetic customers × the
  shipped 15 offers: context, operational inputs from the (empty) SQLite store overlaid on
  seeded ones, every rule, global optimisation (LP on a sample, dual prices, repair), pricing,
  Parquet output and serving snapshot.
* ``pandas_argmax`` (baseline) — the same synthetic context, priority = propensity × value ×
  lever, ``idxmax`` per customer with pandas; no rule, no store, no optimisation.
* ``realtime_sqlite`` / ``realtime_postgresql`` — ``DecisionService.decide_one`` called
  sequentially for sampled customers (with marketing consent recorded) in one process:
  p50/p99 per call including the operational reads, the cap reservation and the decision
  record (wall clock, and the calling thread's CPU time, which a loaded shared machine's
  preemptions do not inflate), with the 1-minute load average before and after.
  PostgreSQL runs when ``NEXTBEST_TEST_POSTGRES_URL`` (or the local default)
  answers; otherwise the stage reports why it did not.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path

from bench.harness import Stage

__all__ = ["CALLS", "CUSTOMERS", "stages"]

CUSTOMERS = {"small": 20_000, "medium": 200_000, "large": 1_000_000}
CALLS = {"small": 2_000, "medium": 5_000, "large": 10_000}
REALTIME_CUSTOMERS = 5_000
POSTGRES_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def stages(size: str, workdir: Path) -> list[Stage]:
    me = [sys.executable, "-m", "bench.suites.decide"]
    n, calls = str(CUSTOMERS[size]), str(CALLS[size])
    return [
        Stage("batch", [*me, "batch", "--customers", n, "--home", str(workdir / "decide")]),
        Stage("pandas_argmax", [*me, "argmax", "--customers", n], True, "batch"),
        Stage(
            "realtime_sqlite", [*me, "realtime", "--calls", calls, "--home", str(workdir / "rt")]
        ),
        Stage(
            "realtime_postgresql",
            [*me, "realtime", "--calls", calls, "--home", str(workdir / "rtpg"), "--postgres"],
        ),
    ]


def batch(customers: int, home: Path) -> dict[str, object]:
    from nextbest.config import Settings
    from nextbest.services.decisioning import run_batch

    home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = run_batch(Settings(home=home), synthetic_customers=customers, seed=1)
    return {
        "rows": report.customers,
        "seconds": round(time.perf_counter() - started, 2),
        "steps": report.seconds,
        "with_offer": report.with_offer,
        "gain_over_greedy": report.gain_over_greedy,
        "violations": len(report.violations),
    }


def argmax(customers: int) -> dict[str, object]:
    import numpy as np
    import pandas as pd

    from nextbest.decide.context import synthetic_context
    from nextbest.decide.offers import load_catalogue

    started = time.perf_counter()
    catalogue = load_catalogue()
    context = synthetic_context(customers, catalogue.ids, seed=1)
    levers = np.array([o.lever for o in catalogue])
    frame = pd.DataFrame(context.propensity * context.value * levers, columns=list(catalogue.ids))
    best = frame.idxmax(axis=1)
    return {
        "rows": customers,
        "seconds": round(time.perf_counter() - started, 2),
        "offers_chosen": int(best.nunique()),
    }


def _postgres_settings_url() -> tuple[str | None, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = os.environ.get("NEXTBEST_TEST_POSTGRES_URL") or POSTGRES_DEFAULT
    schema = f"nbbench_{secrets.token_hex(4)}"
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception as exc:
        return None, f"PostgreSQL not reachable: {type(exc).__name__}"
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False), schema


def _drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ.get("NEXTBEST_TEST_POSTGRES_URL") or POSTGRES_DEFAULT)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def realtime(calls: int, home: Path, postgres: bool) -> dict[str, object]:
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from nextbest.config import Settings
    from nextbest.opstore.consents import ConsentEvent, ConsentLedger
    from nextbest.opstore.store import open_opstore
    from nextbest.services.decisioning import DecisionService, run_batch

    home.mkdir(parents=True, exist_ok=True)
    schema = None
    overrides: dict[str, object] = {"home": home}
    if postgres:
        url, schema = _postgres_settings_url()
        if url is None:
            return {"backend": "postgresql", "not_run": schema}
        overrides["opstore"] = url
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
        at = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)  # 10:00 bank time, outside quiet hours
        run_batch(settings, synthetic_customers=REALTIME_CUSTOMERS, seed=2, optimise=False, at=at)
        opstore = open_opstore(settings)
        keys = [f"cust{i:07d}" for i in range(REALTIME_CUSTOMERS)]
        ConsentLedger(opstore).record(
            [ConsentEvent(k, "marketing", "all", "granted", at - timedelta(days=1), "bench")
             for k in keys]
        )  # fmt: skip
        service = DecisionService(settings, opstore)
        rng = np.random.default_rng(0)
        chosen = rng.choice(keys, calls)
        for k in chosen[:50]:  # warm-up: caches, static codes of the day, connections
            service.decide_one(str(k), at=at)
        laps = np.empty(calls)
        cpu = np.empty(calls)
        offers = 0
        load_before = os.getloadavg()[0]
        for i, k in enumerate(chosen):
            c0, t0 = time.thread_time(), time.perf_counter()
            made = service.decide_one(str(k), {"in_app": "true"}, at=at)
            laps[i] = time.perf_counter() - t0
            cpu[i] = time.thread_time() - c0
            offers += made.decision.offer_id is not None
        load_after = os.getloadavg()[0]
        service.close()
        opstore.dispose()
    finally:
        if schema is not None and postgres:
            _drop_schema(schema)
    ms = laps * 1000
    return {
        "backend": "postgresql" if postgres else "sqlite",
        "rows": calls,
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "over_2ms": int((ms > 2).sum()),
        "cpu_p50_ms": round(float(np.percentile(cpu * 1000, 50)), 3),
        "cpu_p99_ms": round(float(np.percentile(cpu * 1000, 99)), 3),
        "load_1min": [round(load_before, 2), round(load_after, 2)],
        "with_offer": offers,
    }


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suites.decide")
    parser.add_argument("command", choices=["batch", "argmax", "realtime"])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.command == "batch":
        result = batch(args.customers, args.home)
    elif args.command == "argmax":
        result = argmax(args.customers)
    else:
        result = realtime(args.calls, args.home, args.postgres)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
