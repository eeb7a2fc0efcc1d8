"""Golden statistics and difficulty of the shipped world (see tests/demo/golden.py)."""

from datetime import date
from pathlib import Path

from nextbest.demo.world import GenerationSummary, generate
from nextbest.demo.world.params import DEFAULT_WORLD_FILE
from tests.demo.conftest import GOLDEN_CUSTOMERS, GOLDEN_MONTHS, GOLDEN_SEED
from tests.demo.golden import EXPECTED, measure, violations

END = date(2026, 10, 31)


def test_golden_statistics_and_difficulty(golden_bank: GenerationSummary) -> None:
    stats = measure(golden_bank.out, END, GOLDEN_MONTHS)
    assert violations(stats) == []
    # the difficulty contract of the issue, spelled out
    assert 0.75 <= stats.oracle_auc <= 0.88
    assert stats.recency_auc <= stats.oracle_auc - 0.05
    assert stats.rfm_auc <= stats.oracle_auc - 0.05
    assert 0.70 <= stats.segment_accuracy <= 0.95


def test_careless_world_edit_is_caught(tmp_path: Path) -> None:
    text = DEFAULT_WORLD_FILE.read_text(encoding="utf-8")
    assert "reactivate: 0.10" in text
    edited = tmp_path / "world.yaml"
    # "dormant customers rarely come back": fewer reactivations make churn more predictable
    # and more frequent than the frozen world allows
    edited.write_text(text.replace("reactivate: 0.10", "reactivate: 0.02"), "utf-8")
    summary = generate(
        tmp_path / "bank", GOLDEN_CUSTOMERS, GOLDEN_MONTHS, GOLDEN_SEED, world_file=edited
    )
    problems = violations(measure(summary.out, END, GOLDEN_MONTHS))
    assert any(p.startswith(("oracle_auc", "yearly_churn_rate")) for p in problems), problems


def test_expected_ranges_cover_the_issue_contract() -> None:
    assert EXPECTED["oracle_auc"] == (0.75, 0.88)
    assert EXPECTED["segment_accuracy"] == (0.70, 0.95)
    assert EXPECTED["recency_gap"][0] >= 0.05 and EXPECTED["rfm_gap"][0] >= 0.05
