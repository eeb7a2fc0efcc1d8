"""Model registry: versioned model artefacts on disk, champion/challenger, load by name.

Layout under the registry root::

    <name>/v0001/model.joblib       the fitted model (joblib: load only trusted files)
    <name>/v0001/entry.json         RegistryEntry: data window, features, metrics, seed, code
    <name>/v0001/reference.parquet  training population sample (features + score) for drift
    <name>/v0001/reports/<r>.html   evaluation report(s) with charts, and the same as .json
    <name>/champion                 text file holding the champion version ("v0001")

Registering never overwrites: each call takes the next version number. The first version of
a name becomes champion; later ones are challengers until :meth:`ModelRegistry.promote`.
The champion pointer is replaced atomically (write a temporary file, ``os.replace``).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import pandas as pd

from nextbest.errors import NextbestError
from nextbest.models.drift import (
    ALERT_THRESHOLD,
    WARN_THRESHOLD,
    DriftResult,
    population_stability,
)
from nextbest.models.report import ModelReport, render_html

__all__ = [
    "DriftReport",
    "ModelRegistry",
    "RegistryEntry",
    "RegistryError",
    "git_describe",
]

_ENTRY = "entry.json"
_MODEL = "model.joblib"
_REFERENCE = "reference.parquet"
_REPORTS = "reports"
_CHAMPION = "champion"
Status = Literal["champion", "challenger"]


class RegistryError(NextbestError):
    """A registry operation failed; the message names the model, version and file."""


def git_describe() -> str:
    """``git describe --always --dirty`` of the checkout, else the package version."""
    from nextbest import __version__

    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+{out}" if out else __version__


@dataclass(frozen=True)
class RegistryEntry:
    """Metadata of one registered model version.

    Attributes
    ----------
    name, version:
        Model name (e.g. ``churn``) and version label (``v0001``).
    kind:
        What the model predicts (e.g. ``churn_3m``, ``propensity_fund``).
    data_window:
        First training as-of date and last label date (ISO strings).
    features:
        Input columns, in order.
    metrics:
        Validation metrics (AUC, lift, Brier, baselines ...).
    seed:
        Training seed.
    code_version:
        ``git describe`` of the code that trained it.
    training:
        Training-set summary (as-of dates, rows, events, cut-offs).
    created_at:
        UTC time of registration.
    """

    name: str
    version: str
    kind: str
    data_window: tuple[str, str]
    features: tuple[str, ...]
    metrics: dict[str, Any]
    seed: int
    code_version: str
    training: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftReport:
    """PSI of every feature and of the score between training population and now."""

    name: str
    version: str
    results: tuple[DriftResult, ...]
    warn: float
    alert: float

    @property
    def level(self) -> str:
        levels = {r.level for r in self.results}
        return "alert" if "alert" in levels else "warn" if "warn" in levels else "stable"

    def alerts(self) -> tuple[DriftResult, ...]:
        return tuple(r for r in self.results if r.level != "stable")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "level": self.level,
            "warn": self.warn,
            "alert": self.alert,
            "variables": [
                {"variable": r.variable, "psi": r.psi, "level": r.level} for r in self.results
            ],
        }


class ModelRegistry:
    """Versioned models under ``root`` (usually ``<home>/models``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ writing
    def register(
        self,
        name: str,
        model: Any,
        *,
        kind: str,
        data_window: tuple[str, str],
        features: Sequence[str],
        metrics: dict[str, Any],
        seed: int,
        training: dict[str, Any] | None = None,
        reference: pd.DataFrame | None = None,
        reference_score: np.ndarray | None = None,
        reports: Mapping[str, ModelReport] | None = None,
    ) -> RegistryEntry:
        """Store ``model`` as the next version of ``name``; the first becomes champion.

        ``reference`` (training features) and ``reference_score`` are kept, up to 20,000
        rows sampled with a fixed seed, as the drift baseline. ``reports`` (evaluation
        reports by a plain name, e.g. ``validation`` or a product family) are written as
        HTML and JSON.
        """
        for what, plain in (("model", name), *(("report", label) for label in reports or {})):
            if not plain or "/" in plain or plain.startswith("."):
                raise RegistryError(f"{what} name {plain!r} is not a plain name")
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        number = 1 + max((int(p.name[1:]) for p in self._version_dirs(name)), default=0)
        version = f"v{number:04d}"
        target = folder / version
        target.mkdir()
        entry = RegistryEntry(
            name=name,
            version=version,
            kind=kind,
            data_window=(str(data_window[0]), str(data_window[1])),
            features=tuple(features),
            metrics=metrics,
            seed=seed,
            code_version=git_describe(),
            training=training or {},
        )
        joblib.dump(model, target / _MODEL)
        if reference is not None:
            ref = reference[list(features)].copy()
            if reference_score is not None:
                ref["__score__"] = np.asarray(reference_score, dtype=float)
            if len(ref) > 20_000:
                ref = ref.sample(20_000, random_state=0)
            ref.to_parquet(target / _REFERENCE)
        for label, report in (reports or {}).items():
            (target / _REPORTS).mkdir(exist_ok=True)
            (target / _REPORTS / f"{label}.html").write_text(render_html(report), "utf-8")
            (target / _REPORTS / f"{label}.json").write_text(report.to_json(), "utf-8")
        (target / _ENTRY).write_text(
            json.dumps(entry.to_dict(), indent=2, default=str), encoding="utf-8"
        )
        if not (folder / _CHAMPION).exists():
            self._write_champion(name, version)
        return entry

    def promote(self, name: str, version: str) -> RegistryEntry:
        """Make ``version`` the champion of ``name`` (the previous one becomes a challenger)."""
        entry = self.entry(name, version)
        self._write_champion(name, version)
        return entry

    def _write_champion(self, name: str, version: str) -> None:
        pointer = self.root / name / _CHAMPION
        tmp = pointer.with_suffix(".tmp")
        tmp.write_text(version + "\n", encoding="utf-8")
        os.replace(tmp, pointer)

    # ------------------------------------------------------------------ reading
    def _version_dirs(self, name: str) -> list[Path]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("v"))

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and self._version_dirs(p.name)
        )

    def champion_version(self, name: str) -> str:
        pointer = self.root / name / _CHAMPION
        if not pointer.is_file():
            known = ", ".join(self.names()) or "none"
            raise RegistryError(f"no model named {name!r} in {self.root} (registered: {known})")
        return pointer.read_text(encoding="utf-8").strip()

    def entry(self, name: str, version: str | None = None) -> RegistryEntry:
        """Metadata of ``version`` (default: the champion)."""
        version = version or self.champion_version(name)
        path = self.root / name / version / _ENTRY
        if not path.is_file():
            raise RegistryError(f"{path}: model {name!r} has no version {version!r}")
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["data_window"] = tuple(raw["data_window"])
        raw["features"] = tuple(raw["features"])
        return RegistryEntry(**raw)

    def status(self, name: str, version: str) -> Status:
        return "champion" if self.champion_version(name) == version else "challenger"

    def entries(self, name: str | None = None) -> list[tuple[RegistryEntry, Status]]:
        """Every version (of ``name`` or of all models) with its status, oldest first."""
        out = []
        for n in [name] if name else self.names():
            for folder in self._version_dirs(n):
                out.append((self.entry(n, folder.name), self.status(n, folder.name)))
        return out

    def load(self, name: str, version: str | None = None) -> tuple[Any, RegistryEntry]:
        """The fitted model and its metadata (default: the champion)."""
        entry = self.entry(name, version)
        path = self.root / name / entry.version / _MODEL
        if not path.is_file():
            raise RegistryError(f"{path}: model file missing")
        return joblib.load(path), entry

    def reports(self, name: str, version: str | None = None) -> dict[str, Path]:
        """The HTML evaluation reports of ``version`` (default: the champion), by name."""
        entry = self.entry(name, version)
        folder = self.root / name / entry.version / _REPORTS
        return {p.stem: p for p in sorted(folder.glob("*.html"))} if folder.is_dir() else {}

    def reference(self, name: str, version: str | None = None) -> pd.DataFrame:
        entry = self.entry(name, version)
        path = self.root / name / entry.version / _REFERENCE
        if not path.is_file():
            raise RegistryError(f"{path}: no training reference stored for drift")
        return pd.read_parquet(path)

    def drift(
        self,
        name: str,
        current: pd.DataFrame,
        current_score: np.ndarray | None = None,
        *,
        version: str | None = None,
        warn: float = WARN_THRESHOLD,
        alert: float = ALERT_THRESHOLD,
    ) -> DriftReport:
        """PSI per feature (and for the score) between the training reference and ``current``."""
        entry = self.entry(name, version)
        ref = self.reference(name, entry.version)
        features = list(entry.features)
        results = [
            population_stability(ref[c], current[c], variable=c, warn=warn, alert=alert)
            for c in features
        ]
        if current_score is not None and "__score__" in ref.columns:
            results.append(
                population_stability(
                    ref["__score__"],
                    current_score,
                    variable="score",
                    kind="numeric",
                    warn=warn,
                    alert=alert,
                )
            )
        ordered = tuple(sorted(results, key=lambda r: (-r.psi, r.variable)))
        return DriftReport(entry.name, entry.version, ordered, warn, alert)
