"""``nextbest warehouse``: published versions of the warehouse and their garbage collection."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from nextbest.cli.output import JsonOption, console, emit

__all__ = ["register"]

warehouse_app = typer.Typer(
    help="Published warehouse versions (both backends) and Spark storage.", no_args_is_help=True
)


@dataclass(frozen=True)
class VersionInfo:
    name: str
    path: str
    current: bool


@dataclass(frozen=True)
class Versions:
    backend: str
    published_dir: str
    versions: list[VersionInfo]
    storage_manifest: str | None


@dataclass(frozen=True)
class Collected:
    backend: str
    removed: list[str]


@warehouse_app.command("versions")
def versions(as_json: bool = JsonOption) -> None:
    """List the published versions, oldest first, and mark the current one."""
    from nextbest.config import load_settings
    from nextbest.warehouse import latest_published, publication

    settings = load_settings()
    current = latest_published(settings)
    found = [
        VersionInfo(p.name, str(p), p == current)
        for p in publication.published_versions(settings.published_dir)
    ]
    manifest = None
    if settings.warehouse_backend == "spark":
        from nextbest.warehouse.spark_session import spark_settings

        storage = spark_settings(settings).storage_dir(settings)
        pointer = publication.latest_published(storage / "manifests")
        manifest = pointer.name if pointer else None
    result = Versions(settings.warehouse_backend, str(settings.published_dir), found, manifest)

    def render(r: Versions) -> None:
        if not r.versions:
            console.print(f"nothing published yet in {r.published_dir}")
        for v in r.versions:
            console.print(f"{'*' if v.current else ' '} {v.name}")
        if r.storage_manifest:
            console.print(f"Spark storage manifest: {r.storage_manifest}")

    emit(result, as_json, render)


@warehouse_app.command("gc")
def gc(
    keep: int = typer.Option(3, "--keep", min=1, help="Published versions to keep."),
    as_json: bool = JsonOption,
) -> None:
    """Remove old published versions, leftovers of interrupted publishes and, on Spark,
    data files no kept manifest names and pins of readers that died."""
    from nextbest.config import load_settings
    from nextbest.warehouse import publication

    settings = load_settings()
    removed = publication.gc(settings, keep)
    if settings.warehouse_backend == "spark":
        from nextbest.warehouse.spark_publication import collect_stale_pins
        from nextbest.warehouse.spark_session import spark_settings
        from nextbest.warehouse.spark_storage import ManifestStore

        removed += collect_stale_pins(settings.published_dir)
        # Storage gc needs the writer lock but no Spark session (no JVM start).
        store = ManifestStore(spark_settings(settings).storage_dir(settings))
        store.acquire_writer()
        try:
            removed += store.gc()
        finally:
            store.release_writer()
    result = Collected(settings.warehouse_backend, [str(p) for p in removed])
    emit(result, as_json, lambda r: console.print(f"removed {len(r.removed)} item(s)"))


def register(app: typer.Typer) -> None:
    app.add_typer(warehouse_app, name="warehouse")
