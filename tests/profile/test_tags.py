"""The tag engine: YAML validation, bulk evaluation in the warehouse, explanations."""

from __future__ import annotations

from pathlib import Path

import pytest

from nextbest.expr import evaluate
from nextbest.profile.features import SnapshotPoint, snapshot_features
from nextbest.profile.tags import TagError, evaluate_tags, explain_tags, load_tags, tag_flags
from nextbest.warehouse.duckdb import DuckDBWarehouse
from tests.profile.bank import AS_OF, T_LOAD


def test_default_set_is_valid_and_bilingual() -> None:
    tags = load_tags()
    codes = {t.code for t in tags.tags}
    assert {"high_net_worth", "payroll", "young", "mortgage_holder", "wealth_preference",
            "digital_first", "dormant_card"} <= codes  # fmt: skip
    assert all(t.zh and t.en and t.owner and t.version >= 1 for t in tags.tags)


def test_bulk_evaluation_matches_per_record_and_explains(bank: DuckDBWarehouse) -> None:
    tags = load_tags()
    snap = snapshot_features(bank, SnapshotPoint(AS_OF, T_LOAD))
    long = bank.to_arrow(evaluate_tags(snap, tags)).to_pylist()
    got = {(r["customer_key"], r["tag"]) for r in long}
    assert ("c_payroll", "payroll") in got and ("c_mature", "mortgage_holder") in got
    assert ("c_new", "young") in got and ("c_dormant", "silver") in got
    assert ("c_payroll", "risk_assessment_expired") in got
    records = bank.to_arrow(snap).to_pylist()
    expected = {
        (r["customer_key"], t.code) for r in records for t in tags.tags
        if evaluate(t.expr, r) is True
    }  # fmt: skip
    assert got == expected
    flags = bank.to_arrow(tag_flags(snap, tags)).to_pylist()
    assert {(r["customer_key"], t.code) for r in flags for t in tags.tags if r[t.code]} == got
    payroll = next(r for r in records if r["customer_key"] == "c_payroll")
    (why,) = explain_tags(payroll, tags, ["payroll"])
    assert why.tagged and dict(why.explanation.columns) == {"salary_months_6m": 6}
    (why_not,) = explain_tags(payroll, tags, ["high_net_worth"])
    assert not why_not.tagged and why_not.explanation.conditions[0].value is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "tags: [{code: x, expression: 'nope > 1', label: {zh: 甲, en: a}, category: c, "
            "owner: o, version: 1}]",
            "tag 'x': unknown column 'nope'",
        ),
        (
            "tags: [{code: x, expression: 'aum + 1', label: {zh: 甲, en: a}, category: c, "
            "owner: o, version: 1}]",
            "must be true/false",
        ),
        (
            "tags: [{code: x, expression: 'aum > 1', label: {zh: 甲}, category: c, owner: o, "
            "version: 1}]",
            "tags.0.label.en",
        ),
        (
            "tags: [{code: x, expression: 'aum > 1', label: {zh: 甲, en: a}, category: c, "
            "owner: o, version: 1}, {code: x, expression: 'aum > 2', label: {zh: 甲, en: a}, "
            "category: c, owner: o, version: 1}]",
            "defined twice",
        ),
        ("tags: [", "not valid YAML"),
    ],
)
def test_invalid_tag_files_name_file_tag_and_problem(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(TagError, match=message) as info:
        load_tags(path)
    assert str(path) in str(info.value)
