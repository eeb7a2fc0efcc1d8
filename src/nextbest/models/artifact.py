"""A trained model on disk: the fitted estimator (joblib) beside its metadata (JSON).

Layout of a model directory::

    model.joblib     the fitted estimator
    metadata.json    ModelMetadata: data checksum, features, target, metrics, seed, version

Only load model files you trust: joblib, like pickle, runs code while loading.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from nextbest.errors import NextbestError

__all__ = ["ModelArtifactError", "ModelMetadata", "code_version", "load_model", "save_model"]

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"


class ModelArtifactError(NextbestError):
    """A model directory is missing, incomplete or unreadable."""


@dataclass(frozen=True)
class ModelMetadata:
    """What a saved model was trained on and how well it did.

    Attributes
    ----------
    name:
        Free label (defaults to the data file's stem).
    data_file, data_sha256, n_rows:
        The training file and a checksum of its bytes.
    target, positive_label:
        Outcome column and the value that counts as the event (stored as text).
    features:
        Feature columns in the order the model expects.
    excluded:
        Columns left out, with the reason.
    hyperparameters:
        The estimator's ``get_params()``.
    metrics:
        Cross-validation summary (mean, sd per metric) and the design (folds, repeats, seed).
    seed:
        Seed of the cross-validation splits and of the estimator.
    code_version:
        nextbest version, plus the git commit when run from a checkout.
    created_at:
        UTC time of saving, ISO 8601.
    """

    name: str
    data_file: str
    data_sha256: str
    n_rows: int
    target: str
    positive_label: str
    features: tuple[str, ...]
    excluded: dict[str, str]
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any]
    seed: int
    code_version: str
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def code_version() -> str:
    """``<package version>`` or ``<package version>+g<commit>`` inside a git checkout."""
    from nextbest import __version__

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}" if commit else __version__


def save_model(directory: Path, estimator: Any, metadata: ModelMetadata) -> Path:
    """Write ``estimator`` and ``metadata`` into ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, directory / MODEL_FILE)
    (directory / METADATA_FILE).write_text(
        json.dumps(metadata.to_dict(), indent=2, ensure_ascii=False, default=str),
        encoding="utf-8",
    )
    return directory


def load_model(directory: Path) -> tuple[Any, ModelMetadata]:
    """Read a model directory written by :func:`save_model`."""
    model_file = directory / MODEL_FILE
    meta_file = directory / METADATA_FILE
    for path in (model_file, meta_file):
        if not path.is_file():
            raise ModelArtifactError(f"{path}: missing; is {directory} a model directory?")
    try:
        raw = json.loads(meta_file.read_text(encoding="utf-8"))
        raw["features"] = tuple(raw["features"])
        metadata = ModelMetadata(**raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelArtifactError(f"{meta_file}: unreadable metadata ({exc})") from exc
    return joblib.load(model_file), metadata
