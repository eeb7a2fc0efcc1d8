"""docs/data-model.md is generated from the canonical model and must not drift from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nextbest.domain.data_model_doc import CHURN_PLACEHOLDER, render
from nextbest.domain.schema import SYSTEM_COLUMNS, TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


def test_committed_doc_equals_the_generated_text() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/data-model.md is stale: run "
        "`python -m nextbest.domain.data_model_doc > docs/data-model.md`"
    )


def test_module_prints_the_doc_as_utf8() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nextbest.domain.data_model_doc"],
        capture_output=True,
        check=True,
    ).stdout
    assert out.decode("utf-8") == render()


def test_every_table_column_and_enum_member_is_documented() -> None:
    text = render()
    for table in TABLES:
        assert f"## `{table.name}` — {table.en}（{table.zh}）" in text
        section = text.split(f"## `{table.name}` — ", 1)[1].split("\n## ", 1)[0]
        assert f"- Key: {', '.join(f'`{k}`' for k in table.key)}" in section
        assert f"- System of record: {table.system_of_record}" in section
        for column in table.columns:
            row = next(
                line for line in section.splitlines() if line.startswith(f"| `{column.name}` |")
            )
            assert column.zh in row and column.dtype in row
            assert f"{column.pii.value} {column.pii.zh}" in row
            if column.unit:
                assert column.unit in row
            if column.references:
                assert f"`{column.references.table}.{column.references.column}`" in row
            if column.stored_in == "vault":
                assert f"`{column.masked_name}`" in row
            for member in column.enum or ():
                assert f"`{member.value}` {member.zh}" in row


def test_system_columns_and_churn_placeholder() -> None:
    text = render()
    for name in SYSTEM_COLUMNS:
        assert f"| `{name}` |" in text
    churn = text.split("## Churn definition\n", 1)[1]
    assert churn.strip() == CHURN_PLACEHOLDER
    assert CHURN_PLACEHOLDER == "Defined by the demo-bank issue (see docs/demo-bank.md)."
