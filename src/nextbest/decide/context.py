"""The typed customer context decisions are made from, and a seeded synthetic generator.

The context is one row per customer: the attributes policies refer to (age, KYC, risk
assessment, AUM, region, holdings, PD, flags) plus a propensity and a value per offer. It
comes from feature snapshots and model scores in production and from
:func:`synthetic_context` in tests and benchmarks; the engine cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.decide.errors import DecisionError
from nextbest.domain.enums import KycStatus, ProductFamily

__all__ = [
    "ATTRIBUTE_TYPES",
    "HOLDING_COLUMNS",
    "CustomerContext",
    "RowReader",
    "synthetic_context",
]

HOLDING_COLUMNS: tuple[str, ...] = tuple(f"holds_{f.value}" for f in ProductFamily)

# Column -> expression-language type: what policy rules may reference about a customer.
ATTRIBUTE_TYPES: dict[str, str] = {
    "customer_key": "string",
    "age": "int",
    "kyc_status": "string",
    "risk_level": "string",
    "risk_tolerance": "int",
    "risk_assessed_until": "date",
    "aum": "float",
    "region": "string",
    "pd": "float",
    "vulnerable": "bool",
    "open_complaint": "bool",
    **dict.fromkeys(HOLDING_COLUMNS, "bool"),
}
_REQUIRED = [c for c in ATTRIBUTE_TYPES if c != "risk_tolerance"]
_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}


@dataclass(frozen=True, eq=False)
class CustomerContext:
    """Per-customer attributes plus propensity and value per offer.

    Attributes
    ----------
    attributes:
        Arrow table with the columns of :data:`ATTRIBUTE_TYPES` (``risk_tolerance`` is
        derived from ``risk_level``: ``C3`` -> 3).
    offer_ids:
        Column order of ``propensity`` and ``value``.
    propensity, value:
        ``float64`` arrays of shape (customers, offers): probability of acceptance and
        value to the bank if accepted (currency units).
    snapshot_version, model_version:
        Where the attributes and scores came from (recorded with every decision).
    """

    attributes: pa.Table
    offer_ids: tuple[str, ...]
    propensity: np.ndarray
    value: np.ndarray
    snapshot_version: str = "synthetic"
    model_version: str = "synthetic"

    def __post_init__(self) -> None:
        n, m = self.attributes.num_rows, len(self.offer_ids)
        for name, arr in (("propensity", self.propensity), ("value", self.value)):
            if arr.shape != (n, m):
                raise DecisionError(f"customer context: {name} has shape {arr.shape}, not {(n, m)}")
        if not np.isfinite(self.propensity).all() or (self.propensity < 0).any():
            raise DecisionError("customer context: propensity must be finite and >= 0")

    @classmethod
    def from_table(
        cls,
        table: pa.Table,
        offer_ids: Sequence[str],
        *,
        snapshot_version: str = "unknown",
        model_version: str = "unknown",
    ) -> CustomerContext:
        """Build a context from a wide table with ``propensity__<offer>``/``value__<offer>``.

        Raises
        ------
        DecisionError
            Naming the missing column, or the first duplicated ``customer_key``.
        """
        missing = [c for c in _REQUIRED if c not in table.column_names]
        score_cols = [f"{k}__{o}" for o in offer_ids for k in ("propensity", "value")]
        missing += [c for c in score_cols if c not in table.column_names]
        if missing:
            raise DecisionError(f"customer context: missing columns {', '.join(missing)}")
        columns = {}
        for name in _REQUIRED:
            target = _ARROW_TYPES[ATTRIBUTE_TYPES[name]]
            try:
                columns[name] = pc.cast(table[name], target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DecisionError(f"customer context: column {name}: {exc}") from None
        keys = columns["customer_key"]
        if pc.count_distinct(keys).as_py() != len(keys):
            counts = pc.value_counts(keys)
            dup = next(v["values"] for v in counts.to_pylist() if v["counts"] > 1)
            raise DecisionError(f"customer context: customer_key {dup!r} appears twice")
        level = pc.utf8_slice_codeunits(columns["risk_level"], 1, 2)
        columns["risk_tolerance"] = pc.cast(level, pa.int64(), safe=False)
        attributes = pa.table({c: columns[c] for c in ATTRIBUTE_TYPES})

        def matrix(kind: str) -> np.ndarray:
            if not offer_ids:
                return np.zeros((table.num_rows, 0))
            cols = [
                pc.fill_null(pc.cast(table[f"{kind}__{o}"], pa.float64()), 0.0).to_numpy()
                for o in offer_ids
            ]
            return np.ascontiguousarray(np.column_stack(cols))

        return cls(
            attributes,
            tuple(offer_ids),
            matrix("propensity"),
            matrix("value"),
            snapshot_version,
            model_version,
        )

    def __len__(self) -> int:
        return self.attributes.num_rows

    @property
    def customer_keys(self) -> list[str]:
        return self.attributes["customer_key"].to_pylist()

    def record(self, row: int) -> dict[str, Any]:
        """One customer's attributes as plain Python values."""
        return {name: self.attributes[name][row].as_py() for name in ATTRIBUTE_TYPES}

    def resample(self, n: int, seed: int = 0) -> CustomerContext:
        """``n`` customers drawn with replacement from this context, keyed ``s0000000``…
        (a bank of another size with the same distribution; the snapshot version says so)."""
        rows = np.random.default_rng(seed).integers(0, len(self), n)
        drawn = self.take(rows)
        keys = pa.array([f"s{i:07d}" for i in range(n)])
        attributes = drawn.attributes.set_column(0, "customer_key", keys)
        return CustomerContext(
            attributes,
            self.offer_ids,
            drawn.propensity,
            drawn.value,
            f"{self.snapshot_version}+resampled:{n}:{seed}",
            self.model_version,
        )

    def row_reader(self) -> RowReader:
        """Fast one-row access to the attributes (for real-time serving)."""
        return RowReader(self.attributes)

    def take(self, rows: np.ndarray) -> CustomerContext:
        """The sub-context of the given row positions (same offers and versions)."""
        return CustomerContext(
            self.attributes.take(pa.array(rows)),
            self.offer_ids,
            self.propensity[rows],
            self.value[rows],
            self.snapshot_version,
            self.model_version,
        )

    def to_table(self) -> pa.Table:
        """The wide table :meth:`from_table` reads (attributes plus score columns)."""
        table = self.attributes.drop_columns(["risk_tolerance"])
        for j, offer_id in enumerate(self.offer_ids):
            table = table.append_column(f"propensity__{offer_id}", pa.array(self.propensity[:, j]))
            table = table.append_column(f"value__{offer_id}", pa.array(self.value[:, j]))
        return table


_EPOCH = date(1970, 1, 1)


class RowReader:
    """One customer's attributes as plain Python values in microseconds.

    :meth:`CustomerContext.record` converts Arrow scalars (hundreds of microseconds per
    row); this holds the attributes as three row-major NumPy matrices (numbers, string
    codes, null flags) so that a row is three slices and a short loop.
    """

    def __init__(self, attributes: pa.Table) -> None:
        numbers: list[np.ndarray] = []
        codes: list[np.ndarray] = []
        nulls: list[np.ndarray] = []
        self._labels: list[list[Any]] = []
        self._plan: list[tuple[str, str, int]] = []
        for name, kind in ATTRIBUTE_TYPES.items():
            column = attributes[name].combine_chunks()
            nulls.append(column.is_null().to_numpy(zero_copy_only=False))
            if kind == "string":
                encoded = pc.dictionary_encode(column)
                self._plan.append((name, kind, len(codes)))
                codes.append(pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int32))
                self._labels.append([*encoded.dictionary.to_pylist(), None])
                continue
            if kind == "date":
                column = pc.cast(column, pa.int32())
            elif kind == "bool":
                column = pc.cast(column, pa.int8())
            self._plan.append((name, kind, len(numbers)))
            numbers.append(pc.fill_null(column, 0).to_numpy().astype(np.float64))
        n = attributes.num_rows
        self._numbers = np.column_stack(numbers) if numbers else np.zeros((n, 0))
        self._codes = np.column_stack(codes) if codes else np.zeros((n, 0), np.int32)
        self._nulls = np.column_stack(nulls)

    def __call__(self, row: int) -> dict[str, Any]:
        """Equal to :meth:`CustomerContext.record` of ``row``."""
        numbers = self._numbers[row].tolist()
        codes = self._codes[row].tolist()
        nulls = self._nulls[row].tolist()
        out: dict[str, Any] = {}
        for i, (name, kind, k) in enumerate(self._plan):
            if kind == "string":
                out[name] = self._labels[k][codes[k]]
            elif nulls[i]:
                out[name] = None
            elif kind == "float":
                out[name] = numbers[k]
            elif kind == "int":
                out[name] = int(numbers[k])
            elif kind == "bool":
                out[name] = bool(numbers[k])
            else:
                out[name] = _EPOCH + timedelta(days=int(numbers[k]))
        return out


def synthetic_context(
    n: int,
    offer_ids: Sequence[str],
    *,
    seed: int = 0,
    as_of: date = date(2026, 6, 1),
    key_prefix: str = "cust",
) -> CustomerContext:
    """A seeded random context with every edge the policies care about.

    Ages 16–90, all KYC states, missing and expired risk assessments, AUM from 0 to
    millions, PD up to 0.3, vulnerable and open-complaint flags, random holdings.
    """
    rng = np.random.default_rng(seed)
    m = len(offer_ids)
    age = rng.integers(16, 91, n)
    kyc = rng.choice([s.value for s in KycStatus], n, p=[0.85, 0.05, 0.05, 0.05])
    levels = np.array(["C1", "C2", "C3", "C4", "C5"])
    risk = levels[rng.integers(0, 5, n)].astype(object)
    risk[rng.random(n) < 0.08] = None
    expiry_days = rng.integers(-200, 800, n)
    expiry = pa.array(np.datetime64(as_of, "D") + expiry_days.astype("timedelta64[D]"))
    expiry = pc.if_else(pa.array(rng.random(n) < 0.05), pa.scalar(None, pa.date32()), expiry)
    aum = np.round(rng.lognormal(10.5, 1.6, n), 2)
    regions = np.array(["east", "north", "south", "west", "central"])
    pd_values = np.round(rng.beta(1.2, 30, n), 5).astype(object)
    pd_values[rng.random(n) < 0.03] = None
    columns: dict[str, Any] = {
        "customer_key": pa.array([f"{key_prefix}{i:07d}" for i in range(n)]),
        "age": pa.array(age, pa.int64()),
        "kyc_status": pa.array(kyc.astype(str)),
        "risk_level": pa.array(risk, pa.string()),
        "risk_assessed_until": pc.cast(expiry, pa.date32()),
        "aum": pa.array(aum),
        "region": pa.array(regions[rng.integers(0, 5, n)].astype(str)),
        "pd": pa.array(pd_values, pa.float64()),
        "vulnerable": pa.array(rng.random(n) < 0.04),
        "open_complaint": pa.array(rng.random(n) < 0.02),
    }
    for col in HOLDING_COLUMNS:
        columns[col] = pa.array(rng.random(n) < 0.25)
    table = pa.table(columns)
    propensity = rng.beta(1.0, 25.0, (n, m))
    value = np.round(rng.gamma(2.0, 150.0, (n, m)) * rng.uniform(0.5, 2.0, (1, m)), 2)
    for j in range(m):
        table = table.append_column(f"propensity__{offer_ids[j]}", pa.array(propensity[:, j]))
        table = table.append_column(f"value__{offer_ids[j]}", pa.array(value[:, j]))
    return CustomerContext.from_table(
        table, offer_ids, snapshot_version=f"synthetic-{seed}", model_version=f"synthetic-{seed}"
    )
