"""Suite ``understanding``: the feature snapshot against hand-written DuckDB SQL and pandas.

Runs after ``ingest`` and reads the installation it left in ``WORKDIR/ingest-home``. If that
is missing, ``prepare`` builds one: at ``small`` it generates and ingests a bank of the size;
at ``medium`` and ``large`` it generates and ingests 1/5 and 1/50 of the size (20,000
customers) through the real pipeline and then copies every customer's rows inside DuckDB with
suffixed keys (:func:`replicate`) up to 100,000 / 1,000,000 customers, because ingesting the
large bank itself does not fit this machine yet (see :data:`REPLICAS`). The as-of date is the
world's last month end, the load cut-off the time of the run. Stages:

* ``prepare`` — nothing when the installation exists (else generate, ingest, replicate).
* ``sql_baseline`` (baseline) — one hand-written DuckDB SQL statement over the same
  warehouse file: the transaction features of the snapshot (versions as known at the
  cut-off, chosen as the snapshot chooses them: only ids stored more than once are ranked,
  as a ``row_number()`` over every row spilled 24 GB at 1M customers; event time up to the
  end of the as-of day; recency, counts, amounts and active days over 30/90/365 days,
  spending mix, channel mix, digital share, salary months and total, previous-quarter
  count) for every current customer, written to Parquet.
  It covers the transaction part only — the largest by far — not balances, holdings,
  app events, credit or risk, so the ratio *overstates* the snapshot's cost.
* ``snapshot`` — ``snapshot_features`` (every catalogue feature) for the same as-of date and
  cut-off, written to Parquet.
* ``understand`` — the whole step as ``nextbest understand run`` runs it (snapshot, tags,
  lifecycle, rule and data-driven segments, RFM, CLV and value tiers), into the
  installation, in the stage's process so that the DuckDB memory cap applies.
* ``pandas`` (baseline) — the same transaction features as ``sql_baseline``, computed with
  pandas from the raw transaction versions read out of the warehouse (:func:`pandas_features`;
  equal to the SQL's output: ``tests/bench/test_understanding.py``). Last, as it needs the
  most memory; it stops itself above a resident-memory limit and reports that instead of
  failing the suite.

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

import numpy as np
import pandas as pd
import pyarrow as pa

from bench.harness import Stage
from bench.suites.generate import CUSTOMERS, MONTHS, bank_dir
from bench.suites.ingest import MAPPING

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
        # last: at the large size it needs the most memory of all stages
        Stage(
            "pandas",
            [*me, "pandas", *common, "--out", str(workdir / "pandas.parquet")],
            baseline=True,
            compare_to="snapshot",
        ),
    ]


def _env(home: str) -> dict[str, str]:
    return {**os.environ, "NEXTBEST_HOME": home}


#: Sizes built by replicating an ingested bank (customers ingested x copies). Ingesting the
#: 1M-customer bank in one batch needed more than 24 GB and a 200k-customer batch 19 GB
#: and 23+ minutes here (2026-12-02), so the larger sizes ingest a slice of the target size
#: through the real pipeline and copy it inside DuckDB with suffixed keys.
REPLICAS = {"small": 1, "medium": 5, "large": 50}

#: Canonical tables copied per replica and their key columns that get the replica suffix;
#: reference tables (``product``) are shared, derived tables are recomputed by the stages.
REPLICATED = {
    "customer": ("customer_key",),
    "account": ("account_key", "customer_key"),
    "balance": ("account_key",),
    "transaction": ("txn_id", "account_key", "customer_key"),
    "digital_event": ("event_id", "customer_key"),
    "consent": ("customer_key",),
    "kyc_status": ("customer_key",),
    "risk_assessment": ("customer_key",),
    "credit_instalment": ("account_key", "customer_key"),
    "default_event": ("account_key", "customer_key"),
}


def replicate(warehouse: Path, copies: int) -> dict[str, int]:
    """Append ``copies - 1`` copies of every customer's rows, keys suffixed ``~r``.

    Each copy is a new customer with the same history (pseudonymous keys are opaque, so a
    suffix makes a valid new key); the tables' key indexes are copied the same way. Returns
    the rows of each table afterwards.
    """
    import duckdb

    from nextbest.warehouse.layout import KEY_INDEX_SUFFIX

    rows: dict[str, int] = {}
    with duckdb.connect(str(warehouse)) as con:
        for table, keys in REPLICATED.items():
            index = table + KEY_INDEX_SUFFIX
            index_columns = {c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_name = $t",
                {"t": index},
            ).fetchall()}  # fmt: skip
            for name, suffixed in ((table, keys), (index, [k for k in keys if k in index_columns])):
                if not suffixed:  # no key index (an installation from before they existed)
                    continue
                renamed = ", ".join(f"{k} || '~' || r.i::varchar as {k}" for k in suffixed)
                con.execute(
                    f'insert into "{name}" select t.* replace ({renamed}) '
                    f'from "{name}" t, range(1, {copies}) r(i)'
                )
            found = con.execute(f'select count(*) from "{table}"').fetchone()
            rows[table] = int(found[0]) if found else 0
    return rows


def prepare(workdir: Path, size: str) -> dict[str, object]:
    """Generate and ingest a bank unless ``WORKDIR/ingest-home`` holds one already.

    For sizes with :data:`REPLICAS` above one, ``CUSTOMERS[size] / copies`` customers are
    generated and ingested, then copied (:func:`replicate`).
    """
    home = _home(workdir)
    if (home / "warehouse.duckdb").exists():
        return {"prepared": False}
    copies = REPLICAS[size]
    cli = [sys.executable, "-m", "nextbest.cli"]
    bank = bank_dir(workdir) if copies == 1 else workdir / "bank-slice"
    if not (bank / "export").exists():
        subprocess.run([*cli, "generate", "--customers", str(CUSTOMERS[size] // copies),
                        "--months", str(MONTHS), "--seed", "1", "--out", str(bank)],
                       check=True, env=_env(str(home)), capture_output=True)  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([*cli, "init"], check=True, env=_env(str(home)), capture_output=True)
    subprocess.run([*cli, "ingest", str(bank / "export"), "--mapping", str(MAPPING)],
                   check=True, env=_env(str(home)), capture_output=True)  # fmt: skip
    if copies == 1:
        return {"prepared": True}
    rows = replicate(home / "warehouse.duckdb", copies)
    return {"prepared": True, "replicas": copies, "table_rows": rows}


def _limit(con: object, home: Path) -> str:
    """Cap DuckDB's memory (``NEXTBEST_BENCH_DUCKDB_MEMORY``, default 3GB; the issue's goal
    is a 4 GB peak) and let it spill next to the installation. The same cap applies to the
    SQL baseline, the snapshot and the whole step. Without it DuckDB takes up to 80% of the
    machine's memory: the SQL baseline was killed by the kernel at 11 GB on the shared
    machine at 1M customers."""
    limit = os.environ.get("NEXTBEST_BENCH_DUCKDB_MEMORY", "3GB")
    spill = home.parent / "duckdb-spill"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute("SET memory_limit = $m", {"m": limit})  # type: ignore[attr-defined]
    con.execute("SET temp_directory = $t", {"t": str(spill)})  # type: ignore[attr-defined]
    return limit


def _transactions(con: object, cutoff: datetime) -> int:
    sql = 'select count(*) from "transaction" where _loaded_at <= $c'
    return int(con.execute(sql, {"c": cutoff}).fetchone()[0])  # type: ignore[attr-defined]


def baseline_sql(as_of: date) -> str:
    """Hand-written SQL for the snapshot's transaction features (parameters $cutoff, $end)."""
    from nextbest.profile.catalogue import CHANNEL_MIX, SPEND_CATEGORIES
    from nextbest.warehouse.layout import KEY_INDEX_SUFFIX

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
with repeated as (
  select distinct txn_id from "transaction{KEY_INDEX_SUFFIX}" where _loaded_at <= $cutoff
), newest as (
  select txn_id, _batch_id, _loaded_at from "transaction"
  where _loaded_at <= $cutoff and txn_id in (select txn_id from repeated)
  qualify row_number() over (partition by txn_id order by _loaded_at desc, _batch_id desc) = 1
), versions as (
  select x.* from "transaction" x left join newest n using (txn_id)
  where x._loaded_at <= $cutoff
    and (n.txn_id is null or (x._batch_id = n._batch_id and x._loaded_at = n._loaded_at))
), t as (
  select customer_key, txn_id, cast(amount as double) amount, direction, channel,
         merchant_category, counterparty_type, channel <> 'system' ci,
         cast(timezone('Asia/Shanghai', txn_time) as date) txn_date,
         date '{as_of.isoformat()}' - cast(timezone('Asia/Shanghai', txn_time) as date) days_ago
  from versions where txn_time < $end
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
        limit = _limit(con, home)
        rows = _transactions(con, cutoff)
        started = time.perf_counter()
        con.execute(f"copy ({baseline_sql(as_of)}) to '{out}' (format parquet)",
                    {"cutoff": cutoff, "end": point.day_end})  # fmt: skip
        seconds = time.perf_counter() - started
        customers = con.execute(f"select count(*) from '{out}'").fetchone()
    return {"rows": rows, "customers": customers[0] if customers else 0, "query_s": seconds,
            "duckdb_memory_limit": limit}  # fmt: skip


def pandas_features(txn: pd.DataFrame, customers: pd.Series, as_of: date, cutoff: datetime,
                    end: datetime, timezone: str, repeated: pd.Series) -> pd.DataFrame:  # fmt: skip
    """The baseline SQL's features with pandas, from the raw transaction versions and the ids
    stored more than once (the warehouse's key index, as of the cut-off)."""
    from nextbest.profile.catalogue import CHANNEL_MIX, SPEND_CATEGORIES

    t = txn[txn["_loaded_at"] <= pd.Timestamp(cutoff)]
    # newest version of each transaction: only ids stored more than once need sorting
    if len(repeated):
        dup = t["txn_id"].isin(repeated)
        newest = (
            t[dup]
            .sort_values(["txn_id", "_loaded_at", "_batch_id"])
            .drop_duplicates("txn_id", keep="last")
        )
        t = pd.concat([t[~dup], newest])
    t = t.drop(columns=["txn_id", "_batch_id", "_loaded_at"])
    t = t[t["txn_time"] < pd.Timestamp(end)]
    day = t["txn_time"].dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    days_ago = (pd.Timestamp(as_of) - day).dt.days.to_numpy()
    channel = t["channel"]
    ci = (channel != "system").to_numpy()
    amount = t["amount"].astype("float64")
    debit = (t["direction"] == "debit").to_numpy()
    cat = t["merchant_category"]
    spend = ci & (days_ago < 365) & debit & cat.notna().to_numpy() & (cat != "none").to_numpy()
    key = t["customer_key"]
    cols: dict[str, pd.Series] = {}

    def by_key(mask: np.ndarray, values: pd.Series | None = None, how: str = "sum") -> pd.Series:
        if values is None:
            return key[mask].value_counts()
        grouped = values[mask].groupby(key[mask], observed=True)
        return grouped.nunique() if how == "nunique" else grouped.agg(how)

    cols["last_txn_date"] = by_key(ci, day, "max")
    for w in (30, 90, 365):
        m = ci & (days_ago < w)
        cols[f"txn_count_{w}d"] = by_key(m)
        cols[f"txn_amount_{w}d"] = by_key(m, amount)
        cols[f"txn_days_{w}d"] = by_key(m, day, "nunique")
    cols["spend_amount_365d"] = by_key(spend, amount)
    cols["txn_count_prev_90d"] = by_key(ci & (days_ago >= 90) & (days_ago < 180))
    y, mo = divmod(as_of.year * 12 + as_of.month - 1 - 5, 12)
    salary = (
        (t["direction"] == "credit").to_numpy()
        & (t["counterparty_type"] == "employer").to_numpy()
        & (day >= pd.Timestamp(date(y, mo + 1, 1))).to_numpy()
    )
    cols["salary_months_6m"] = by_key(salary, day.dt.year * 100 + day.dt.month, "nunique")
    cols["salary_total_6m"] = by_key(salary, amount)
    digital = channel.isin(["mobile_app", "online_banking"]).to_numpy()
    cols["digital_txn_90d"] = by_key(ci & (days_ago < 90) & digital)
    for c in SPEND_CATEGORIES:
        cols[f"spend_{c.value}"] = by_key(spend & (cat == c.value).to_numpy(), amount)
    for c in CHANNEL_MIX:
        cols[f"channel_{c.value}"] = by_key(ci & (days_ago < 90) & (channel == c.value).to_numpy())
    # SQL: count(...) filter gives 0, sum(...) filter null, for a customer with other rows
    out = pd.DataFrame(cols).reindex(key.unique())
    counts = [
        c
        for c in cols
        if c.startswith(("txn_count", "txn_days", "channel_"))
        or c in ("salary_months_6m", "digital_txn_90d")
    ]
    out[counts] = out[counts].fillna(0)
    out = out.reindex(pd.Index(customers.unique(), name="customer_key"))
    return out.reset_index()


_CATEGORICAL = (
    "customer_key",
    "direction",
    "channel",
    "merchant_category",
    "counterparty_type",
    "_batch_id",
)


def _guard_resident_memory() -> None:
    """Stop this process when its resident memory passes ``NEXTBEST_BENCH_PANDAS_GB``
    (default 12), printing a ``failed`` result, so that the pandas stage cannot take the
    shared machine down. (An address-space limit does not work here: DuckDB's and glibc's
    reservations reach twice the resident size.)"""
    import threading

    gb = float(os.environ.get("NEXTBEST_BENCH_PANDAS_GB", "12"))
    page = os.sysconf("SC_PAGE_SIZE")

    def watch() -> None:
        while True:
            with open("/proc/self/statm") as f:
                resident = int(f.read().split()[1]) * page
            if resident > gb * 2**30:
                print(json.dumps({"failed": f"resident memory passed {gb:g} GB"}), flush=True)
                os._exit(0)
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()


#: Transactions per pandas pass (``NEXTBEST_BENCH_PANDAS_ROWS``): above it the customers
#: are split into hash partitions processed one after another, as a pandas user would when
#: the table does not fit (1M customers, 79M rows: killed by the kernel at 24 GB in one go).
PANDAS_ROWS = 12_000_000


def run_pandas(home: Path, as_of: date, out: Path) -> dict[str, object]:
    """Read the raw transaction versions into pandas and compute the baseline's features."""
    import duckdb
    import pyarrow.parquet as pq

    from nextbest.profile.features import SnapshotPoint
    from nextbest.warehouse.layout import KEY_INDEX_SUFFIX

    cutoff = datetime.now(UTC)
    point = SnapshotPoint(as_of, cutoff)
    per_part = int(os.environ.get("NEXTBEST_BENCH_PANDAS_ROWS", PANDAS_ROWS))
    load_s = compute_s = 0.0
    rows = customers_done = 0
    writer = None
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        con.execute("SET memory_limit = '2GB'")  # DuckDB only reads here
        total = _transactions(con, cutoff)
        index = f'"transaction{KEY_INDEX_SUFFIX}"'
        sql = f"select distinct txn_id from {index} where _loaded_at <= $c"
        repeated = con.execute(sql, {"c": cutoff}).to_arrow_table().column("txn_id").to_pandas()
        parts = max(1, -(-total // per_part))
        for part in range(parts):
            # every version of a transaction belongs to the same customer, so partitions by
            # customer keep each transaction's versions together
            where = f"hash(customer_key) % {parts} = {part}"
            started = time.perf_counter()
            # the amount as double, as the SQL baseline reads it (pandas has no fast
            # decimal); repeated strings become categoricals, as a pandas user would load them
            txn = con.sql(
                "select customer_key, txn_id, txn_time, cast(amount as double) amount, "
                "direction, channel, merchant_category, counterparty_type, _batch_id, "
                f'_loaded_at from "transaction" where {where}'
            ).to_arrow_table()
            txn = pa.table(
                {
                    name: txn.column(name).dictionary_encode() if name in _CATEGORICAL else col
                    for name, col in zip(txn.column_names, txn.columns, strict=True)
                }
            ).to_pandas(self_destruct=True)
            customers = con.sql(
                f"select customer_key, _loaded_at from customer where {where}"
            ).to_arrow_table().to_pandas()  # fmt: skip
            loaded = time.perf_counter()
            known = customers["_loaded_at"] <= pd.Timestamp(cutoff)
            frame = pandas_features(txn, customers.loc[known, "customer_key"], as_of, cutoff,
                                    point.day_end, point.timezone, repeated)  # fmt: skip
            table = pa.Table.from_pandas(frame, preserve_index=False)
            writer = writer or pq.ParquetWriter(out, table.schema)
            writer.write_table(table.cast(writer.schema))
            load_s += loaded - started
            compute_s += time.perf_counter() - loaded
            rows += len(txn)
            customers_done += len(frame)
            del txn, customers, frame, table
    if writer is not None:
        writer.close()
    return {"rows": rows, "customers": customers_done, "parts": parts, "load_s": load_s,
            "compute_s": compute_s}  # fmt: skip


def run_snapshot(home: Path, as_of: date, out: Path) -> dict[str, object]:
    import pyarrow.parquet as pq

    from nextbest.config import Settings
    from nextbest.profile.features import SnapshotPoint, snapshot_features
    from nextbest.warehouse import open_warehouse

    settings = Settings(home=home)
    cutoff = datetime.now(UTC)
    with open_warehouse(settings, read_only=True) as wh:
        limit = _limit(wh.backend.con, home)  # type: ignore[attr-defined]
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
    return {"rows": rows, "customers": customers, "query_s": seconds,
            "duckdb_memory_limit": limit}  # fmt: skip


def run_understand(home: Path, as_of: date) -> dict[str, object]:
    """The whole step, ``run_understanding`` as ``nextbest understand run`` calls it, in this
    process so that the DuckDB memory cap applies."""
    from nextbest.config import Settings
    from nextbest.services.understanding import run_understanding
    from nextbest.warehouse import open_warehouse

    with open_warehouse(Settings(home=home)) as wh:
        limit = _limit(wh.backend.con, home)  # type: ignore[attr-defined]
        report = run_understanding(wh, as_of)
        rows = _transactions(wh.backend.con, datetime.now(UTC))  # type: ignore[attr-defined]
    return {"rows": rows, "customers": report.customers, "steps_s": report.seconds,
            "k": report.segments_k, "criterion": report.segments_criterion,
            "duckdb_memory_limit": limit}  # fmt: skip


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suites.understanding")
    parser.add_argument("command", choices=["prepare", "sql", "pandas", "snapshot", "understand"])
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
    elif args.command == "pandas":
        _guard_resident_memory()
        result = run_pandas(args.home, args.as_of, args.out)
    elif args.command == "snapshot":
        result = run_snapshot(args.home, args.as_of, args.out)
    else:
        result = run_understand(args.home, args.as_of)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
