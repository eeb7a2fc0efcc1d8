"""Suite ``decide``: batch decisions against a plain pandas argmax; real-time latency.

Stages:

* ``batch`` — :func:`nextbest.services.decisioning.run_batch` on N synthetic customers × the
  shipped 15 offers: context, operational inputs from the (empty) SQLite store overlaid on
  seeded ones, every rule, global optimisation (LP on a sample, dual prices, repair), pricing,
  warehouse table ``batch_decision``, Parquet output and serving snapshot.
  With ``NEXTBEST_BENCH_DECIDE_HOME`` (an installation whose warehouse has a feature
  snapshot) the N customers are resampled with replacement from that real snapshot instead
  of generated (there is no 1M-customer warehouse to decide for otherwise).
* ``duals`` — the decomposition at scale: on a bank of N customers (synthetic, or the
  latest feature snapshot of ``$NEXTBEST_BENCH_DUALS_HOME``, a copy of an installation that
  ran ``understand``; policy limits scaled to the bank as sized for 1M customers), the LP
  dual prices of one sample applied to a second, disjoint sample (limits scaled by the
  sample share) against that sample's exact HiGHS optimum and against greedy; an
  independent checker (a plain loop, not the optimiser's code) re-adds every resource and
  re-checks every chosen pair against the rule codes.
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
import tempfile
import time
from pathlib import Path

from bench.harness import Stage

__all__ = ["CALLS", "CUSTOMERS", "DUALS", "stages"]

CUSTOMERS = {"small": 20_000, "medium": 200_000, "large": 1_000_000}
CALLS = {"small": 2_000, "medium": 5_000, "large": 10_000}
REALTIME_CUSTOMERS = 5_000
DUALS = {"small": (20_000, 5_000), "medium": (200_000, 50_000), "large": (200_000, 50_000)}
POSTGRES_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def stages(size: str, workdir: Path) -> list[Stage]:
    me = [sys.executable, "-m", "bench.suites.decide"]
    n, calls = str(CUSTOMERS[size]), str(CALLS[size])
    bank, sample = DUALS[size]
    real = os.environ.get("NEXTBEST_BENCH_DECIDE_HOME")  # resample its snapshot for "batch"
    resample = ["--resample-home", real] if real else []
    duals_home = os.environ.get("NEXTBEST_BENCH_DUALS_HOME")  # a copy of an understood bank
    where = ["--home", duals_home] if duals_home else ["--customers", str(bank)]
    return [
        Stage(
            "batch",
            [*me, "batch", "--customers", n, "--home", str(workdir / "decide"), *resample],
        ),
        Stage("duals", [*me, "duals", *where, "--sample", str(sample)]),
        Stage("pandas_argmax", [*me, "argmax", "--customers", n], True, "batch"),
        Stage(
            "realtime_sqlite", [*me, "realtime", "--calls", calls, "--home", str(workdir / "rt")]
        ),
        Stage(
            "realtime_postgresql",
            [*me, "realtime", "--calls", calls, "--home", str(workdir / "rtpg"), "--postgres"],
        ),
    ]


def batch(customers: int, home: Path, resample_home: Path | None = None) -> dict[str, object]:
    from nextbest.config import Settings
    from nextbest.services.decisioning import active_rules, build_context, run_batch

    home.mkdir(parents=True, exist_ok=True)
    given = None
    if resample_home is not None:  # a real snapshot resampled to the bench size
        from nextbest.opstore.store import open_opstore

        source = Settings(home=resample_home)
        store = open_opstore(source)
        try:
            catalogue = active_rules(store)[1]
        finally:
            store.dispose()
        real, kind, _ = build_context(source, catalogue)
        if kind != "snapshot":
            raise SystemExit(f"{resample_home}: no feature snapshot to resample")
        given = real.resample(customers, seed=1)
    started = time.perf_counter()
    report = run_batch(Settings(home=home), synthetic_customers=customers, seed=1, context=given)
    return {
        "rows": report.customers,
        "seconds": round(time.perf_counter() - started, 2),
        "steps": report.seconds,
        "steps_cpu": report.cpu_seconds,
        "warehouse_rows": report.warehouse_rows,
        "load_1min": round(os.getloadavg()[0], 2),
        "context": report.context_source,
        "snapshot_version": report.versions.get("snapshot"),
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
        overrides["opstore_url"] = url
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


def _checker(
    allowed: object, usage: object, limits: object, weight: object, assignment: object
) -> tuple[list[str], float]:
    """Independent of the optimiser: walk the customers, add up every resource, re-check
    that each chosen pair survived every rule (``allowed``); returns (violations, value)."""
    used = [0.0] * len(limits)  # type: ignore[arg-type]
    out: list[str] = []
    value = 0.0
    for i, j in enumerate(assignment.tolist()):  # type: ignore[attr-defined]
        if j < 0:
            continue
        if not allowed[i][j]:  # type: ignore[index]
            out.append(f"customer {i}: offer {j} was removed by a rule")
        value += float(weight[i][j])  # type: ignore[index]
        for k in range(len(used)):
            used[k] += float(usage[k][j])  # type: ignore[index]
    out += [f"resource {k} over" for k, u in enumerate(used) if u > float(limits[k]) + 1e-6]  # type: ignore[index]
    return out, value


def duals(customers: int, home: Path | None, sample: int, seed: int) -> dict[str, object]:
    """Dual prices of one sample applied to another (capacities scaled) vs its exact optimum.

    The bank is ``home``'s latest feature snapshot (a copy of an installation that ran
    ``understand``) with its operational store's inputs, or ``customers`` synthetic ones.
    """
    from datetime import UTC, datetime
    from datetime import time as dtime

    import numpy as np

    from nextbest.config import Settings
    from nextbest.decide import optimiser as opt
    from nextbest.decide.assignment import key_hashes
    from nextbest.decide.context import synthetic_context
    from nextbest.decide.engine import DecisionEngine
    from nextbest.decide.offers import load_catalogue
    from nextbest.decide.policies import load_policy
    from nextbest.decide.sources import synthetic_inputs
    from nextbest.opstore.store import open_opstore
    from nextbest.services.decisioning import batch_inputs, build_context

    at = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)
    policy, catalogue = load_policy(), load_catalogue()
    engine = DecisionEngine(policy, catalogue)
    started = time.perf_counter()
    if home is not None:
        settings = Settings(home=home)
        context, source, as_of = build_context(settings, catalogue)
        at = datetime.combine(as_of, dtime(2, 0), UTC) if as_of else at
        store = open_opstore(settings)
        try:
            inputs = batch_inputs(
                store, context.attributes["customer_key"], policy, catalogue, at, settings.timezone
            )
        finally:
            store.dispose()
    else:
        source = "synthetic"
        context = synthetic_context(customers, catalogue.ids, seed=seed)
        inputs = synthetic_inputs(context.customer_keys, policy, catalogue, f"inputs-{seed}")
    n = len(context)
    codes = engine.apply_operational(
        engine.static_codes(context, at.astimezone(engine.tz).date()),
        key_hashes(context.customer_keys),
        inputs,
        at,
    )
    # the shipped policy's budgets and capacities are sized for a 1,000,000-customer bank
    bank = opt.build_problem(
        catalogue,
        policy.spec.optimisation,
        engine.priorities(context),
        codes == 0,
        scale=n / 1_000_000,
    )
    prepared = time.perf_counter() - started
    order = np.random.default_rng(seed).permutation(n)
    size = min(sample, n // 2)
    first, second = order[:size], order[size : 2 * size]
    a, b = bank.take(first, size / n), bank.take(second, size / n)
    t0 = time.perf_counter()
    lp = opt.solve_lp(a)
    lp_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    decomposed = opt.apply_duals(b, lp.duals)
    apply_seconds = time.perf_counter() - t0
    greedy = opt.greedy(b)
    t0 = time.perf_counter()
    exact = opt.solve_exact(b, time_limit=600.0)
    exact_seconds = time.perf_counter() - t0
    survived = codes[second] == 0
    results = {}
    for name, assignment in (
        ("duals", decomposed),
        ("greedy", greedy),
        ("exact", exact.assignment),
    ):
        problems, value = _checker(survived, b.usage, b.limits, b.weight, assignment)
        results[name] = {"value": round(value, 2), "violations": len(problems)}
    best = exact.objective
    return {
        "rows": n,
        "source": source,
        "sample": size,
        "binding": [r for r, d in zip(a.resource_names, lp.duals.tolist(), strict=True) if d > 0],
        "seconds": {
            "prepare": round(prepared, 2),
            "lp_sample_a": round(lp_seconds, 2),
            "apply_duals_b": round(apply_seconds, 2),
            "exact_b": round(exact_seconds, 2),
        },
        "exact_status": exact.status,
        "exact_gap_to_bound": exact.gap,
        "lp_bound_b": round(opt.solve_lp(b).objective, 2),
        "checker": results,
        "duals_share_of_optimum": round(results["duals"]["value"] / best, 6) if best else None,
        "greedy_share_of_optimum": round(results["greedy"]["value"] / best, 6) if best else None,
        "gain_duals_over_greedy": (
            round(results["duals"]["value"] / results["greedy"]["value"] - 1, 6)
            if results["greedy"]["value"]
            else None
        ),
    }


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suites.decide")
    parser.add_argument("command", choices=["batch", "argmax", "realtime", "duals"])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--sample", type=int, default=50_000)
    parser.add_argument("--resample-home", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix=f"nextbest-bench-{args.command}-") as scratch:
        if args.command in ("batch", "realtime") and args.home is None:
            args.home = Path(scratch)  # no home given: a scratch one, removed afterwards
        print(json.dumps(_run(args)))
    return 0


def _run(args: argparse.Namespace) -> dict[str, object]:
    if args.command == "batch":
        return batch(args.customers, args.home, args.resample_home)
    if args.command == "duals":
        return duals(args.customers, args.home, args.sample, args.seed)
    if args.command == "argmax":
        return argmax(args.customers)
    return realtime(args.calls, args.home, args.postgres)


if __name__ == "__main__":
    raise SystemExit(_main())
