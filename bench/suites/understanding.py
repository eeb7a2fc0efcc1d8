"""Suite ``understanding``: the feature snapshot against hand-written DuckDB SQL.

Runs after ``ingest`` and reads the installation it left in ``WORKDIR/ingest-home`` (if that
is missing, the ``prepare`` stage generates and ingests a bank of the size first). The as-of
date is the world's last month end, the load cut-off the time of the run. Stages:

* ``prepare`` — nothing when the ingested installation exists (else generate + ingest).
* ``sql_baseline`` (baseline) — one hand-written DuckDB SQL statement over the same
  warehouse file: the transaction features of the snapshot (versions as known at the
  cut-off, event time up to the end of the as-of day; recency, counts, amounts and active
  days over 30/90/365 days, spending mix, channel mix, digital share, salary months and
  total, previous-quarter count) for every current customer, written to Parquet.
  It covers the transaction part only — the largest by far — not balances, holdings,
  app events, credit or risk, so the ratio *overstates* the snapshot's cost.
* ``snapshot`` — ``snapshot_features`` (every catalogue feature) for the same as-of date and
  cut-off, written to Parquet.
* ``understand`` — the whole step, ``nextbest understand run`` (snapshot, tags, lifecycle,
  rule and data-driven segments, RFM, CLV and value tiers), into the installation.

Each prints ``rows`` = transactions read, so rows/s compares like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bench.harness import Stage
from bench.suites.generate import CUSTOMERS, MONTHS, bank_dir
from bench.suites.ingest import MAPPING, export_dir

__all__ = ["AS_OF", "stages"]

AS_OF = date(2026, 10, 31)


def _home(workdir: Path) -> Path:
    return workdir / "ingest-home"


def stages(size: str, workdir: Path) -> list[Stage]:
    me = [sys.executable, "-m", "bench.suites.understanding"]
    home = str(_home(workdir))
    common = ["--home", home, "--as-of", AS_OF.isoformat()]
    return [
        Stage("prepare", [*me, "prepare", "--workdir", str(workdir), "--size", size]),
        Stage(
            "sql_baseline",
            [*me, "sql", *common, "--out", str(workdir / "baseline.parquet")],
            baseline=True,
            compare_to="snapshot",
        ),
        Stage("snapshot", [*me, "snapshot", *common, "--out", str(workdir / "snapshot.parquet")]),
        Stage("understand", [*me, "understand", *common]),
    ]


def _env(home: str) -> dict[str, str]:
    return {**os.environ, "NEXTBEST_HOME": home}


def prepare(workdir: Path, size: str) -> dict[str, object]:
    home = _home(workdir)
    if (home / "warehouse.duckdb").exists():
        return {"prepared": False}
    cli = [sys.executable, "-m", "nextbest.cli"]
    if not export_dir(workdir).exists():
        subprocess.run([*cli, "generate", "--customers", str(CUSTOMERS[size]), "--months",
                        str(MONTHS), "--seed", "1", "--out", str(bank_dir(workdir))],
                       check=True, env=_env(str(home)))  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([*cli, "init"], check=True, env=_env(str(home)), capture_output=True)
    subprocess.run([*cli, "ingest", str(export_dir(workdir)), "--mapping", str(MAPPING)],
                   check=True, env=_env(str(home)), capture_output=True)  # fmt: skip
    return {"prepared": True}


def _transactions(con: object, cutoff: datetime) -> int:
    sql = 'select count(*) from "transaction" where _loaded_at <= $c'
    return int(con.execute(sql, {"c": cutoff}).fetchone()[0])  # type: ignore[attr-defined]


def baseline_sql(as_of: date) -> str:
    """Hand-written SQL for the snapshot's transaction features (parameters $cutoff, $end)."""
    from nextbest.profile.catalogue import CHANNEL_MIX, SPEND_CATEGORIES

    spend = (
        "channel <> 'system' and days_ago < 365 and direction = 'debit' "
        "and merchant_category is not null and merchant_category <> 'none'"
    )
    cats = ",\n".join(
        f"  sum(amount) filter (where {spend} and merchant_category = '{c.value}') "
        f"as spend_{c.value}"
        for c in SPEND_CATEGORIES
    )
    chans = ",\n".join(
        f"  count(*) filter (where channel <> 'system' and days_ago < 90 "
        f"and channel = '{c.value}') as channel_{c.value}"
        for c in CHANNEL_MIX
    )
    windows = ",\n".join(
        f"  count(*) filter (where ci and days_ago < {w}) as txn_count_{w}d,\n"
        f"  sum(amount) filter (where ci and days_ago < {w}) as txn_amount_{w}d,\n"
        f"  count(distinct txn_date) filter (where ci and days_ago < {w}) as txn_days_{w}d"
        for w in (30, 90, 365)
    )
    y, m = divmod(as_of.year * 12 + as_of.month - 1 - 5, 12)
    salary_from = date(y, m + 1, 1).isoformat()
    return f"""
with versions as (
  select *, row_number() over (partition by txn_id order by _loaded_at desc, _batch_id desc) v
  from "transaction" where _loaded_at <= $cutoff
), t as (
  select customer_key, txn_id, cast(amount as double) amount, direction, channel,
         merchant_category, counterparty_type, channel <> 'system' ci,
         cast(timezone('Asia/Shanghai', txn_time) as date) txn_date,
         date '{as_of.isoformat()}' - cast(timezone('Asia/Shanghai', txn_time) as date) days_ago
  from versions where v = 1 and txn_time < $end
), agg as (
  select customer_key,
  max(txn_date) filter (where ci) as last_txn_date,
{windows},
  sum(amount) filter (where {spend}) as spend_amount_365d,
  count(*) filter (where ci and days_ago >= 90 and days_ago < 180) as txn_count_prev_90d,
  count(distinct year(txn_date) * 100 + month(txn_date)) filter (where direction = 'credit'
    and counterparty_type = 'employer' and txn_date >= date '{salary_from}') as salary_months_6m,
  sum(amount) filter (where direction = 'credit' and counterparty_type = 'employer'
    and txn_date >= date '{salary_from}') as salary_total_6m,
  count(*) filter (where ci and days_ago < 90 and channel in ('mobile_app', 'online_banking'))
    as digital_txn_90d,
{cats},
{chans}
  from t group by customer_key
), customers as (
  select distinct customer_key from customer where _loaded_at <= $cutoff
)
select c.customer_key, a.* exclude (customer_key)
from customers c left join agg a using (customer_key)
"""


def run_sql(home: Path, as_of: date, out: Path) -> dict[str, object]:
    import duckdb

    from nextbest.profile.features import SnapshotPoint

    cutoff = datetime.now(UTC)
    point = SnapshotPoint(as_of, cutoff)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = _transactions(con, cutoff)
        started = time.perf_counter()
        con.execute(f"copy ({baseline_sql(as_of)}) to '{out}' (format parquet)",
                    {"cutoff": cutoff, "end": point.day_end})  # fmt: skip
        seconds = time.perf_counter() - started
        customers = con.execute(f"select count(*) from '{out}'").fetchone()
    return {"rows": rows, "customers": customers[0] if customers else 0, "query_s": seconds}


def run_snapshot(home: Path, as_of: date, out: Path) -> dict[str, object]:
    import pyarrow.parquet as pq

    from nextbest.config import Settings
    from nextbest.profile.features import SnapshotPoint, snapshot_features
    from nextbest.warehouse import open_warehouse

    settings = Settings(home=home)
    cutoff = datetime.now(UTC)
    with open_warehouse(settings, read_only=True) as wh:
        rows = _transactions(wh.backend.con, cutoff)  # type: ignore[attr-defined]
        started = time.perf_counter()
        writer = None
        customers = 0
        expr = snapshot_features(wh, SnapshotPoint(as_of, cutoff, settings.timezone))
        for batch in wh.backend.to_pyarrow_batches(expr, chunk_size=250_000):
            if writer is None:
                writer = pq.ParquetWriter(out, batch.schema)
            writer.write_batch(batch)
            customers += batch.num_rows
        if writer is not None:
            writer.close()
        seconds = time.perf_counter() - started
    return {"rows": rows, "customers": customers, "query_s": seconds}


def run_understand(home: Path, as_of: date) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "nextbest.cli", "understand", "run", "--as-of",
         as_of.isoformat(), "--json"],
        check=True, env=_env(str(home)), capture_output=True, text=True,
    )  # fmt: skip
    report = json.loads(done.stdout)
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = _transactions(con, datetime.now(UTC))
    return {"rows": rows, "customers": report["customers"], "steps_s": report["seconds"]}


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suites.understanding")
    parser.add_argument("command", choices=["prepare", "sql", "snapshot", "understand"])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--size", default="small")
    args = parser.parse_args()
    if args.command == "prepare":
        result = prepare(args.workdir, args.size)
    elif args.command == "sql":
        result = run_sql(args.home, args.as_of, args.out)
    elif args.command == "snapshot":
        result = run_snapshot(args.home, args.as_of, args.out)
    else:
        result = run_understand(args.home, args.as_of)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
