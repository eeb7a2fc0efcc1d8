from pathlib import Path

import pytest

from nextbest.demo.world.params import DEFAULT_WORLD_FILE, WorldFileError, load_world_params


def test_shipped_world_file_is_versioned_and_valid() -> None:
    params = load_world_params()
    assert params.version
    assert len(params.segments.names) == 6
    assert 20 <= len(params.products) <= 30
    assert params.products[0].code == "DD001"


def test_inconsistent_world_file_names_the_field(tmp_path: Path) -> None:
    text = DEFAULT_WORLD_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "world.yaml"
    broken.write_text(text.replace("dormant_churn: 0.16", "dormant_churn: lots"), encoding="utf-8")
    with pytest.raises(WorldFileError, match=r"lifecycle\.dormant_churn"):
        load_world_params(broken)


def test_segment_shaped_lists_must_match_segments(tmp_path: Path) -> None:
    text = DEFAULT_WORLD_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "world.yaml"
    broken.write_text(
        text.replace("dormant_churn: 0.16", "dormant_churn: 0.16\n  extra_key: 1"),
        encoding="utf-8",
    )
    with pytest.raises(WorldFileError, match="extra_key"):
        load_world_params(broken)
