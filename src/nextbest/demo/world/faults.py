"""Data-quality faults injected into the exports, each recorded in a manifest.

``--faults RATE`` touches about ``RATE`` × customers rows, split over the fault types by the
weights in the world file. Every fault names the rule ingestion should catch it with (the
rules of docs/mapping.md, plus ``encoding`` for text mis-encoded between GBK and UTF-8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.demo.world.calendar import Window, days_to_yyyymmdd
from nextbest.demo.world.params import WorldParams
from nextbest.demo.world.population import resident_id_numbers

__all__ = ["EXPECTED_RULE", "FaultRecord", "inject_faults", "mojibake"]

EXPECTED_RULE = {
    "exact_duplicate": "near_duplicate",
    "near_duplicate": "near_duplicate",
    "bad_id_checksum": "resident_id",
    "impossible_age": "resident_id",
    "unknown_code": "code",
    "malformed_date": "type",
    "encoding": "encoding",
    "orphan_transaction": "reference",
}
_CHECK_ORDER = np.array(list("0123456789X"))


@dataclass(frozen=True)
class FaultRecord:
    """Faults of one block: positions are rows of the block's (faulty) tables, 0-based."""

    table: list[str]
    local_row: list[int]
    key: list[str]
    column: list[str]
    fault_type: list[str]


def mojibake(text: str) -> str:
    """``text`` as UTF-8 bytes wrongly read as GBK (what a mis-declared encoding produces)."""
    return text.encode("utf-8").decode("gbk", errors="replace")


def _set(table: pa.Table, column: str, rows: np.ndarray, values: pa.Array | list[str]) -> pa.Table:
    """Replace ``column`` at ``rows`` (vectorised: a mask plus a scatter through take)."""
    if len(rows) == 0:
        return table
    col = table.column(column).combine_chunks()
    n = len(col)
    new_values = pa.array(values, type=pa.string()) if isinstance(values, list) else values
    position = np.full(n, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    mask = pa.array(position >= 0)
    scattered = new_values.take(pa.array(np.maximum(position, 0)))
    merged = pc.if_else(mask, scattered, col.cast(pa.string()))
    return table.set_column(table.schema.get_field_index(column), column, merged)


def _counts(params: WorldParams, n: int, rate: float, rng: np.random.Generator) -> dict[str, int]:
    weights = params.faults.weights
    names = sorted(weights)
    p = np.array([weights[k] for k in names], dtype=float)
    total = int(rng.binomial(n, min(rate, 1.0)))
    return dict(zip(names, rng.multinomial(total, p / p.sum()).tolist(), strict=True))


def inject_faults(
    params: WorldParams,
    window: Window,
    tables: dict[str, pa.Table],
    rate: float,
    rng: np.random.Generator,
    duplicate_base: int,
) -> tuple[dict[str, pa.Table], FaultRecord]:
    """Inject faults into the block's customer and transaction tables."""
    counts = _counts(params, tables["customer"].num_rows, rate, rng)
    cust = tables["customer"]
    txn = tables["transaction"]
    rec = FaultRecord([], [], [], [], [])

    def note(table: str, rows: np.ndarray, keys: pa.Array, column: str, fault: str) -> None:
        rec.table.extend([table] * len(rows))
        rec.local_row.extend(np.asarray(rows).tolist())
        rec.key.extend(keys.to_pylist())
        rec.column.extend([column] * len(rows))
        rec.fault_type.extend([fault] * len(rows))

    resident = np.flatnonzero(np.asarray(pc.equal(cust.column("ZJLX"), "01").combine_chunks()))
    order = rng.permutation(resident)
    taken = 0

    def victims(k: int) -> np.ndarray:
        nonlocal taken
        sel = np.sort(order[taken : taken + k])
        taken += k
        return sel

    khh = cust.column("KHH").combine_chunks()
    ids = cust.column("ZJHM").combine_chunks()

    rows = victims(counts["bad_id_checksum"])
    if len(rows):
        sub = ids.take(pa.array(rows))
        last = np.asarray(
            pc.utf8_slice_codeunits(sub, 17, 18).to_numpy(zero_copy_only=False)
        ).astype("U1")
        pos = np.searchsorted(_CHECK_ORDER, last)
        wrong = _CHECK_ORDER[(pos + rng.integers(1, 11, len(rows))) % 11]
        cust = _set(
            cust,
            "ZJHM",
            rows,
            pc.binary_join_element_wise(pc.utf8_slice_codeunits(sub, 0, 17), pa.array(wrong), ""),
        )
        note("customer", rows, khh.take(pa.array(rows)), "ZJHM", "bad_id_checksum")

    rows = victims(counts["impossible_age"])
    if len(rows):
        sub = ids.take(pa.array(rows))
        future = rng.random(len(rows)) < 0.5
        day = np.where(
            future,
            window.end_day + rng.integers(30, 4000, len(rows)),
            rng.integers(-29_000, -25_600, len(rows)),
        )  # 1890..1899
        ymd = days_to_yyyymmdd(day)
        region = np.asarray(pc.cast(pc.utf8_slice_codeunits(sub, 0, 6), pa.int64()))
        seq = np.asarray(pc.cast(pc.utf8_slice_codeunits(sub, 14, 17), pa.int64()))
        cust = _set(cust, "ZJHM", rows, resident_id_numbers(region, ymd, seq))
        cust = _set(cust, "CSRQ", rows, pc.cast(pa.array(ymd), pa.string()))
        note("customer", rows, khh.take(pa.array(rows)), "ZJHM", "impossible_age")

    k_unknown = counts["unknown_code"]
    rows = victims(k_unknown // 2 + k_unknown % 2)
    if len(rows):
        cust = _set(cust, "XB", rows, ["5"] * len(rows))
        note("customer", rows, khh.take(pa.array(rows)), "XB", "unknown_code")
    k_malformed = counts["malformed_date"]
    rows = victims(k_malformed // 2 + k_malformed % 2)
    if len(rows):
        birth = cust.column("CSRQ").combine_chunks().take(pa.array(rows))
        year = pc.utf8_slice_codeunits(birth, 0, 4)
        bad = pc.if_else(
            pa.array(rng.random(len(rows)) < 0.5),
            pc.binary_join_element_wise(year, "0230", ""),
            pc.binary_join_element_wise(year, "1345", ""),
        )
        cust = _set(cust, "CSRQ", rows, bad)
        note("customer", rows, khh.take(pa.array(rows)), "CSRQ", "malformed_date")

    rows = victims(counts["encoding"])
    if len(rows):
        names = cust.column("KHMC").combine_chunks().take(pa.array(rows)).to_pylist()
        cust = _set(cust, "KHMC", rows, [mojibake(s) for s in names])  # a handful per block
        note("customer", rows, khh.take(pa.array(rows)), "KHMC", "encoding")

    # duplicates: the same person under a new customer number, appended to the block
    n_rows = cust.num_rows
    dup_rows: list[pa.Table] = []
    serial = duplicate_base
    for fault in ("exact_duplicate", "near_duplicate"):
        rows = victims(counts[fault])
        if not len(rows):
            continue
        copy = cust.take(pa.array(rows))
        new_khh = pc.cast(pa.array(9_000_000_000 + serial + np.arange(len(rows))), pa.string())
        serial += len(rows)
        copy = copy.set_column(0, "KHH", new_khh)
        if fault == "near_duplicate":
            k = len(rows)
            local = np.arange(k)
            change_name = rng.random(k) < 0.5
            name = copy.column("KHMC").combine_chunks()
            varied = pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(name, 0, -1),
                pa.array(rng.choice(list("伟敏军华丽明"), k)),
                "",
            )
            copy = _set(copy, "KHMC", local[change_name], varied.take(pa.array(local[change_name])))
            mob = copy.column("SJHM").combine_chunks()
            digit = (
                np.asarray(pc.cast(pc.utf8_slice_codeunits(mob, 10, 11), pa.int64()))
                + rng.integers(1, 10, k)
            ) % 10
            new_mob = pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(mob, 0, 10), pc.cast(pa.array(digit), pa.string()), ""
            )
            copy = _set(
                copy, "SJHM", local[~change_name], new_mob.take(pa.array(local[~change_name]))
            )
        positions = n_rows + sum(t.num_rows for t in dup_rows) + np.arange(len(rows))
        note("customer", positions, new_khh, "KHH", fault)
        dup_rows.append(copy)
    if dup_rows:
        cust = pa.concat_tables([cust, *[t.cast(cust.schema) for t in dup_rows]])

    # transaction faults
    lsh = txn.column("LSH").combine_chunks()
    picks = rng.permutation(txn.num_rows)
    used = 0

    def txn_rows(k: int) -> np.ndarray:
        nonlocal used
        sel = np.sort(picks[used : used + k])
        used += k
        return sel

    rows = txn_rows(counts["orphan_transaction"])
    if len(rows):
        ghost = pc.cast(pa.array(6299 * 10**15 + rng.integers(0, 10**15, len(rows))), pa.string())
        txn = _set(txn, "ZH", rows, ghost)
        note("transaction", rows, lsh.take(pa.array(rows)), "ZH", "orphan_transaction")
    rows = txn_rows(k_unknown // 2)
    if len(rows):
        txn = _set(txn, "QDDM", rows, ["88"] * len(rows))
        note("transaction", rows, lsh.take(pa.array(rows)), "QDDM", "unknown_code")
    rows = txn_rows(k_malformed // 2)
    if len(rows):
        stamp = txn.column("JYSJ").combine_chunks().take(pa.array(rows))
        bad = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(stamp, 0, 6), "32", pc.utf8_slice_codeunits(stamp, 8, 14), ""
        )
        txn = _set(txn, "JYSJ", rows, bad)
        note("transaction", rows, lsh.take(pa.array(rows)), "JYSJ", "malformed_date")

    out = dict(tables)
    out["customer"] = cust
    out["transaction"] = txn
    return out, rec
