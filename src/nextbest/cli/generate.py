"""``nextbest generate`` (the demo bank) and ``nextbest respond`` (simulated responses)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nextbest.cli.output import JsonOption, console, emit, err_console
from nextbest.errors import NextbestError

__all__ = ["register"]


class RespondInputError(NextbestError):
    """The contacts file cannot be read."""


def _generate(
    customers: Annotated[
        int, typer.Option("--customers", "-n", help="Number of customers.")
    ] = 20_000,
    months: Annotated[int, typer.Option("--months", "-m", help="Months of history.")] = 24,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "var/demo/bank"
    ),
    faults: Annotated[
        float, typer.Option("--faults", help="Share of rows with a data fault.")
    ] = 0.0,
    file_format: Annotated[str, typer.Option("--format", help="parquet or csv (GBK).")] = "parquet",
    world: Annotated[Path | None, typer.Option("--world", help="Alternative world file.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Generate the demo bank: exports (OUT/export), ground truth (OUT/truth), fault manifest."""
    from nextbest.demo.world import generate

    with Progress(
        TextColumn("generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json,
    ) as bar:
        task = bar.add_task("customers", total=customers)
        summary = generate(
            out,
            customers,
            months,
            seed=seed,
            faults=faults,
            fmt=file_format,  # type: ignore[arg-type]
            world_file=world,
            progress=lambda done: bar.update(task, completed=done),
            workers=workers,
        )

    def render(s: Any) -> None:
        table = Table(title=f"Generated bank in {s.out} (world {s.world_version})")
        table.add_column("file")
        table.add_column("rows", justify="right")
        for name, rows in s.rows.items():
            table.add_row(name, f"{rows:,}")
        console.print(table)
        console.print(
            f"{sum(s.rows.values()):,} rows in {s.seconds:.1f} s "
            f"({s.rows_per_second:,.0f} rows/s), peak memory {s.peak_rss_mb:,.0f} MB, "
            f"{s.faults_injected:,} faults in faults.parquet"
        )

    emit(summary, as_json, render)


def _respond(
    contacts: Annotated[Path, typer.Argument(help="Contacts file (CSV or Parquet).")],
    bank: Annotated[Path, typer.Option("--bank", "-b", help="Folder of a generated bank.")],
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed.")] = 0,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write responses here.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Simulate what contacted customers do (columns customer_id, channel, offer, treated)."""
    import pandas as pd

    from nextbest.demo.world.respond import World

    try:
        if contacts.suffix.lower() == ".parquet":
            frame = pd.read_parquet(contacts)
        else:
            frame = pd.read_csv(contacts, dtype={"customer_id": str, "offer": str})
    except (OSError, ValueError) as exc:
        raise RespondInputError(f"{contacts}: cannot read contacts ({exc})") from exc
    result = World.load(bank).respond(frame, seed)
    if out is not None:
        if out.suffix.lower() == ".parquet":
            result.to_parquet(out, index=False)
        else:
            result.to_csv(out, index=False)
    if "treated" not in result:
        result["treated"] = True
    summary = (
        result.groupby(["channel", "treated"])
        .agg(
            contacts=("customer_id", "size"),
            opened=("opened", "mean"),
            clicked=("clicked", "mean"),
            converted=("converted", "mean"),
            complained=("complained", "mean"),
            churned=("churned", "mean"),
        )
        .reset_index()
    )
    records = summary.to_dict(orient="records")

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table(title="Simulated responses (rates within the horizon)")
        for col in summary.columns:
            table.add_column(str(col), justify="right")
        for row in rows:
            table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()])
        console.print(table)

    emit(records, as_json, render)


def register(app: typer.Typer) -> None:
    app.command("generate")(_generate)
    app.command("respond")(_respond)
