"""Run benchmark stages in child processes and report time, memory and ratios.

A suite is a module in ``bench/suites`` with ``stages(size, workdir) -> list[Stage]``. Each
stage is a command run in its own process: wall time is measured around it, peak memory is
both the largest single process (``wait4`` resource usage, which covers the stage's own
children) and the sampled total resident memory of its process tree (worker pools run in
parallel). A stage may print a JSON object as its last line of output; ``rows`` there gives
throughput. Ratios compare each stage with the suite's baseline stage measured in the same
run. With ``--repeat N`` the stages run N rounds, interleaved (a, b, a, b, ...), so slow
spells of the machine hit every stage alike; each stage then shows its median round (with
the range) and its largest peak, and ratios divide medians.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["SIZES", "Stage", "StageResult", "main", "run_stage", "run_suite"]

SIZES = ("small", "medium", "large")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass(frozen=True)
class Stage:
    """One measured command.

    ``argv`` may be a callable receiving the results so far (to size a baseline after the
    stage it is compared with). ``baseline`` marks the stage the others are compared to.
    """

    name: str
    argv: list[str] | Callable[[dict[str, StageResult]], list[str]]
    baseline: bool = False
    compare_to: str | None = None  # the stage whose time is divided by this baseline's
    detail: Callable[[dict[str, Any]], str] | None = None  # a note from the stage's output


@dataclass(frozen=True)
class StageResult:
    name: str
    seconds: float
    peak_mb: float
    tree_peak_mb: float
    returncode: int
    output: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""
    rounds: tuple[float, ...] = ()  # seconds of every round, with --repeat

    @property
    def failed(self) -> str | None:
        """Why the stage could not do its work, when it says so (``"failed"`` in its output)."""
        value = self.output.get("failed")
        return str(value) if value else None

    @property
    def rows(self) -> int | None:
        value = self.output.get("rows")
        if isinstance(value, dict):
            return int(sum(value.values()))
        return int(value) if value is not None else None


def _tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants (from /proc), in MB."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/statm") as f:
                pages = int(f.read().split()[1])
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = pages * PAGE_MB
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(rss.get(pid, 0.0) for pid in tree)


def run_stage(name: str, argv: list[str], env: dict[str, str] | None = None) -> StageResult:
    """Run ``argv`` in a child process and measure it."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    peak_tree = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not stop.is_set():
            peak_tree = max(peak_tree, _tree_rss_mb(proc.pid))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    readers = [
        threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    stop.set()
    for r in readers:
        r.join()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = "".join(out_chunks)
    output: dict[str, Any] = {}
    for line in reversed(stdout.strip().splitlines()):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            output = parsed
            break
    if not output and stdout.strip().startswith("{"):
        try:
            output = json.loads(stdout)
        except ValueError:
            output = {}
    return StageResult(
        name=name,
        seconds=round(seconds, 2),
        peak_mb=round(usage.ru_maxrss / 1024, 1),
        tree_peak_mb=round(max(peak_tree, usage.ru_maxrss / 1024), 1),
        returncode=proc.returncode,
        output=output,
        stderr_tail="".join(err_chunks)[-2000:],
    )


def _suite_modules() -> list[str]:
    import bench.suites as package
    from bench.suites import ORDER

    names = [m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]
    return [n for n in ORDER if n in names] + sorted(n for n in names if n not in ORDER)


def run_suite(
    suite: str, size: str, workdir: Path, only: set[str] | None = None, repeat: int = 1
) -> list[StageResult]:
    """Run the suite's stages in order (with ``only``: those named, reusing the workdir),
    ``repeat`` rounds; each stage's result is its median round (see the module doc)."""
    module = importlib.import_module(f"bench.suites.{suite}")
    if repeat < 1:
        raise SystemExit(f"--repeat must be at least 1, not {repeat}")
    rounds: dict[str, list[StageResult]] = {}
    results: dict[str, StageResult] = {}
    stages = [s for s in module.stages(size, workdir) if only is None or s.name in only]
    if not stages:
        raise SystemExit(f"suite {suite} has none of the stages {sorted(only or ())}")
    for round_ in range(repeat):
        for stage in stages:
            argv = stage.argv(results) if callable(stage.argv) else stage.argv
            note = f" (round {round_ + 1} of {repeat})" if repeat > 1 else ""
            print(f"[{suite}] {stage.name}{note} ...", file=sys.stderr, flush=True)
            result = run_stage(stage.name, argv)
            if result.returncode != 0:
                print(result.stderr_tail, file=sys.stderr)
                if results:  # what was measured before the failure is still worth seeing
                    _print_table(suite, size, stages, results)
                raise SystemExit(
                    f"stage {suite}/{stage.name} failed with exit code {result.returncode}"
                )
            rounds.setdefault(stage.name, []).append(result)
            results[stage.name] = _median(rounds[stage.name])
    _print_table(suite, size, stages, results)
    return list(results.values())


def _median(runs: list[StageResult]) -> StageResult:
    """The median round (the lower of the middle two), with the largest peaks of all."""
    if len(runs) == 1:
        return runs[0]
    middle = sorted(runs, key=lambda r: r.seconds)[(len(runs) - 1) // 2]
    return replace(
        middle,
        peak_mb=max(r.peak_mb for r in runs),
        tree_peak_mb=max(r.tree_peak_mb for r in runs),
        rounds=tuple(r.seconds for r in runs),
    )


def _print_table(
    suite: str, size: str, stages: list[Stage], results: dict[str, StageResult]
) -> None:
    from rich.console import Console
    from rich.table import Table

    baselines: dict[str, list[str]] = {}  # stage -> the baselines it is compared with
    for s in stages:
        if s.baseline and s.compare_to and s.compare_to in results:
            baselines.setdefault(s.compare_to, []).append(s.name)
    table = Table(title=f"bench {suite} --size {size}")
    for col in (
        "stage",
        "seconds",
        "peak MB (process)",
        "peak MB (tree)",
        "rows",
        "rows/s",
        "ratio",
        "detail",
    ):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for s in stages:
        if s.name not in results:
            continue
        r = results[s.name]
        rows = r.rows
        ratio = ""
        if s.name in baselines:
            ratio = "; ".join(
                f"{r.seconds / max(results[b].seconds, 1e-9):.2f}x {b}"
                for b in baselines[s.name]
                if not results[b].failed
            )
        elif s.baseline:
            ratio = "baseline"
        detail = s.detail(r.output) if s.detail is not None and r.output else ""
        if r.failed:  # a stage that reports failure (e.g. out of memory) has no ratio
            ratio, detail = "", f"failed: {r.failed}"
        seconds = f"{r.seconds:.2f}"
        if len(r.rounds) > 1:
            seconds += f" ({min(r.rounds):.2f}–{max(r.rounds):.2f})"
        table.add_row(
            s.name,
            seconds,
            f"{r.peak_mb:,.0f}",
            f"{r.tree_peak_mb:,.0f}",
            f"{rows:,}" if rows is not None else "",
            f"{rows / max(r.seconds, 1e-9):,.0f}" if rows else "",
            ratio,
            detail,
        )
    Console(width=max(Console().width, 120)).print(table)


def main(argv: list[str] | None = None) -> int:
    suites = _suite_modules()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "suite", help=f"one of {', '.join(suites)}, several joined by commas, or all"
    )
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--workdir", type=Path, default=None, help="keep outputs here")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of the stages; each shows its median"
    )
    parser.add_argument(
        "--stages",
        default=None,
        help="only these stages (comma-separated), e.g. to re-run the later stages of a "
        "suite in a --workdir that holds the earlier ones' outputs",
    )
    args = parser.parse_args(argv)
    only = set(args.stages.split(",")) if args.stages else None
    chosen = suites if args.suite == "all" else args.suite.split(",")
    unknown = [s for s in chosen if s not in suites]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; known: {', '.join(suites)}")
    with tempfile.TemporaryDirectory(prefix="nextbest-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        report = {
            s: [r.__dict__ for r in run_suite(s, args.size, workdir, only, args.repeat)]
            for s in chosen
        }
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    return 0
