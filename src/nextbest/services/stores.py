"""Opening an installation's stores together: warehouse, operational store and keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from nextbest.config import Settings
from nextbest.opstore.batches import BatchLedger
from nextbest.opstore.store import OperationalStore, open_opstore
from nextbest.privacy.keys import KeyRing, init_keys
from nextbest.warehouse import Warehouse, open_warehouse

__all__ = ["InstallationReport", "Stores", "init_installation", "open_stores"]


@dataclass(frozen=True)
class InstallationReport:
    """Where an installation keeps its data (printed by ``nextbest init``)."""

    home: Path
    key_file: Path | None
    keys_from_environment: bool
    opstore: str
    warehouse: Path
    published_dir: Path


def init_installation(settings: Settings) -> InstallationReport:
    """Create (idempotently) the home folder, keys, operational store and warehouse schema."""
    settings.home.mkdir(parents=True, exist_ok=True)
    key_file = None if settings.master_key else init_keys(settings)
    opstore = open_opstore(settings)  # migrates to head
    try:
        url = opstore.engine.url.render_as_string(hide_password=True)
    finally:
        opstore.dispose()
    warehouse = open_warehouse(settings)  # creates the schema
    warehouse.close()
    settings.published_dir.mkdir(parents=True, exist_ok=True)
    return InstallationReport(
        home=settings.home,
        key_file=key_file,
        keys_from_environment=bool(settings.master_key),
        opstore=url,
        warehouse=settings.warehouse_file,
        published_dir=settings.published_dir,
    )


class Stores:
    """The stores of one installation, opened together; close them with ``close()`` or ``with``.

    The warehouse is opened writable (DuckDB allows one writing process at a time).
    """

    def __init__(self, settings: Settings, *, read_only: bool = False) -> None:
        self.settings = settings
        self.keyring = KeyRing.load(settings)  # fails first, with "run nextbest init"
        self.opstore: OperationalStore = open_opstore(settings)
        try:
            self.warehouse: Warehouse = open_warehouse(settings, read_only=read_only)
        except BaseException:
            self.opstore.dispose()
            raise
        self.ledger = BatchLedger(self.opstore)
        self._vault = None

    @property
    def vault(self):  # type: ignore[no-untyped-def]
        """The PII vault (``nextbest.opstore.vault.PiiVault``)."""
        if self._vault is None:
            from nextbest.opstore.vault import PiiVault

            self._vault = PiiVault(self.opstore, self.keyring)
        return self._vault

    def close(self) -> None:
        self.warehouse.close()
        self.opstore.dispose()

    def __enter__(self) -> Stores:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_stores(settings: Settings, *, read_only: bool = False) -> Stores:
    """Open the installation's keys, operational store and warehouse."""
    return Stores(settings, read_only=read_only)
