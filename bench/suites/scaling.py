"""Suite ``scaling``: one per-customer aggregation on DuckDB and on Spark at growing sizes.

For each size the suite writes a transaction table as Parquet (``gen_<size>``), then runs the
*same Ibis expression* (:func:`per_customer`) on DuckDB (``duckdb_<size>``, the baseline) and
on Spark in local mode (``spark_<size>``, through the warehouse's Spark session settings),
each in its own process, writing the per-customer result as Parquet. The harness table shows
seconds, peak memory, rows/s and the Spark/DuckDB ratio per size; constant rows/s across
sizes means cost grows linearly. A last step prints, per engine, the least-squares line
``seconds = fixed + per_million x millions of transactions`` (start-up plus a linear cost).

Sizes (transactions x customers, 50 transactions per customer) follow ``--size``; even
``small`` reaches 1M customers / 50M transactions so ``make bench`` shows the whole curve.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import Stage, StageResult

__all__ = ["CURVES", "generate", "per_customer", "run", "stages"]

#: Transactions per size; customers are one in fifty.
CURVES: dict[str, tuple[int, ...]] = {
    "small": (1_000_000, 10_000_000, 50_000_000),
    "medium": (1_000_000, 10_000_000, 50_000_000, 100_000_000),
    "large": (1_000_000, 10_000_000, 50_000_000, 200_000_000),
}
TXNS_PER_CUSTOMER = 50
CHANNELS = ("counter", "atm", "mobile_app", "online_banking", "pos", "third_party")


def _label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows >= 1_000_000 else f"{rows // 1000}k"


def per_customer(t: Any) -> Any:
    """The measured transformation, written once in Ibis (count, sum, max, mean, filtered
    count, distinct count and active bank days per customer)."""
    return t.group_by("customer_key").aggregate(
        txns=t.count(),
        total=t.amount.sum(),
        largest=t.amount.max(),
        mean=t.amount.cast("float64").mean(),
        debits=(t.direction == "debit").sum(),
        channels=t.channel.nunique(),
        last_time=t.txn_time.max(),
        active_days=t.txn_time.date().nunique(),
    )


def generate(rows: int, out: Path, chunk: int = 5_000_000) -> dict[str, object]:
    """Write ``rows`` random transactions of ``rows / 50`` customers to Parquet files."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(rows)
    customers = max(rows // TXNS_PER_CUSTOMER, 1)
    channels = pa.array(CHANNELS)
    directions = pa.array(["debit", "credit"])
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done = part = 0
    while done < rows:
        n = min(chunk, rows - done)
        ids = pc.cast(pa.array(rng.integers(0, customers, n)), pa.string())
        table = pa.table({
            "customer_key": pc.binary_join_element_wise("c", ids, ""),
            "txn_time": pa.array(
                rng.integers(1_704_038_400, 1_735_660_800, n) * 1_000_000, pa.timestamp("us")
            ).cast(pa.timestamp("us", tz="UTC")),
            "amount": pa.array(rng.integers(-500, 5_000, n), pa.int32()).cast(pa.decimal128(18, 2)),
            "direction": directions.take(pa.array(rng.integers(0, 2, n))),
            "channel": channels.take(pa.array(rng.integers(0, len(CHANNELS), n))),
        })  # fmt: skip
        pq.write_table(table, out / f"part-{part:04d}.parquet", compression="zstd")
        done += n
        part += 1
    return {
        "rows": rows,
        "customers": customers,
        "seconds": round(time.perf_counter() - started, 2),
    }


def run_duckdb(source: Path, out: Path) -> dict[str, object]:
    import ibis

    con = ibis.duckdb.connect(threads=2)
    con.raw_sql("SET TimeZone = 'Asia/Shanghai'")
    t = con.read_parquet(str(source / "*.parquet"))
    con.to_parquet(per_customer(t), out / "duckdb.parquet")
    rows = con.read_parquet(str(out / "duckdb.parquet")).count().execute()
    return {"rows": _txns(source), "customers": int(rows)}


def run_spark(source: Path, out: Path, scratch: Path) -> dict[str, object]:
    import ibis

    from nextbest.warehouse.spark import _ArrowResultBackend
    from nextbest.warehouse.spark_session import SparkSettings, shared_session

    ibis.pyspark  # noqa: B018  (registers the backend's options)
    session = shared_session(
        SparkSettings(scratch=scratch, driver_memory="6g", shuffle_partitions=4),
        "Asia/Shanghai",
    )
    con = _ArrowResultBackend().connect(session)
    session.conf.set("spark.sql.session.timeZone", "Asia/Shanghai")
    t = con.read_parquet(str(source))
    target = out / "spark"
    con.to_parquet(per_customer(t), target)
    customers = session.read.parquet(str(target)).count()
    return {"rows": _txns(source), "customers": int(customers)}


def _txns(source: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(source.glob("*.parquet")))


def exponent(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of log(seconds) on log(rows): 1.0 means linear growth."""
    xs = [math.log(r) for r, _ in points]
    ys = [math.log(max(s, 1e-3)) for _, s in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def linear_fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares ``seconds = fixed + per_million * rows / 1e6``: (fixed, per_million)."""
    xs = [r / 1e6 for r, _ in points]
    ys = [s for _, s in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return my - slope * mx, slope


def _print_curve(results: dict[str, StageResult], sizes: tuple[int, ...]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="scaling: seconds per million transactions (flat = linear)")
    for col in ("transactions", "customers", "duckdb s", "spark s", "duckdb s/M", "spark s/M",
                "spark/duckdb"):  # fmt: skip
        table.add_column(col, justify="right")
    for rows in sizes:
        d, s = results[f"duckdb_{_label(rows)}"], results[f"spark_{_label(rows)}"]
        table.add_row(
            f"{rows:,}", f"{rows // TXNS_PER_CUSTOMER:,}", f"{d.seconds:.1f}", f"{s.seconds:.1f}",
            f"{d.seconds / rows * 1e6:.2f}", f"{s.seconds / rows * 1e6:.2f}",
            f"{s.seconds / d.seconds:.1f}x",
        )  # fmt: skip
    console = Console(stderr=True)
    console.print(table)
    for engine in ("duckdb", "spark"):
        points = [(r, results[f"{engine}_{_label(r)}"].seconds) for r in sizes]
        fixed, per_million = linear_fit(points)
        console.print(
            f"{engine}: seconds ≈ {fixed:.1f} + {per_million:.2f} x (millions of transactions); "
            f"log-log slope {exponent(points):.2f} (start-up costs pull it below 1 at small sizes)"
        )


def stages(size: str, workdir: Path) -> list[Stage]:
    sizes = CURVES[size]
    here = [sys.executable, "-m", "bench.suites.scaling"]
    out: list[Stage] = []
    for rows in sizes:
        label = _label(rows)
        data, result = workdir / "scaling" / label, workdir / "scaling" / f"out-{label}"
        out.append(
            Stage(f"gen_{label}", [*here, "generate", "--rows", str(rows), "--dir", str(data)])
        )
        out.append(
            Stage(
                f"duckdb_{label}",
                [*here, "duckdb", "--dir", str(data), "--out", str(result)],
                baseline=True,
                compare_to=f"spark_{label}",
            )
        )
        out.append(
            Stage(f"spark_{label}", [*here, "spark", "--dir", str(data), "--out", str(result)])
        )

    def curve(results: dict[str, StageResult]) -> list[str]:
        # Built after every measurement: print the curve here, run a trivial stage.
        _print_curve(results, sizes)
        return [*here, "done"]

    out.append(Stage("curve", curve))
    return out


def run(size: str = "small", workdir: Path | None = None) -> None:
    """Run the suite on its own (``python -m bench scaling`` does the same via the harness)."""
    from bench.harness import run_suite

    run_suite("scaling", size, workdir or Path("var/bench"))


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suites.scaling")
    parser.add_argument("command", choices=["generate", "duckdb", "spark", "done"])
    parser.add_argument("--rows", type=int)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.command == "done":
        print(json.dumps({}))
        return 0
    if args.command == "generate":
        print(json.dumps(generate(args.rows, args.dir)))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command == "duckdb":
        print(json.dumps(run_duckdb(args.dir, args.out)))
    else:
        print(json.dumps(run_spark(args.dir, args.out, args.out / "spark-scratch")))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
