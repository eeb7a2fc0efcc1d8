"""Fixtures for ingestion tests: an initialised installation and sample exports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nextbest.config import Settings
from nextbest.demo.sample_bank import MAPPING, SampleBank, write_sample_bank
from nextbest.services.stores import init_installation


@pytest.fixture
def installed(settings: Settings) -> Settings:
    init_installation(settings)
    return settings


@pytest.fixture
def export(tmp_path: Path) -> SampleBank:
    return write_sample_bank(tmp_path / "export", customers=120)


@pytest.fixture
def mapping_path() -> Path:
    return MAPPING


def run_cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m nextbest.cli`` against the installation, as a real process."""
    full_env = {**os.environ, "NEXTBEST_HOME": str(settings.home), **env}
    return subprocess.run(
        [sys.executable, "-m", "nextbest.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
        timeout=300,
    )
