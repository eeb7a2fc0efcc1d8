from pathlib import Path

import pytest
from pydantic import ValidationError

from nextbest.config import Settings, load_settings


def test_yaml_file_and_overrides_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEXTBEST_HOME", raising=False)
    (tmp_path / "nextbest.yaml").write_text("timezone: Asia/Hong_Kong\ncurrency: HKD\n")
    settings = load_settings(home=tmp_path, currency="CNY")
    assert settings.timezone == "Asia/Hong_Kong" and settings.currency == "CNY"
    assert settings.opstore == f"sqlite:///{tmp_path.resolve() / 'opstore.sqlite'}"


def test_an_unknown_setting_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEXTBEST_HOME", raising=False)
    with pytest.raises(ValidationError, match="opstore"):
        Settings(home=tmp_path, opstore="postgresql+psycopg://x/y")  # the field is opstore_url
    (tmp_path / "nextbest.yaml").write_text("warehouse_bakend: spark\n")
    with pytest.raises(ValidationError, match="warehouse_bakend"):
        load_settings(home=tmp_path)


def test_unrelated_environment_variables_are_not_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXTBEST_SHARED", "/elsewhere")  # the tests' data folder, not a setting
    assert Settings(home=tmp_path).home == tmp_path
