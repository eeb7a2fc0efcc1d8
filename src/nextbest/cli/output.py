"""Printing results: rich tables for people, ``--json`` for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

__all__ = ["JsonOption", "as_of_day", "console", "emit", "err_console", "to_jsonable"]

console = Console()
err_console = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print the result as JSON.")


def as_of_day(value: str | None) -> date | None:
    """The ``--as-of`` option as a date (``None`` when not given)."""
    from nextbest.errors import NextbestError

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise NextbestError(f"--as-of {value!r}: expected a date YYYY-MM-DD") from exc


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return value


def emit(result: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print ``result`` as JSON on stdout, or hand it to ``render`` for people."""
    if as_json:
        typer.echo(json.dumps(to_jsonable(result), ensure_ascii=False, indent=2))
    else:
        render(result)
