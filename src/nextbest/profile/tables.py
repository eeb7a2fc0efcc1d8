"""Layouts of the warehouse tables derived by customer understanding.

Pure data (names, types, keys), so that :mod:`nextbest.warehouse.layout` can add these tables
to the warehouse without importing any understanding logic. Every table is keyed by
``as_of_date`` first: one logical partition per as-of date. Like the canonical tables they are
append-only and versioned by batch; re-running an as-of date appends a new version and the
warehouse's ``current()`` view returns the newest one per key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nextbest.profile.catalogue import FEATURES

__all__ = [
    "CUSTOMER_CLV",
    "CUSTOMER_LIFECYCLE",
    "CUSTOMER_RFM",
    "CUSTOMER_SEGMENT",
    "CUSTOMER_TAG",
    "DERIVED_TABLES",
    "FEATURE_SNAPSHOT",
    "SEGMENT_PROFILE",
    "UNDERSTANDING_RUN",
    "DerivedTable",
]

ColumnType = Literal["string", "int", "float", "date", "timestamp", "bool"]


@dataclass(frozen=True)
class DerivedTable:
    """Name, columns ``(name, type, required)`` and key of one derived table."""

    name: str
    columns: tuple[tuple[str, ColumnType, bool], ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c[0] for c in self.columns)


_AS_OF: tuple[str, ColumnType, bool] = ("as_of_date", "date", True)
_CUSTOMER: tuple[str, ColumnType, bool] = ("customer_key", "string", True)

FEATURE_SNAPSHOT = DerivedTable(
    "feature_snapshot",
    (
        _AS_OF,
        _CUSTOMER,
        ("load_cutoff", "timestamp", True),
        *((f.name, f.dtype, False) for f in FEATURES),
    ),
    key=("as_of_date", "customer_key"),
)

CUSTOMER_TAG = DerivedTable(
    "customer_tag",
    (_AS_OF, _CUSTOMER, ("tag", "string", True), ("tag_version", "int", True)),
    key=("as_of_date", "customer_key", "tag"),
)

CUSTOMER_RFM = DerivedTable(
    "customer_rfm",
    (
        _AS_OF,
        _CUSTOMER,
        ("recency_days", "int", True),
        ("frequency", "int", True),
        ("monetary", "float", True),
        ("r_score", "int", True),
        ("f_score", "int", True),
        ("m_score", "int", True),
        ("rfm_cell", "string", True),
        ("rfm_segment", "string", True),
        ("value_segment", "string", True),
    ),
    key=("as_of_date", "customer_key"),
)

CUSTOMER_SEGMENT = DerivedTable(
    "customer_segment",
    (_AS_OF, _CUSTOMER, ("scheme", "string", True), ("segment", "string", True)),
    key=("as_of_date", "customer_key", "scheme"),
)

SEGMENT_PROFILE = DerivedTable(
    "segment_profile",
    (
        _AS_OF,
        ("scheme", "string", True),
        ("segment", "string", True),
        ("label_zh", "string", False),
        ("label_en", "string", False),
        ("customers", "int", True),
        ("description", "string", False),
    ),
    key=("as_of_date", "scheme", "segment"),
)

CUSTOMER_LIFECYCLE = DerivedTable(
    "customer_lifecycle",
    (_AS_OF, _CUSTOMER, ("stage", "string", True), ("previous_stage", "string", False)),
    key=("as_of_date", "customer_key"),
)

CUSTOMER_CLV = DerivedTable(
    "customer_clv",
    (
        _AS_OF,
        _CUSTOMER,
        ("clv", "float", True),
        ("margin_clv", "float", True),
        ("expected_loss_clv", "float", True),
        ("monthly_survival", "float", True),
        ("probability_of_default", "float", True),
        ("value_tier", "string", True),
        ("budget_strategy", "string", True),
    ),
    key=("as_of_date", "customer_key"),
)

UNDERSTANDING_RUN = DerivedTable(
    "understanding_run",
    (
        _AS_OF,
        ("load_cutoff", "timestamp", True),
        ("customers", "int", True),
        ("detail_json", "string", True),
    ),
    key=("as_of_date",),
)

DERIVED_TABLES: tuple[DerivedTable, ...] = (
    FEATURE_SNAPSHOT,
    CUSTOMER_TAG,
    CUSTOMER_RFM,
    CUSTOMER_SEGMENT,
    SEGMENT_PROFILE,
    CUSTOMER_LIFECYCLE,
    CUSTOMER_CLV,
    UNDERSTANDING_RUN,
)
