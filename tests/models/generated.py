"""A small generated and ingested bank shared by the model tests (built once per session).

2,000 customers x 15 months (seed 3), ingested with the shipped mapping; the churn training
set (two training points, one validation point, horizon 3 months) is built once as well.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

from nextbest.config import Settings
from nextbest.demo.world import generate
from nextbest.models.training_sets import (
    ChurnTarget,
    SnapshotFrames,
    TrainingSet,
    TrainingSpec,
    build_training_set,
    default_spec,
)
from nextbest.privacy.keys import KeyRing
from nextbest.services.ingestion import ingest
from nextbest.services.stores import init_installation
from nextbest.warehouse import Warehouse, open_warehouse

CUSTOMERS, MONTHS, SEED = 2000, 15, 3
LAST_DAY = date(2026, 10, 31)


@dataclass(frozen=True)
class GeneratedBank:
    bank: Path
    settings: Settings
    warehouse: Warehouse
    keyring: KeyRing
    loaded_by: datetime
    spec: TrainingSpec
    frames: SnapshotFrames
    churn: TrainingSet


@cache
def generated_bank() -> GeneratedBank:
    root = Path(tempfile.mkdtemp(prefix="nextbest-models-"))
    bank = generate(root / "bank", CUSTOMERS, MONTHS, seed=SEED).out
    home = root / "home"
    home.mkdir()
    settings = Settings(home=home)
    # A fixed key: pseudonymous customer keys, and so every split by key (the scorecard's
    # customer holdout), are the same in every run.
    KeyRing.from_secret(bytes(range(32))).save(settings.key_file)
    init_installation(settings)
    report = ingest(settings, bank / "export", bank / "mapping.yaml")
    assert report.status == "committed"
    loaded_by = datetime.now(UTC)
    wh = open_warehouse(settings, read_only=True)
    spec = default_spec(LAST_DAY, loaded_by, train_points=2)
    frames = SnapshotFrames(wh, loaded_by, spec.timezone)
    churn = build_training_set(wh, spec, ChurnTarget(), feature_frames=frames)
    return GeneratedBank(bank, settings, wh, KeyRing.load(settings), loaded_by, spec, frames, churn)
