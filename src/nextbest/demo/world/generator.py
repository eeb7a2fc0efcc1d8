"""Generate the demo bank: exports, ground truth and fault manifest, block by block.

Each block of ``block_size`` customers draws from its own random streams, derived from
``(seed, block, component)`` with NumPy's ``SeedSequence``, so a block's rows never depend on
other blocks and the same seed gives byte-identical files. Memory is bounded by one block.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from nextbest.demo.world.activity import draw_activity
from nextbest.demo.world.calendar import Window
from nextbest.demo.world.credit import draw_credit
from nextbest.demo.world.faults import EXPECTED_RULE, inject_faults
from nextbest.demo.world.holdings import draw_holdings
from nextbest.demo.world.lifecycle import simulate
from nextbest.demo.world.params import DEFAULT_WORLD_FILE, WorldParams, load_world_params
from nextbest.demo.world.population import draw_population
from nextbest.demo.world.records import draw_records
from nextbest.demo.world.sinks import FileFormat, TableSink
from nextbest.demo.world.source import FILES, customer_number, export_block, product_table
from nextbest.demo.world.truth import draw_response_traits, truth_tables
from nextbest.errors import NextbestError

__all__ = [
    "EXPORT_DIR",
    "MAPPING_FILE",
    "TRUTH_DIR",
    "GenerationError",
    "GenerationSummary",
    "generate",
    "mapping_for",
]

EXPORT_DIR = "export"
TRUTH_DIR = "truth"
FAULTS_FILE = "faults.parquet"
INFO_FILE = "generation.json"
MAPPING_FILE = Path(__file__).resolve().parents[1] / "mappings" / "generated_bank.yaml"
_COMPONENTS = (
    "population",
    "lifecycle",
    "holdings",
    "credit",
    "activity",
    "records",
    "faults",
    "response",
)


class GenerationError(NextbestError):
    """Invalid generation arguments."""


@dataclass(frozen=True)
class GenerationSummary:
    out: Path
    customers: int
    months: int
    seed: int
    format: str
    faults: float
    world_version: str
    rows: dict[str, int]
    truth_rows: dict[str, int]
    faults_injected: int
    seconds: float
    peak_rss_mb: float
    rows_per_second: float = field(default=0.0)


def _rng(seed: int, block: int, component: str) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed, block, _COMPONENTS.index(component)]))
    )


def mapping_for(fmt: FileFormat) -> dict[str, object]:
    """The shipped mapping adapted to the chosen export format (CSV files are GBK)."""
    data = yaml.safe_load(MAPPING_FILE.read_text(encoding="utf-8"))
    if fmt == "csv":
        for entry in data["files"]:
            entry["path"] = entry["path"].replace(".parquet", ".csv")
            entry["format"] = "csv"
            entry["encoding"] = "gbk"
    return data


def peak_rss_mb() -> float:
    """Peak resident memory of this process plus the largest finished child (MB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


@dataclass(frozen=True)
class _BlockTask:
    params: WorldParams
    months: int
    seed: int
    faults: float
    fmt: FileFormat
    out: Path
    block: int
    start: int
    size: int


@dataclass(frozen=True)
class _BlockResult:
    block: int
    size: int
    rows: dict[str, int]
    truth_rows: dict[str, int]
    manifest: dict[str, list[object]]


def part_name(stem: str, block: int, suffix: str) -> str:
    """File name of one block's part of a source file, e.g. ``JYLS_0003.parquet``."""
    return f"{stem}_{block + 1:04d}.{suffix}"


def _run_block(task: _BlockTask) -> _BlockResult:
    """Generate one block and write its file parts (runs in a worker process)."""
    params, seed, b = task.params, task.seed, task.block
    window = Window.build(params, task.months)
    pop = draw_population(params, window, _rng(seed, b, "population"), task.start, task.size)
    life = simulate(params, window, pop, _rng(seed, b, "lifecycle"))
    hold = draw_holdings(params, window, pop, life, _rng(seed, b, "holdings"))
    credit = draw_credit(params, window, pop, hold, _rng(seed, b, "credit"))
    act = draw_activity(params, window, pop, life, hold, credit, _rng(seed, b, "activity"))
    rec = draw_records(params, window, pop, life, _rng(seed, b, "records"))
    tables = export_block(params, window, pop, hold, credit, act, rec, (b + 1) * 10**10)
    manifest: dict[str, list[object]] = {k: [] for k in _MANIFEST_COLUMNS}
    suffix = "parquet" if task.fmt == "parquet" else "csv"
    header = 1 if task.fmt == "csv" else 0
    if task.faults > 0:
        rng = _rng(seed, b, "faults")
        tables, faulty = inject_faults(params, window, tables, task.faults, rng, task.start)
        for table, local, key, column, fault in zip(
            faulty.table,
            faulty.local_row,
            faulty.key,
            faulty.column,
            faulty.fault_type,
            strict=True,
        ):
            manifest["file"].append(part_name(FILES[table], b, suffix))
            manifest["source_row"].append(local + 1 + header)
            manifest["source_key"].append(key)
            manifest["column"].append(column)
            manifest["fault_type"].append(fault)
            manifest["expected_rule"].append(EXPECTED_RULE[fault])
    encoding = "gbk" if task.fmt == "csv" else "utf-8"
    rows: dict[str, int] = {}
    for name, table in tables.items():
        sink = TableSink(
            task.out / EXPORT_DIR / part_name(FILES[name], b, suffix), task.fmt, encoding
        )
        sink.write(table)
        sink.close()
        rows[FILES[name]] = table.num_rows
    traits = draw_response_traits(params, pop, _rng(seed, b, "response"))
    truth_rows: dict[str, int] = {}
    khh = customer_number(pop.index)
    for name, table in truth_tables(
        params, window, khh, pop, life, hold, credit, act, traits
    ).items():
        pq.write_table(
            table, task.out / TRUTH_DIR / part_name(name, b, "parquet"), compression="zstd"
        )
        truth_rows[name] = table.num_rows
    return _BlockResult(b, task.size, rows, truth_rows, manifest)


_MANIFEST_COLUMNS = ("file", "source_row", "source_key", "column", "fault_type", "expected_rule")


def generate(
    out: Path,
    customers: int,
    months: int = 24,
    seed: int = 0,
    faults: float = 0.0,
    fmt: FileFormat = "parquet",
    world_file: Path | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> GenerationSummary:
    """Write a generated bank under ``out`` (``export/``, ``truth/``, ``faults.parquet``).

    Parameters
    ----------
    out:
        Output folder; created, and its ``export`` and ``truth`` sub-folders replaced.
    customers, months, seed:
        Size of the bank, months of history ending with the world's end month, and the seed.
    faults:
        Share of customer rows given a data-quality fault (0 disables faults).
    fmt:
        ``parquet`` or ``csv`` (CSV files are GBK-encoded, like many Chinese core exports).
    world_file:
        An alternative world file (default: the shipped ``world.yaml``).
    progress:
        Called with the number of customers finished after each block.
    workers:
        Worker processes (default: up to 2, never more than the blocks). The files do not
        depend on it: each block writes its own part of every source file.
    """
    if customers < 1 or not 1 <= months <= 120:
        raise GenerationError(
            f"customers must be >= 1 and months 1..120 (got {customers}, {months})"
        )
    if not 0 <= faults < 0.5:
        raise GenerationError(f"--faults must be in [0, 0.5), got {faults}")
    if fmt not in ("parquet", "csv"):
        raise GenerationError(f"format must be parquet or csv, got {fmt!r}")
    started = time.perf_counter()
    params = load_world_params(world_file)
    out.mkdir(parents=True, exist_ok=True)
    for d in (out / EXPORT_DIR, out / TRUTH_DIR):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
    suffix = "parquet" if fmt == "parquet" else "csv"
    TableSink(
        out / EXPORT_DIR / part_name(FILES["product"], 0, suffix),
        fmt,
        "gbk" if fmt == "csv" else "utf-8",
    ).write_once(product_table(params))
    size = params.block_size
    tasks = [
        _BlockTask(
            params, months, seed, faults, fmt, out, b, b * size, min(size, customers - b * size)
        )
        for b in range((customers + size - 1) // size)
    ]
    n_workers = min(workers or min(2, os.cpu_count() or 1), len(tasks))
    results: list[_BlockResult] = []
    done_customers = 0
    if n_workers <= 1:
        for task in tasks:
            results.append(_run_block(task))
            done_customers += task.size
            if progress is not None:
                progress(done_customers)
    else:
        with ProcessPoolExecutor(n_workers, mp_context=get_context("spawn")) as pool:
            pending: set[Future[_BlockResult]] = set()
            queue = list(tasks)
            while queue or pending:
                while queue and len(pending) < n_workers:  # bounded: one block per worker
                    pending.add(pool.submit(_run_block, queue.pop(0)))
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    result = f.result()
                    results.append(result)
                    done_customers += result.size
                    if progress is not None:
                        progress(done_customers)
    results.sort(key=lambda r: r.block)
    manifest = {k: [v for r in results for v in r.manifest[k]] for k in _MANIFEST_COLUMNS}
    fault_table = pa.table(
        {
            "file": pa.array(manifest["file"], pa.string()),
            "source_row": pa.array(manifest["source_row"], pa.int64()),
            "source_key": pa.array(manifest["source_key"], pa.string()),
            "column": pa.array(manifest["column"], pa.string()),
            "fault_type": pa.array(manifest["fault_type"], pa.string()),
            "expected_rule": pa.array(manifest["expected_rule"], pa.string()),
        }
    )
    pq.write_table(fault_table, out / FAULTS_FILE, compression="zstd")
    rows = {stem: sum(r.rows.get(stem, 0) for r in results) for stem in FILES.values()}
    rows[FILES["product"]] = len(params.products)
    truth_rows = {k: sum(r.truth_rows[k] for r in results) for k in results[0].truth_rows}
    info = {
        "customers": customers,
        "months": months,
        "seed": seed,
        "faults": faults,
        "format": fmt,
        "world_version": params.version,
        "end_month": params.calendar.end_month,
        "world_file": str(world_file.resolve()) if world_file else DEFAULT_WORLD_FILE.name,
        "rows": rows,
    }
    (out / INFO_FILE).write_text(
        json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    if MAPPING_FILE.exists():
        text = yaml.safe_dump(mapping_for(fmt), allow_unicode=True, sort_keys=False)
        (out / "mapping.yaml").write_text(text, encoding="utf-8")
    seconds = time.perf_counter() - started
    total = sum(rows.values())
    return GenerationSummary(
        out=out,
        customers=customers,
        months=months,
        seed=seed,
        format=fmt,
        faults=faults,
        world_version=params.version,
        rows=rows,
        truth_rows=truth_rows,
        faults_injected=fault_table.num_rows,
        seconds=round(seconds, 2),
        peak_rss_mb=round(peak_rss_mb(), 1),
        rows_per_second=round(total / seconds, 0),
    )
