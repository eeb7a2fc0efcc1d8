"""Suite ``ingest``: ingestion of the generated bank against a plain DuckDB ``read_parquet``.

Runs after ``generate`` and reads the bank it left in ``WORKDIR/bank/export`` (the exports
only, not the truth files). Stages:

* ``read_parquet`` (baseline) — DuckDB reads every export file into a temporary table (one
  per file family, e.g. ``KHXX_*.parquet``), nothing else: no mapping, no validation.
* ``ingest`` — ``nextbest init`` then ``nextbest ingest EXPORT --mapping generated_bank.yaml``
  into a fresh installation under ``WORKDIR/ingest-home``: reading, mapping, pseudonymising,
  validation, quarantine and flags, the PII vault (SQLite) and the warehouse (DuckDB),
  committed as one batch.

Both print ``rows`` (rows read from the export files), so the table shows rows/s for each
and the ingestion time as a multiple of the plain read.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import Stage
from bench.suites.generate import bank_dir

__all__ = ["MAPPING", "export_dir", "stages"]

MAPPING = Path(__file__).resolve().parents[2] / "src/nextbest/demo/mappings/generated_bank.yaml"


def export_dir(workdir: Path) -> Path:
    """The export folder of the bank the ``generate`` suite wrote."""
    return bank_dir(workdir) / "export"


def stages(size: str, workdir: Path) -> list[Stage]:
    me = [sys.executable, "-m", "bench.suites.ingest"]
    export = str(export_dir(workdir))
    return [
        Stage(
            "read_parquet",
            [*me, "read-parquet", "--export", export, "--db", str(workdir / "baseline.duckdb")],
            baseline=True,
            compare_to="ingest",
        ),
        Stage(
            "ingest",
            [*me, "ingest", "--export", export, "--home", str(workdir / "ingest-home")],
            detail=_outcome,
        ),
    ]


def _outcome(output: dict[str, object]) -> str:
    return ", ".join(
        f"{output[k]:,} {k}" for k in ("loaded", "flagged", "rejected", "queued") if k in output
    )


def _families(export: Path) -> dict[str, list[Path]]:
    """Export files grouped by family (``KHXX_0001.parquet`` -> ``KHXX``)."""
    families: dict[str, list[Path]] = {}
    for path in sorted(export.glob("*.parquet")):
        family = re.sub(r"_\d+$", "", path.stem)
        families.setdefault(family, []).append(path)
    if not families:
        raise SystemExit(f"no Parquet files in {export}: run the generate suite first")
    return families


def read_parquet(export: Path, db: Path) -> dict[str, object]:
    """Read every export file into a DuckDB temporary table; count the rows."""
    import duckdb

    db.unlink(missing_ok=True)
    started = time.perf_counter()
    rows: dict[str, int] = {}
    # A file database (not :memory:) so that DuckDB may spill to disk at the large size.
    with duckdb.connect(str(db)) as con:
        for family, paths in _families(export).items():
            files = [str(p) for p in paths]
            con.execute(f"CREATE TEMP TABLE t_{family} AS SELECT * FROM read_parquet(?)", [files])
            (count,) = con.execute(f"SELECT count(*) FROM t_{family}").fetchone()  # type: ignore[misc]
            rows[family] = int(count)
            con.execute(f"DROP TABLE t_{family}")
    db.unlink(missing_ok=True)
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 2)}


def ingest(export: Path, home: Path) -> dict[str, object]:
    """``nextbest init`` + ``nextbest ingest`` into a fresh installation at ``home``."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "NEXTBEST_HOME": str(home)}
    env.pop("NEXTBEST_MASTER_KEY", None)  # keys from the fresh installation's key file
    cli = [sys.executable, "-m", "nextbest.cli"]
    started = time.perf_counter()
    subprocess.run([*cli, "init", "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
    done = subprocess.run(
        [*cli, "ingest", str(export), "--mapping", str(MAPPING), "--json"],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - started
    report = json.loads(done.stdout)
    totals = report["totals"]
    return {
        "rows": totals["read"],
        "seconds": round(seconds, 2),
        "loaded": totals["loaded"],
        "flagged": totals["flagged"],
        "rejected": totals["rejected"],
        "queued": totals["queued"],
        "status": report["status"],
    }


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suites.ingest")
    parser.add_argument("command", choices=["ingest", "read-parquet"])
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    if args.command == "ingest":
        result = ingest(args.export, args.home)
    else:
        result = read_parquet(args.export, args.db)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
