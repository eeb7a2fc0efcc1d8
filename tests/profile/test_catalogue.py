"""The feature catalogue: unique names, documented, and docs/features.md in sync."""

from __future__ import annotations

from pathlib import Path

from nextbest.profile.catalogue import FEATURES, render_markdown
from nextbest.profile.tables import FEATURE_SNAPSHOT

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_docs_features_md_is_generated_from_the_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/features.md is stale: regenerate it with "
        "python -c 'from nextbest.profile.catalogue import render_markdown; "
        'open("docs/features.md", "w").write(render_markdown())\''
    )


def test_every_feature_is_documented_and_laid_out() -> None:
    assert all(f.en and f.zh and f.group for f in FEATURES)
    assert FEATURE_SNAPSHOT.column_names[3:] == tuple(f.name for f in FEATURES)
