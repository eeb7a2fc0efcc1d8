"""Turn a chunk of source rows into canonical columns, recording what could not be converted.

Per column (docs/mapping.md, "Order of operations"): link -> null handling/trim -> code map
-> cast (date formats, time zone) -> scale -> absolute -> pseudonymise; derived columns
(``expr``) last. Everything is vectorised with pyarrow compute; derived columns go through
the expression language's Ibis compiler on an in-memory DuckDB.
"""

from __future__ import annotations

import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.domain.schema import Column, DType
from nextbest.ingest.mapping import ColumnSpec, FileSpec, Mapping
from nextbest.ingest.problems import ChunkProblems
from nextbest.ingest.readers import ROW_NUMBER
from nextbest.privacy.keys import KeyRing

__all__ = ["ARROW_TYPES", "LinkTable", "TransformContext", "parse_datetimes", "transform_chunk"]

ARROW_TYPES: dict[DType, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "decimal": pa.decimal128(18, 2),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "bool": pa.bool_(),
}
_INT = r"^[+-]?[0-9]+$"
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_TRUE = ("true", "t", "yes", "y", "1", "是")
_FALSE = ("false", "f", "no", "n", "0", "否")
_TOKEN = re.compile(r"yyyy|yy|MM|dd|HH|mm|ss")
_GROUPS = {
    "yyyy": "(?P<Y>[0-9]{4})",
    "yy": "(?P<y>[0-9]{2})",
    "MM": "(?P<M>[0-9]{1,2})",
    "dd": "(?P<d>[0-9]{1,2})",
    "HH": "(?P<H>[0-9]{1,2})",
    "mm": "(?P<m>[0-9]{1,2})",
    "ss": "(?P<s>[0-9]{1,2})",
}
_ISO_DATE = ("yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-ddTHH:mm:ss", "yyyy/MM/dd")
_ISO_TIMESTAMP = ("yyyy-MM-dd HH:mm:ss", "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-dd", "yyyy/MM/dd")


@dataclass(frozen=True)
class LinkTable:
    """A link lookup as two aligned arrays (vectorised lookups via ``index_in``)."""

    keys: pa.Array
    values: pa.Array

    @classmethod
    def from_dict(cls, lookup: MappingABC[str, str]) -> LinkTable:
        return cls(
            pa.array(list(lookup), pa.string()), pa.array(list(lookup.values()), pa.string())
        )


@dataclass
class TransformContext:
    """What a transform needs besides the chunk: keys, time zone, defaults, link tables."""

    mapping: Mapping
    keyring: KeyRing
    timezone: str
    currency: str
    links: dict[str, LinkTable] = field(default_factory=dict)
    _expr_backend: Any = None

    def expr_backend(self) -> Any:
        if self._expr_backend is None:
            import ibis

            self._expr_backend = ibis.duckdb.connect()
        return self._expr_backend


@cache
def _format_regex(fmt: str) -> tuple[str, frozenset[str]]:
    parts: list[str] = []
    groups: set[str] = set()
    pos = 0
    for m in _TOKEN.finditer(fmt):
        parts.append(re.escape(fmt[pos : m.start()]))
        parts.append(_GROUPS[m.group()])
        groups.add(m.group())
        pos = m.end()
    parts.append(re.escape(fmt[pos:]))
    return "^" + "".join(parts) + "$", frozenset(groups)


def _pad(values: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(values, width, "0")


def parse_datetimes(values: pa.Array, fmt: str, pivot: int) -> pa.Array:
    """Parse text with a ``yyyy``/``yy``/``MM``/``dd``/``HH``/``mm``/``ss`` format.

    Returns naive ``timestamp[s]`` values; null where the text does not match the format or
    names an impossible date or time. ``yy`` below ``pivot`` is 20yy, otherwise 19yy.
    """
    pattern, groups = _format_regex(fmt)
    text = pc.cast(values, pa.string())
    parts = pc.extract_regex(text, pattern)
    n = len(text)

    def part(token: str, default: str, width: int) -> pa.Array:
        if token not in groups:
            return pa.array([default] * n, pa.string())
        return _pad(pc.struct_field(parts, _GROUPS[token][4]), width)

    if "yyyy" in groups:
        year = pc.struct_field(parts, "Y")
    elif "yy" in groups:
        yy = pc.cast(pc.struct_field(parts, "y"), pa.int64())
        full = pc.add(yy, pc.if_else(pc.less(yy, pivot), 2000, 1900))
        year = pc.cast(full, pa.string())
    else:
        year = pa.array(["1970"] * n, pa.string())
    month, day, hour, minute, second = (part(token, d, 2) for token, d in _FIELDS)
    iso = pc.binary_join_element_wise(
        year, "-", month, "-", day, " ", hour, ":", minute, ":", second, ""
    )
    parsed = pc.strptime(iso, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    # strptime rolls impossible days over (Feb 30 -> Mar 2): insist on a round trip.
    exact = _round_trips(parsed, iso, year, [month, day, hour, minute, second])
    return pc.if_else(exact, parsed, pa.scalar(None, pa.timestamp("s")))


_FIELDS = (("MM", "01"), ("dd", "01"), ("HH", "00"), ("mm", "00"), ("ss", "00"))
_EXTRACT = (pc.month, pc.day, pc.hour, pc.minute, pc.second)


def _round_trips(parsed: pa.Array, iso: pa.Array, year: pa.Array, parts: list[pa.Array]) -> Any:
    """True where ``parsed`` printed back as ``%Y-%m-%d %H:%M:%S`` gives ``iso`` again.

    Rendering millions of timestamps (``strftime``) costs more than all the parsing; with
    four-digit years the text is equal exactly when every field is, which compares numbers.
    """
    years = pc.year(parsed)
    if pc.any(pc.less(years, 1000)).as_py():  # strftime's padding of such years decides
        return pc.equal(pc.strftime(parsed, format="%Y-%m-%d %H:%M:%S"), iso)
    exact = pc.equal(years, pc.cast(year, pa.int64()))
    for text, field_of in zip(parts, _EXTRACT, strict=True):
        exact = pc.and_(exact, pc.equal(field_of(parsed), pc.cast(text, pa.int64())))
    return exact


def _parse_any(values: pa.Array, formats: tuple[str, ...], pivot: int) -> pa.Array:
    out = parse_datetimes(values, formats[0], pivot)
    for fmt in formats[1:]:
        out = pc.coalesce(out, parse_datetimes(values, fmt, pivot))
    return out


def _nullify(values: pa.Array, spec: ColumnSpec) -> pa.Array:
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        return values
    if spec.trim:
        values = pc.utf8_trim_whitespace(values)
    if spec.null_values:
        empty = pc.is_in(values, value_set=pa.array(list(spec.null_values), values.type))
        values = pc.if_else(empty, pa.scalar(None, values.type), values)
    return values


def _cast(
    values: pa.Array,
    column: Column,
    spec: ColumnSpec,
    ctx: TransformContext,
) -> tuple[pa.Array, pa.Array]:
    """Cast to the canonical type; returns (cast values, mask of values that failed)."""
    target = ARROW_TYPES[column.dtype]
    n = len(values)
    is_text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    if column.dtype == "string":
        if pa.types.is_floating(values.type):
            # 1.0 from Parquet float columns holding codes: keep the integer text.
            whole = pc.equal(pc.floor(values), values)
            values = pc.if_else(
                whole, pc.cast(pc.cast(values, pa.int64(), safe=False), pa.string()), values
            )
        out = pc.cast(values, pa.string())
        return out, pa.array(np.zeros(n, bool))
    if column.dtype in ("date", "timestamp"):
        if is_text:
            formats = (
                (spec.format,)
                if spec.format
                else (_ISO_DATE if column.dtype == "date" else _ISO_TIMESTAMP)
            )
            parsed = _parse_any(values, formats, ctx.mapping.century_pivot)
        elif pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
            parsed = values
        elif pa.types.is_integer(values.type) and spec.format:
            parsed = _parse_any(
                pc.cast(values, pa.string()), (spec.format,), ctx.mapping.century_pivot
            )
        else:
            raise TypeError(f"cannot read {values.type} as {column.dtype}")
        bad = pc.and_(pc.is_valid(values), pc.is_null(parsed))
        if column.dtype == "date":
            if pa.types.is_timestamp(parsed.type) and parsed.type.tz is not None:
                parsed = pc.local_timestamp(parsed)
            return pc.cast(parsed, pa.date32()), bad
        if pa.types.is_date(parsed.type):
            parsed = pc.cast(parsed, pa.timestamp("s"))
        if parsed.type.tz is None:
            parsed = pc.assume_timezone(
                parsed, timezone=ctx.timezone, ambiguous="earliest", nonexistent="earliest"
            )
        return pc.cast(parsed, target), bad
    if column.dtype == "bool":
        if is_text:
            low = pc.utf8_lower(values)
            t = pc.is_in(low, value_set=pa.array(_TRUE))
            f = pc.is_in(low, value_set=pa.array(_FALSE))
            out = pc.if_else(t, True, pc.if_else(f, False, pa.scalar(None, pa.bool_())))
            return out, pc.and_(pc.is_valid(values), pc.is_null(out))
        return pc.cast(values, pa.bool_()), pa.array(np.zeros(n, bool))
    # numbers
    if is_text:
        cleaned = pc.replace_substring(values, ",", "")  # 1,234.50 as some exports write it
        ok = pc.match_substring_regex(cleaned, _INT if column.dtype == "int" else _NUMBER)
        bad = pc.and_(pc.is_valid(values), pc.invert(pc.fill_null(ok, False)))
        usable = pc.if_else(bad, pa.scalar(None, pa.string()), cleaned)
        number = pc.cast(usable, pa.int64() if column.dtype == "int" else pa.float64())
    else:
        number = values
        bad = pa.array(np.zeros(n, bool))
    if spec.scale is not None:
        number = pc.multiply(pc.cast(number, pa.float64()), spec.scale)
    if spec.absolute:
        number = pc.abs(number)
    if column.dtype == "int":
        if pa.types.is_floating(number.type):
            whole = pc.equal(pc.floor(number), number)
            bad = pc.or_(bad, pc.and_(pc.is_valid(number), pc.invert(pc.fill_null(whole, True))))
            number = pc.if_else(whole, number, pa.scalar(None, number.type))
        return pc.cast(number, pa.int64(), safe=False), bad
    if column.dtype == "decimal":
        as_float = pc.cast(number, pa.float64())
        too_big = pc.greater_equal(pc.abs(as_float), 1e16)
        bad = pc.or_(bad, pc.fill_null(too_big, False))
        as_float = pc.if_else(too_big, pa.scalar(None, pa.float64()), as_float)
        return pc.cast(pc.round(as_float, 2), target, safe=False), bad
    return pc.cast(number, pa.float64()), bad


def _pseudonymise(
    values: pa.Array, spec: ColumnSpec, system: str, ctx: TransformContext
) -> pa.Array:
    from nextbest.privacy.pseudonym import account_keys, customer_keys

    text = pc.cast(values, pa.string())
    if spec.pseudonymise == "customer":
        return customer_keys(ctx.keyring, system, text)
    return account_keys(ctx.keyring, system, text)


def transform_chunk(
    data: pa.Table, spec: FileSpec, ctx: TransformContext
) -> tuple[pa.Table, ChunkProblems]:
    """Compute the canonical columns of ``spec.target`` for one chunk.

    Returns
    -------
    (canonical, problems)
        ``canonical`` holds every column of the canonical table (unmapped ones null, direct
        identifiers still raw — they go to the vault, never to the warehouse) plus
        ``_row_number``; ``problems`` lists conversion failures (rules ``type``, ``code``,
        ``reference`` for link misses).
    """
    table = spec.table
    n = data.num_rows
    problems = ChunkProblems(n)
    system = ctx.mapping.file_system(spec)
    out: dict[str, pa.Array] = {}
    source = {name: data.column(name).combine_chunks() for name in data.column_names}

    for name, cspec in spec.columns.items():
        if cspec.expr is not None:
            continue
        column = table.column(name)
        outcome = lambda rule, c=cspec: ctx.mapping.outcome(rule, c)  # noqa: E731
        if cspec.constant is not None:
            raw = pa.array([str(cspec.constant)] * n, pa.string())
        elif cspec.sign_of is not None:
            raw_num = _nullify(source[cspec.sign_of], cspec)
            number, bad = _cast(raw_num, Column(name, "float", "", ""), ColumnSpec(source="x"), ctx)
            problems.add("type", name, outcome("type"), bad, raw_num)
            signed = pc.if_else(
                pc.less(number, 0), pa.scalar(cspec.negative), pa.scalar(cspec.positive)
            )
            out[name] = pc.cast(signed, ARROW_TYPES[column.dtype])
            continue
        else:
            assert cspec.source is not None
            raw = source[cspec.source]
        if cspec.link is not None:
            raw = _nullify(pc.cast(raw, pa.string()), cspec)
            link = ctx.links[cspec.link]
            idx = pc.index_in(raw, value_set=link.keys)
            linked = pc.take(link.values, idx)
            miss = pc.and_(pc.is_valid(raw), pc.is_null(idx))
            problems.add("reference", name, outcome("reference"), miss, raw)
            raw = linked
        raw = _nullify(raw, cspec)
        if cspec.codes is not None:
            text = pc.cast(raw, pa.string())
            if pa.types.is_floating(raw.type):
                text, _ = _cast(raw, Column(name, "string", "", ""), cspec, ctx)
            keys = pa.array(list(cspec.codes), pa.string())
            mapped = pc.take(
                pa.array(list(cspec.codes.values()), pa.string()), pc.index_in(text, value_set=keys)
            )
            unknown = pc.and_(pc.is_valid(text), pc.is_null(mapped))
            if cspec.default is not None:
                mapped = pc.if_else(unknown, pa.scalar(cspec.default), mapped)
            else:
                problems.add("code", name, outcome("code"), unknown, text)
            raw = mapped
        values, bad = _cast(raw, column, cspec, ctx)
        problems.add("type", name, outcome("type"), bad, raw)
        if cspec.pseudonymise is not None:
            values = _pseudonymise(values, cspec, system, ctx)
        out[name] = values

    derived = {k: v for k, v in spec.columns.items() if v.expr is not None}
    if derived:
        out.update(_derive(derived, out, source, spec, ctx, problems))

    if "source_system" in table.column_index and "source_system" not in out:
        out["source_system"] = pa.array([system] * n, pa.string())
    if "currency" in table.column_index and "currency" not in out:
        out["currency"] = pa.array([ctx.mapping.currency or ctx.currency] * n, pa.string())

    arrays = []
    for col in table.columns:
        arrays.append(out.get(col.name, pa.nulls(n, ARROW_TYPES[col.dtype])))
    names = [c.name for c in table.columns]
    arrays.append(data.column(ROW_NUMBER).combine_chunks())
    names.append(ROW_NUMBER)
    return pa.Table.from_arrays(arrays, names=names), problems


def _derive(
    derived: dict[str, ColumnSpec],
    computed: dict[str, pa.Array],
    source: dict[str, pa.Array],
    spec: FileSpec,
    ctx: TransformContext,
    problems: ChunkProblems,
) -> dict[str, pa.Array]:
    import ibis

    from nextbest.expr import parse, to_ibis

    frame = {**{k: v for k, v in source.items() if k != ROW_NUMBER}, **computed}
    memtable = ibis.memtable(pa.table(frame))
    exprs = {name: to_ibis(parse(c.expr or ""), memtable) for name, c in derived.items()}
    result = ctx.expr_backend().to_pyarrow(memtable.select(**exprs))
    out: dict[str, pa.Array] = {}
    for name, cspec in derived.items():
        column = spec.table.column(name)
        values = result.column(name).combine_chunks()
        if pa.types.is_null(values.type):
            values = pa.nulls(len(values), ARROW_TYPES[column.dtype])
        if column.dtype == "string" and not pa.types.is_string(values.type):
            values = pc.cast(values, pa.string())
        cast, bad = _cast(values, column, cspec, ctx)
        problems.add("type", name, ctx.mapping.outcome("type", cspec), bad, values)
        out[name] = cast
    return out
