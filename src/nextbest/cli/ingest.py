"""``nextbest ingest`` and ``nextbest sample-bank``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from nextbest.cli.output import JsonOption, console, emit, err_console
from nextbest.config import load_settings

__all__ = ["register"]


def ingest(
    source: Annotated[Path, typer.Argument(help="A file or a directory of export files.")],
    mapping: Annotated[Path, typer.Option("--mapping", "-m", help="The mapping YAML file.")],
    as_json: bool = JsonOption,
) -> None:
    """Load a bank's export files through a mapping, as one atomic batch."""
    from nextbest.services.ingestion import ingest as run_ingest

    settings = load_settings()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(file: str, rows: int) -> None:
            if file not in tasks:
                tasks[file] = bar.add_task(file, total=None)
            bar.update(tasks[file], completed=rows)

        report = run_ingest(settings, source, mapping, progress=progress)
    emit(report, as_json, _render)


def _render(r: Any) -> None:
    for line in r.recovered:
        console.print(f"[yellow]recovered[/] {line}")
    if r.status == "skipped":
        console.print(
            f"[bold]unchanged[/]: identical input was already committed as batch {r.batch_id}"
        )
        return
    table = Table(title=f"batch {r.batch_id} ({r.mapping})", show_edge=False)
    for col in ("file", "target", "read", "loaded", "flagged", "rejected", "queued", "unchanged"):
        table.add_column(col, justify="left" if col in ("file", "target") else "right")
    for f in (*r.files, r.totals):
        table.add_row(
            f.file,
            f.target,
            *(f"{v:,}" for v in (f.read, f.loaded, f.flagged, f.rejected, f.queued, f.unchanged)),
        )
    console.print(table)
    rejects = ", ".join(f"{k}: {v}" for k, v in r.totals.rejects_by_rule.items()) or "none"
    flags = ", ".join(f"{k}: {v}" for k, v in r.totals.flags_by_rule.items()) or "none"
    console.print(
        f"rejects by rule: {rejects}; flags by rule: {flags}; "
        f"match candidates: {r.match_candidates}"
    )
    if r.ignored_files:
        console.print(f"ignored (no mapping entry): {', '.join(r.ignored_files)}")
    rate = r.totals.read / r.seconds if r.seconds else 0.0
    console.print(f"{r.totals.read:,} rows in {r.seconds:.1f} s ({rate:,.0f} rows/s)")


def sample_bank(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the export files into.")],
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 300,
    as_json: bool = JsonOption,
) -> None:
    """Write a small deterministic sample bank export (with a few deliberate faults)."""
    from nextbest.demo.sample_bank import MAPPING, write_sample_bank

    bank = write_sample_bank(out, customers=customers)
    emit(
        {
            "folder": bank.folder,
            "files": bank.files,
            "customers": bank.customers,
            "accounts": bank.accounts,
            "transactions": bank.transactions,
            "mapping": MAPPING,
            "deliberate_faults": len(bank.faults),
        },
        as_json,
        lambda r: console.print(
            f"wrote {', '.join(r['files'])} to {r['folder']} ({r['customers']} customers, "
            f"{r['accounts']} accounts, {r['transactions']} transactions, "
            f"{r['deliberate_faults']} deliberate faults); mapping: {r['mapping']}"
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("sample-bank")(sample_bank)
