"""Acceptance on a generated bank: segments, lifecycle and churn against the world's truth.

The bank (3,000 customers x 24 months) is generated, ingested with the shipped mapping and
understood as of the world's last month end once for the module. The figures of
``docs/understanding.md`` come from :mod:`tests.services.understanding_truth`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nextbest.config import Settings
from nextbest.demo.world import generate
from nextbest.services.ingestion import ingest
from nextbest.services.stores import init_installation
from nextbest.services.understanding import run_understanding
from nextbest.warehouse import open_warehouse
from tests.services.understanding_truth import AS_OF, TruthFigures, measure


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TruthFigures]:
    root = tmp_path_factory.mktemp("truth_bank")
    bank: Path = generate(root / "bank", 3000, 24, seed=3).out
    settings = Settings(home=root / "home")
    init_installation(settings)
    assert ingest(settings, bank / "export", bank / "mapping.yaml").status == "committed"
    with open_warehouse(settings) as wh:
        run_understanding(wh, AS_OF)
        yield measure(wh, bank, settings)


def test_churned_stage_finds_the_worlds_churners(figures: TruthFigures) -> None:
    # the bar: precision and recall >= 0.9 against the world's churn events
    assert figures.churn_precision >= 0.9 and figures.churn_recall >= 0.9, figures
    # the latent churn date may precede the observable event by up to 90 silent days
    assert figures.churn_precision_latent >= 0.9 and figures.churn_recall_latent >= 0.9


def test_lifecycle_stages_against_latent_states(figures: TruthFigures) -> None:
    m = figures.lifecycle
    assert figures.customers == 3000
    new_row = m["new"]
    assert new_row.get("new", 0) / sum(new_row.values()) >= 0.9  # first product < 6 months
    churned_row = m["churned"]
    assert churned_row.get("churned", 0) / sum(churned_row.values()) >= 0.9
    assert figures.lifecycle_agreement >= 0.55, m


def test_data_driven_segments_against_true_segments(figures: TruthFigures) -> None:
    # The bar: ARI with the true segments >= 0.8 x the supervised ceiling (a
    # classifier trained on the true segments with the same model inputs, out of fold).
    # Measured on this bank: 0.555 vs 0.615 (docs/understanding.md).
    assert figures.ari_ratio >= 0.8, figures
    assert figures.supervised_ari >= 0.5, figures
    assert 3 <= figures.k <= 10
