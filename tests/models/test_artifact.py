from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nextbest.models.artifact import (
    ModelArtifactError,
    ModelMetadata,
    code_version,
    load_model,
    save_model,
)
from nextbest.models.tabular import TabularClassifier


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    X = pd.DataFrame({"a": np.arange(100.0), "b": ["x", "y"] * 50})
    y = (np.arange(100) > 60).astype(int)
    model = TabularClassifier(n_estimators=10, min_child_samples=5).fit(X, y)
    meta = ModelMetadata(
        name="t",
        data_file="t.csv",
        data_sha256="0" * 64,
        n_rows=100,
        target="y",
        positive_label="1",
        features=("a", "b"),
        excluded={"id": "excluded by the user"},
        hyperparameters=model.get_params(),
        metrics={"auc": {"mean": 0.9, "sd": 0.01}},
        seed=42,
        code_version=code_version(),
    )
    save_model(tmp_path / "m", model, meta)
    loaded, loaded_meta = load_model(tmp_path / "m")
    assert loaded_meta == meta
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert code_version().startswith("0.")


def test_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactError, match=r"model\.joblib: missing"):
        load_model(tmp_path)
