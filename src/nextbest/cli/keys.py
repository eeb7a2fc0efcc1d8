"""``nextbest keys``: manage the key ring (master key rotation)."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from nextbest.cli.output import JsonOption, console, emit

__all__ = ["register"]

keys_app = typer.Typer(help="Manage the vault's keys.", no_args_is_help=True)


@dataclass(frozen=True)
class RotationResult:
    master_version: int
    key_file: str
    data_keys: int


@keys_app.command("rotate")
def rotate(as_json: bool = JsonOption) -> None:
    """Add a new master key version and re-wrap every customer data key under it."""
    from sqlalchemy import func, select

    from nextbest.config import load_settings
    from nextbest.opstore import open_opstore
    from nextbest.opstore.models import VaultKey
    from nextbest.opstore.vault import PiiVault
    from nextbest.privacy.keys import KeyRing

    settings = load_settings()
    keyring = KeyRing.load(settings)
    store = open_opstore(settings)
    try:
        with console.status("re-wrapping data keys…"):
            version = PiiVault(store, keyring).rotate_master_key(actor="cli")
        with store.session(readonly=True) as session:
            count = session.scalar(select(func.count()).select_from(VaultKey)) or 0
    finally:
        store.dispose()
    result = RotationResult(version, str(keyring.source), int(count))
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"master key version [bold]{r.master_version}[/] is current; "
            f"{r.data_keys} data keys re-wrapped; key file {r.key_file}"
        ),
    )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
