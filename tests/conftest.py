"""Shared fixtures: temporary installations, the shared data folder, PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nextbest.config import Settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A fresh installation under a temporary folder, with its own master key."""
    home = tmp_path / "nextbest"
    home.mkdir()
    return Settings(home=home)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository (or ``NEXTBEST_SHARED``); missing is a failure."""
    root = Path(__file__).resolve().parents[1]
    path = Path(os.environ.get("NEXTBEST_SHARED", root.parent / "shared"))
    if not (path / "datasets").is_dir():
        pytest.fail(f"shared data folder not found at {path} (set NEXTBEST_SHARED)")
    return path
