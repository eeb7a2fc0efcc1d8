"""``nextbest init``, ``nextbest publish`` and ``nextbest status``."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from nextbest.cli.output import JsonOption, console, emit
from nextbest.config import load_settings

__all__ = ["register"]


def init(as_json: bool = JsonOption) -> None:
    """Create the installation: home folder, keys, operational store, warehouse schema."""
    from nextbest.services.stores import init_installation

    report = init_installation(load_settings())

    def render(r: Any) -> None:
        console.print(f"[bold green]initialised[/] {r.home}")
        keys = "from NEXTBEST_MASTER_KEY" if r.keys_from_environment else str(r.key_file)
        console.print(f"  keys:        {keys}")
        console.print(f"  opstore:     {r.opstore}")
        console.print(f"  warehouse:   {r.warehouse}")
        console.print(f"  published:   {r.published_dir}")

    emit(report, as_json, render)


def publish(as_json: bool = JsonOption) -> None:
    """Publish a read-only copy of the warehouse for serving processes."""
    from nextbest.warehouse import open_warehouse

    settings = load_settings()
    with open_warehouse(settings) as wh:
        path = wh.publish()
    emit({"published": path}, as_json, lambda r: console.print(f"published {r['published']}"))


def status(as_json: bool = JsonOption) -> None:
    """Summarise stores, tables, row counts, last batches, flags and rejects."""
    from nextbest.services.status import installation_status

    report = installation_status(load_settings())
    emit(report, as_json, _render_status)


def _render_status(r: Any) -> None:
    console.print(f"[bold]home[/] {r.home}")
    console.print(f"  warehouse  {r.warehouse} ({r.warehouse_bytes / 1e6:.1f} MB)")
    console.print(f"  opstore    {r.opstore}")
    console.print(f"  published  {r.published or '(none yet: run nextbest publish)'}")
    tables = Table(title="tables", show_edge=False)
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for name, n in r.tables.items():
        tables.add_row(name, f"{n:,}")
    console.print(tables)
    batches = Table(title="last batches", show_edge=False)
    for col in (
        "batch",
        "status",
        "mapping",
        "read",
        "loaded",
        "flagged",
        "rejected",
        "queued",
        "unchanged",
    ):
        batches.add_column(
            col, justify="right" if col not in ("batch", "status", "mapping") else "left"
        )
    for b in r.batches:
        batches.add_row(
            b.batch_id,
            b.status,
            b.mapping,
            *(
                f"{v:,}"
                for v in (
                    b.rows_read,
                    b.rows_loaded,
                    b.rows_flagged,
                    b.rows_rejected,
                    b.rows_queued,
                    b.rows_unchanged,
                )
            ),
        )
    console.print(batches)
    for title, counts in (
        ("rejects by rule", r.rejects_by_rule),
        ("flags by rule", r.flags_by_rule),
    ):
        shown = ", ".join(f"{k}: {v}" for k, v in counts.items()) or "none"
        console.print(f"[bold]{title}[/]: {shown}")
    console.print(f"[bold]open match candidates[/]: {r.open_match_candidates}")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("publish")(publish)
    app.command("status")(status)
