"""Suite ``generate``: the demo bank generator against a plain random-rows Parquet write.

Stages: ``generate`` (``nextbest generate`` of N customers x 24 months as Parquet into
``WORKDIR/bank``, which later suites such as ``ingest`` reuse) and ``plain_write`` (the
baseline: NumPy random columns written with pyarrow, as many rows as the generator wrote).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.harness import Stage, StageResult

__all__ = ["CUSTOMERS", "MONTHS", "bank_dir", "stages"]

CUSTOMERS = {"small": 20_000, "medium": 100_000, "large": 1_000_000}
MONTHS = 24


def bank_dir(workdir: Path) -> Path:
    """Where the generate suite leaves its bank (``bank/export`` is the ingest source)."""
    return workdir / "bank"


def stages(size: str, workdir: Path) -> list[Stage]:
    generate = [
        sys.executable, "-m", "nextbest.cli", "generate",
        "--customers", str(CUSTOMERS[size]), "--months", str(MONTHS), "--seed", "1",
        "--out", str(bank_dir(workdir)), "--json",
    ]  # fmt: skip

    def plain(results: dict[str, StageResult]) -> list[str]:
        rows = results["generate"].rows or 0
        return [
            sys.executable, "-m", "bench.suites.generate", "plain-write",
            "--rows", str(rows), "--out", str(workdir / "plain.parquet"),
        ]  # fmt: skip

    return [
        Stage("generate", generate, detail=_transactions),
        Stage("plain_write", plain, baseline=True, compare_to="generate"),
    ]


def _transactions(output: dict[str, object]) -> str:
    rows = output.get("rows")
    if not isinstance(rows, dict) or "JYLS" not in rows:
        return ""
    return f"{rows['JYLS']:,} transactions"


def plain_write(rows: int, out: Path, chunk: int = 2_000_000) -> dict[str, object]:
    """Write ``rows`` random rows (id, account, amount, code, time) to one Parquet file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    codes = pa.array(["01", "02", "03", "04", "05", "06", "09"])
    started = time.perf_counter()
    writer: pq.ParquetWriter | None = None
    done = 0
    while done < rows:
        n = min(chunk, rows - done)
        table = pa.table({
            "id": pc.cast(pa.array(np.arange(done, done + n, dtype=np.int64)), pa.string()),
            "account": pc.cast(pa.array(rng.integers(6 * 10**18, 7 * 10**18, n)), pa.string()),
            "amount": pa.array(rng.integers(1, 10**7, n)),
            "code": codes.take(pa.array(rng.integers(0, len(codes), n))),
            "time": pa.array(rng.integers(1_600_000_000, 1_800_000_000, n), pa.timestamp("s")),
        })  # fmt: skip
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema, compression="zstd")
        writer.write_table(table)
        done += n
    if writer is not None:
        writer.close()
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 2)}


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suites.generate")
    parser.add_argument("command", choices=["plain-write"])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(json.dumps(plain_write(args.rows, args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
