"""``nextbest customers search``: find customers by tag, segment and lifecycle stage.

Reads the latest *published* warehouse copy, never the live warehouse file, and prints only
pseudonymous keys and masked identifiers.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from nextbest.cli.output import JsonOption, console, emit
from nextbest.config import load_settings
from nextbest.errors import NextbestError
from nextbest.profile.search import SearchCriteria, SearchResult, search_customers
from nextbest.warehouse import open_published

__all__ = ["register"]

customers_app = typer.Typer(help="Find customers (masked output).", no_args_is_help=True)


class CustomersInputError(NextbestError):
    """A command-line argument is invalid."""


@customers_app.command("search")
def search(
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Tag code; repeat to require several.")
    ] = None,
    segment: Annotated[
        str | None,
        typer.Option("--segment", help="Segment code (hnw, s2) or scheme:segment (cluster:s2)."),
    ] = None,
    lifecycle: Annotated[
        str | None, typer.Option("--lifecycle", "--stage", help="Lifecycle stage.")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD; latest.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many customers.")] = 20,
    as_json: bool = JsonOption,
) -> None:
    """Customers carrying every --tag, in --segment and at --lifecycle stage."""
    from datetime import date

    day = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise CustomersInputError(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from None
    criteria = SearchCriteria(tuple(tag or ()), segment, lifecycle, day, limit)
    with open_published(load_settings()) as wh:
        result = search_customers(wh, criteria)
    emit(result, as_json, _render)


def _render(r: SearchResult) -> None:
    console.print(f"{r.total} customers as of {r.as_of} (showing {len(r.hits)})")
    # Compact: the full key (needed to ask for a profile), the cluster and asset segments.
    table = Table("customer_key", "name", "mobile", "stage", "tier", "cluster", "assets", "tags")
    table.columns[0].no_wrap = True
    for h in r.hits:
        table.add_row(
            h.customer_key, h.name_masked or "", h.mobile_masked or "", h.stage or "",
            h.value_tier or "", h.segments.get("cluster", ""), h.segments.get("asset_size", ""),
            ", ".join(h.tags),
        )  # fmt: skip
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(customers_app, name="customers")
