"""Settings: one validated object, read once at the edge (CLI, API) and passed inward.

Values come from, in increasing precedence: defaults, a YAML file (``NEXTBEST_CONFIG`` or
``$NEXTBEST_HOME/nextbest.yaml``), and ``NEXTBEST_*`` environment variables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Where nextbest keeps its data and which backends it uses.

    Attributes
    ----------
    home:
        Root folder of one installation's data (warehouse, operational store, keys).
    warehouse_backend:
        ``duckdb`` (embedded default) or ``spark``.
    opstore_url:
        SQLAlchemy URL of the operational store; SQLite file under ``home`` by default,
        ``postgresql+psycopg://...`` for PostgreSQL.
    master_key_file:
        File holding the vault's master key (created by ``nextbest init``). The environment
        variable ``NEXTBEST_MASTER_KEY`` (base64) takes precedence and is never written.
    timezone:
        The bank's time zone; timestamps without an offset are read in it.
    """

    model_config = SettingsConfigDict(env_prefix="NEXTBEST_", extra="forbid")

    home: Path = Field(default_factory=lambda: Path("var/nextbest").resolve())
    warehouse_backend: Literal["duckdb", "spark"] = "duckdb"
    warehouse_path: Path | None = None
    publish_dir: Path | None = None
    opstore_url: str | None = None
    master_key_file: Path | None = None
    master_key: str | None = Field(default=None, repr=False)
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    ingest_chunk_rows: int = Field(default=200_000, ge=1_000)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        ZoneInfo(value)  # raises for an unknown zone name
        return value

    @property
    def warehouse_file(self) -> Path:
        return self.warehouse_path or self.home / "warehouse.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.publish_dir or self.home / "published"

    @property
    def opstore(self) -> str:
        return self.opstore_url or f"sqlite:///{self.home / 'opstore.sqlite'}"

    @property
    def key_file(self) -> Path:
        return self.master_key_file or self.home / "keys" / "master.key"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the YAML file (if any), the environment and ``overrides``."""
    home = Path(overrides.get("home") or os.environ.get("NEXTBEST_HOME") or "var/nextbest")
    config_file = Path(os.environ.get("NEXTBEST_CONFIG") or home / "nextbest.yaml")
    file_values: dict[str, Any] = {}
    if config_file.is_file():
        loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{config_file}: expected a mapping of setting names to values")
        file_values = loaded
    env_values = Settings().model_dump(exclude_unset=True)
    merged = {**file_values, **env_values, **{k: v for k, v in overrides.items() if v is not None}}
    merged.setdefault("home", home)
    settings = Settings.model_validate(merged)
    settings.home = settings.home.resolve()
    return settings
