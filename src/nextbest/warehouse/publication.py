"""Published read-only copies of the warehouse and the pointer to the current one.

Serving processes never open the live warehouse (an embedded engine such as DuckDB lets only
one process hold its file). The writer instead publishes a complete, read-only copy under
``published_dir`` with a new version name, then switches the small pointer file ``CURRENT``
to it with write-temp + fsync + ``os.replace``. A reader that resolves the pointer sees the
previous version until the switch and the new one after it, never a partial copy; a crash
before the switch leaves the previous version current. Old versions are removed by
:func:`gc`; on POSIX a reader that still has a removed version open keeps reading it.

This module is backend-neutral: a backend supplies only the function that writes the copy.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from nextbest.config import Settings
from nextbest.errors import NextbestError

__all__ = [
    "POINTER",
    "PublicationError",
    "gc",
    "install_version",
    "latest_published",
    "published_versions",
]

POINTER = "CURRENT"
_PREFIX = "warehouse-v"
_TMP_PREFIX = ".tmp-"
_VERSION = re.compile(rf"^{_PREFIX}(\d+)-[0-9TZ]+(\.[a-z]+)?$")


class PublicationError(NextbestError):
    """Publishing or resolving a published copy failed."""


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_path(path: Path) -> None:
    """Flush a file, or every file in a directory tree, to stable storage."""
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                _fsync_path(child)
        _fsync_dir(path)
        return
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def published_versions(published_dir: Path) -> list[Path]:
    """Complete published versions, oldest first (temporary files excluded)."""
    if not published_dir.is_dir():
        return []
    found = []
    for entry in published_dir.iterdir():
        match = _VERSION.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return [path for _, path in sorted(found)]


def _next_name(published_dir: Path, suffix: str) -> str:
    versions = published_versions(published_dir)
    last = int(_VERSION.match(versions[-1].name).group(1)) if versions else 0  # type: ignore[union-attr]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{_PREFIX}{last + 1:06d}-{stamp}{suffix}"


def _switch_pointer(published_dir: Path, name: str) -> None:
    tmp = published_dir / f"{_TMP_PREFIX}{POINTER}-{os.getpid()}"
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, published_dir / POINTER)
    _fsync_dir(published_dir)


def install_version(
    published_dir: Path,
    write_copy: Callable[[Path], None],
    *,
    suffix: str = "",
    keep: int | None = 3,
) -> Path:
    """Publish a new version: write it, make it durable and read-only, switch the pointer.

    Parameters
    ----------
    published_dir:
        Folder holding the versions and the ``CURRENT`` pointer (created if missing).
    write_copy:
        Backend function that writes a complete copy at the path it is given (a file or a
        directory); it must not exist afterwards only partially named as a version, which is
        why it writes under a temporary name first.
    suffix:
        File name suffix of a version (``.duckdb``).
    keep:
        Versions to keep after publishing (see :func:`gc`); ``None`` keeps all.

    Returns
    -------
    Path
        The new current version.
    """
    published_dir.mkdir(parents=True, exist_ok=True)
    name = _next_name(published_dir, suffix)
    tmp = published_dir / f"{_TMP_PREFIX}{name}"
    write_copy(tmp)
    _fsync_path(tmp)
    _make_read_only(tmp)
    final = published_dir / name
    os.replace(tmp, final)
    _fsync_dir(published_dir)
    _switch_pointer(published_dir, name)
    if keep is not None:
        gc(published_dir, keep)
    return final


def _make_read_only(path: Path) -> None:
    targets = [path, *path.rglob("*")] if path.is_dir() else [path]
    for target in targets:
        if target.is_file():
            target.chmod(0o444)


def latest_published(settings: Settings | Path) -> Path | None:
    """The current published copy, or ``None`` if nothing was published yet.

    Parameters
    ----------
    settings:
        Settings (``settings.published_dir`` is used) or the published folder itself.

    Raises
    ------
    PublicationError
        The pointer names a version that does not exist.
    """
    published_dir = settings.published_dir if isinstance(settings, Settings) else settings
    pointer = published_dir / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    path = published_dir / name
    if not name or not _VERSION.match(name) or not path.exists():
        raise PublicationError(
            f"{pointer}: names {name!r}, which is not a published version; run "
            "`nextbest publish` again"
        )
    return path


def gc(settings: Settings | Path, keep: int = 3) -> list[Path]:
    """Remove all but the ``keep`` newest versions and leftovers of interrupted publishes.

    The current version is never removed. Readers that still have a removed version open
    keep reading it (POSIX unlink semantics). Run it only from the writing process: a
    concurrent publish's temporary copy would be removed too.

    Returns
    -------
    list[Path]
        What was removed.
    """
    if keep < 1:
        raise PublicationError(f"gc: keep must be at least 1, got {keep}")
    published_dir = settings.published_dir if isinstance(settings, Settings) else settings
    if not published_dir.is_dir():
        return []
    current = latest_published(published_dir)
    versions = published_versions(published_dir)
    doomed = [v for v in versions[:-keep] if v != current]
    doomed += [e for e in published_dir.iterdir() if e.name.startswith(_TMP_PREFIX)]
    for path in doomed:
        _remove(path)
    return doomed


def _remove(path: Path) -> None:
    # Read-only files in a writable folder can be unlinked; sealed (read-only) folders of a
    # directory version must be opened up first.
    if path.is_dir():
        for folder in [path, *path.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
