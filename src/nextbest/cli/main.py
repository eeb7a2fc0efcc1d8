"""The ``nextbest`` command. Command modules in this package register themselves."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import nextbest.cli as cli_package
from nextbest.cli.output import err_console
from nextbest.errors import NextbestError

__all__ = ["app", "main"]

app = typer.Typer(
    name="nextbest",
    help="nextbest: precision marketing and customer relationships for retail banks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """nextbest: precision marketing and customer relationships for retail banks."""


@app.command()
def version() -> None:
    """Print the installed nextbest version."""
    from nextbest import __version__

    typer.echo(__version__)


def _register_commands() -> None:
    # Discovery instead of a hand-kept list: a command module exists exactly when its file
    # does, so the list can never name a module that is not there.
    for info in sorted(pkgutil.iter_modules(cli_package.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in {"main", "output"}:
            continue
        module = importlib.import_module(f"{cli_package.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:
    """Entry point: run the app, turning nextbest errors into a message and exit code."""
    try:
        app(standalone_mode=False)
    except NextbestError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        show = getattr(exc, "show", None)
        if callable(show):
            show()
            sys.exit(getattr(exc, "exit_code", 2))
        raise
