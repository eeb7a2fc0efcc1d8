"""Render ``docs/data-model.md`` from the canonical data model, so the doc cannot drift.

Regenerate with ``python -m nextbest.domain.data_model_doc > docs/data-model.md``; a test
compares the committed file with :func:`render`.
"""

from __future__ import annotations

import sys

from nextbest.domain.enums import LabelledEnum, PiiClass
from nextbest.domain.schema import BATCH_ID, LOADED_AT, ROW_HASH, TABLES, Column, Table

__all__ = ["CHURN_PLACEHOLDER", "render"]

CHURN_PLACEHOLDER = "Defined by the demo-bank issue (see docs/demo-bank.md)."

_TYPES = (
    ("string", "text (UTF-8)"),
    ("int", "64-bit integer"),
    ("float", "double-precision floating point"),
    ("decimal", "exact decimal, 18 digits of which 2 after the point (DECIMAL(18,2))"),
    ("date", "calendar date"),
    (
        "timestamp",
        "an instant (TIMESTAMP WITH TIME ZONE); times without an offset are read in the "
        "bank's time zone, and days are cut at the bank's midnight",
    ),
    ("bool", "true / false"),
)


def _cell(text: str) -> str:
    """Make ``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _enum_text(enum: type[LabelledEnum]) -> str:
    members = ", ".join(f"`{m.value}` {m.zh}" for m in enum)
    return f"{enum.__name__}: {members}"


def _range_text(column: Column) -> str:
    low = "" if column.min_value is None else f"{column.min_value:g}"
    high = "" if column.max_value is None else f"{column.max_value:g}"
    if not low and not high:
        return ""
    if low and high:
        return f"{low} … {high}"
    return f"≥ {low}" if low else f"≤ {high}"


def _stored_text(column: Column) -> str:
    if column.stored_in == "vault":
        return f"PII vault only (warehouse: `{column.masked_name}`, masked)"
    return "warehouse"


def _pii_text(pii: PiiClass) -> str:
    return f"{pii.value} {pii.zh}"


def _table_section(table: Table) -> list[str]:
    lines = [
        f"## `{table.name}` — {table.en}（{table.zh}）",
        "",
        f"- Key: {', '.join(f'`{k}`' for k in table.key)}",
        f"- System of record: {table.system_of_record}",
        f"- Effective dated: {_yes(table.effective_dated)}",
    ]
    if table.notes:
        lines.append(f"- Notes: {table.notes}")
    lines += [
        "",
        "| column | 中文 | description | type | unit | required | PII class | stored in "
        "| range | references | enumeration |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in table.columns:
        ref = f"`{c.references.table}.{c.references.column}`" if c.references else ""
        cells = [
            f"`{c.name}`",
            c.zh,
            c.en,
            c.dtype,
            c.unit or "",
            _yes(c.required),
            _pii_text(c.pii),
            _stored_text(c),
            _range_text(c),
            ref,
            _enum_text(c.enum) if c.enum else "",
        ]
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    lines.append("")
    return lines


def render() -> str:
    """The complete Markdown text of ``docs/data-model.md``."""
    lines = [
        "# Data model",
        "",
        "<!-- Generated from src/nextbest/domain/schema.py by "
        "`python -m nextbest.domain.data_model_doc > docs/data-model.md`; do not edit. -->",
        "",
        "The canonical bank data model every source is mapped to. Each table lists its key, "
        "its system of record (`bank`: history exported by the bank and kept in the "
        "warehouse; `opstore`: the operational store owns it and the warehouse holds a read "
        "copy) and whether its rows are effective dated (each row applies from a date).",
        "",
        "## Tables",
        "",
        "| table | 中文 | key | system of record | effective dated |",
        "|---|---|---|---|---|",
    ]
    for t in TABLES:
        key = ", ".join(f"`{k}`" for k in t.key)
        lines.append(
            f"| `{t.name}` | {_cell(t.zh)} | {key} | {t.system_of_record} "
            f"| {_yes(t.effective_dated)} |"
        )
    lines += ["", "## Types", "", "| type | stored as |", "|---|---|"]
    lines += [f"| {name} | {_cell(text)} |" for name, text in _TYPES]
    lines += [
        "",
        "## PII classes",
        "",
        "| class | 中文 | handling |",
        "|---|---|---|",
        f"| {PiiClass.DIRECT.value} | {PiiClass.DIRECT.zh} | validated on ingestion, then kept "
        "only encrypted in the PII vault; the warehouse holds the masked form `<name>_masked` |",
        f"| {PiiClass.QUASI.value} | {PiiClass.QUASI.zh} | kept in the warehouse; identifies a "
        "person only in combination with other fields |",
        f"| {PiiClass.SENSITIVE.value} | {PiiClass.SENSITIVE.zh} | kept in the warehouse; "
        "financial or risk data |",
        f"| {PiiClass.NONE.value} | {PiiClass.NONE.zh} | kept in the warehouse |",
        "",
    ]
    for t in TABLES:
        lines += _table_section(t)
    lines += [
        "## System columns and versioning",
        "",
        "Every warehouse row also carries:",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        f"| `{BATCH_ID}` | string | the ingestion batch that loaded the row |",
        f"| `{LOADED_AT}` | timestamp | when that batch was loaded (one instant per batch) |",
        f"| `{ROW_HASH}` | string | hash of the business columns, used to skip rows already "
        "loaded and to detect duplicates; letters only |",
        "",
        "The warehouse is append-only. A correction arrives as a new version of the row in a "
        "later batch, never as an in-place edit. The *current* view of a table keeps, for each "
        f"key, the version with the latest `{LOADED_AT}`, ties broken by the greater "
        f"`{BATCH_ID}`. A batch becomes visible all at once or not at all.",
        "",
        "## Churn definition",
        "",
        CHURN_PLACEHOLDER,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    # Write bytes so the file is UTF-8 whatever the console's locale is.
    sys.stdout.buffer.write(render().encode("utf-8"))


if __name__ == "__main__":
    main()
