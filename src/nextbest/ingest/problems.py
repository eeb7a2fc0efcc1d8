"""Problems found in a chunk of rows, and the outcome each row gets from them.

Problems are kept column-wise (one entry per rule and field, holding the positions of the
failing rows and their raw values) so that a million clean rows cost nothing. Raw values
live only in memory; whatever is written out is masked first (:func:`masked_values`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.domain.enums import PiiClass
from nextbest.domain.schema import Table
from nextbest.ingest.mapping import Outcome

__all__ = ["RULE_MESSAGES", "ChunkProblems", "ProblemSet", "RowOutcomes", "masked_values"]

RULE_MESSAGES: dict[str, str] = {
    "required": "required value is missing",
    "type": "value cannot be read as the column's type or date format",
    "range": "value outside the column's allowed range",
    "enum": "value is not in the column's enumeration",
    "code": "source code is not in the mapping's code map",
    "resident_id": "not a valid resident ID number (length, region, birth date or checksum)",
    "passport": "not a valid passport number",
    "mobile": "not a valid mainland mobile number",
    "email": "not a valid e-mail address",
    "encoding": "text garbled by a wrong character encoding (乱码)",
    "reference": "refers to a record found neither in this batch nor in the warehouse",
    "duplicate_key": "a row with the same key occurs earlier in this batch",
    "near_duplicate": "mobile or ID number already belongs to another customer",
    "erased": "customer was erased; the vault's tombstone forbids loading it again",
}


@dataclass(frozen=True)
class ProblemSet:
    """Rows of one chunk failing one rule on one field."""

    rule: str
    field: str | None
    outcome: Outcome
    positions: np.ndarray  # int64 row positions within the chunk
    values: pa.Array  # raw values as text, aligned with positions (never written unmasked)


@dataclass
class ChunkProblems:
    """Every problem of one chunk of ``n`` rows."""

    n: int
    sets: list[ProblemSet] = field(default_factory=list)

    def add(
        self,
        rule: str,
        column: str | None,
        outcome: Outcome,
        mask: np.ndarray | pa.Array,
        values: pa.Array | None,
    ) -> None:
        """Record that rows where ``mask`` is true fail ``rule`` on ``column``."""
        if isinstance(mask, pa.Array | pa.ChunkedArray):
            mask = np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), bool)
        positions = np.flatnonzero(mask).astype(np.int64)
        if positions.size == 0:
            return
        if values is None:
            texts = pa.nulls(positions.size, pa.string())
        else:
            texts = pc.cast(pc.take(values, pa.array(positions)), pa.string())
        self.sets.append(ProblemSet(rule, column, outcome, positions, texts))

    def failing(self, column: str) -> np.ndarray:
        """Mask of rows that already have a problem on ``column`` (to avoid reporting twice)."""
        out = np.zeros(self.n, dtype=bool)
        for s in self.sets:
            if s.field == column:
                out[s.positions] = True
        return out

    def outcomes(self) -> RowOutcomes:
        """Per row: rejected, queued as match candidate, or flagged (reject > match > flag)."""
        rejected = np.zeros(self.n, dtype=bool)
        queued = np.zeros(self.n, dtype=bool)
        flagged = np.zeros(self.n, dtype=bool)
        for s in self.sets:
            {"reject": rejected, "match": queued, "flag": flagged}[s.outcome][s.positions] = True
        queued &= ~rejected
        flagged &= ~rejected & ~queued
        return RowOutcomes(rejected, queued, flagged)


@dataclass(frozen=True)
class RowOutcomes:
    rejected: np.ndarray
    queued: np.ndarray
    flagged: np.ndarray

    @property
    def stored(self) -> np.ndarray:
        return ~self.rejected


def masked_values(table: Table, column: str | None, values: pa.Array) -> pa.Array:
    """The form of offending ``values`` that may be written to quarantine and flag rows.

    Direct identifiers are masked with the privacy rules; pseudonymised source numbers
    (customer and account numbers) keep only their first two and last two characters;
    other values are kept as they are.
    """
    from nextbest.privacy.masking import mask_array

    if column is None or column not in table.column_index:
        return values
    col = table.column(column)
    if col.pii == PiiClass.DIRECT:
        kind = column if column in ("name", "mobile", "id_number", "email") else "name"
        return mask_array(kind, values)  # type: ignore[arg-type]
    if column.endswith("_key"):
        n = pc.utf8_length(values)
        head = pc.utf8_slice_codeunits(values, 0, 2)
        tail = pc.utf8_slice_codeunits(values, -2)
        stars = pc.binary_repeat("*", pc.max_element_wise(pc.subtract(n, 4), 1))
        short = pc.less_equal(n, 4)
        joined = pc.binary_join_element_wise(head, stars, tail, "")
        return pc.if_else(short, pc.binary_repeat("*", n), joined)
    return values
