"""The allow-list of functions: arity, type rule, per-record and Ibis implementations.

Nothing outside this table can be called from an expression. Unless a function says
otherwise (``nulls="custom"``), a null argument makes the result null without calling
the implementation. Arguments listed in ``literal_args`` must be literals in the text;
both evaluators receive them as plain Python values.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from nextbest.expr.dtypes import NUMERIC, TEMPORAL, ExprType, TypeMismatch, common_type

__all__ = ["FUNCTIONS", "SPECIAL_FORMS", "Function", "date_format_regex", "parse_date_format"]

_ANY: frozenset[str] = frozenset({"string", "int", "float", "decimal", "date", "timestamp", "bool"})
_STR: frozenset[str] = frozenset({"string"})
_INT: frozenset[str] = frozenset({"int"})
_NUM: frozenset[str] = NUMERIC
_TIME: frozenset[str] = TEMPORAL

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
# Python's float() also takes '1_000', 'inf' and 'nan'; the language does not.
_FLOAT_TEXT = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
# The same patterns for DuckDB's regexp_matches (RE2 has no \s shorthand issues, but be explicit).
_INT_SQL = r"^[ \t\n\r]*[+-]?[0-9]+[ \t\n\r]*$"
_FLOAT_SQL = r"^[ \t\n\r]*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r]*$"


@dataclass(frozen=True)
class Function:
    """One allow-listed function.

    Attributes
    ----------
    name, signature, summary:
        Documentation (``docs/expressions.md`` lists the same).
    min_args, max_args:
        Arity; ``max_args=None`` means variadic.
    result:
        Type rule: argument types -> result type; raises ``TypeMismatch``.
    record:
        Per-record implementation on Python values.
    ibis:
        Implementation on Ibis values (literal arguments arrive as Python values).
    nulls:
        ``"propagate"``: any null argument gives null; ``"custom"``: the implementation
        handles nulls itself.
    literal_args:
        Positions that must be literals, with a check returning a problem or ``None``.
    """

    name: str
    signature: str
    summary: str
    min_args: int
    max_args: int | None
    result: Callable[[tuple[str, ...]], ExprType]
    record: Callable[..., Any]
    ibis: Callable[..., Any]
    nulls: Literal["propagate", "custom"] = "propagate"
    literal_args: tuple[tuple[int, Callable[[Any], str | None]], ...] = ()


def _sig(
    name: str, params: Sequence[frozenset[str]], result: ExprType | Callable[..., ExprType],
    variadic: bool = False,
) -> Callable[[tuple[str, ...]], ExprType]:  # fmt: skip
    def rule(types: tuple[str, ...]) -> ExprType:
        for i, t in enumerate(types):
            allowed = params[min(i, len(params) - 1)] if variadic else params[i]
            if t != "null" and t not in allowed:
                wanted = " or ".join(sorted(allowed)) if allowed != _ANY else "any type"
                raise TypeMismatch(f"argument {i + 1} of {name}() must be {wanted}, got {t}")
        return result(types) if callable(result) else result

    return rule


def _same_as_first(types: tuple[str, ...]) -> ExprType:
    return types[0]  # type: ignore[return-value]


def _common(name: str) -> Callable[[tuple[str, ...]], ExprType]:
    """Arguments of one family; numbers widen int -> decimal -> float."""

    def rule(types: tuple[str, ...]) -> ExprType:
        return common_type(types, f"arguments of {name}()")

    return rule


# ---- date formats -------------------------------------------------------------------

_FORMAT_TOKENS = {"yyyy": r"(\d{4})", "yy": r"(\d{2})", "MM": r"(\d{2})", "dd": r"(\d{2})"}
_FORMAT_SEPARATORS = set("-/. _:")


def parse_date_format(fmt: str) -> tuple[tuple[str, ...], str]:
    """``'yyyy-MM-dd'`` -> (('yyyy', 'MM', 'dd'), regex). Raises ValueError if unsupported."""
    parts: list[str] = []
    regex = ["^"]
    i = 0
    while i < len(fmt):
        for tok in ("yyyy", "yy", "MM", "dd"):
            if fmt.startswith(tok, i):
                parts.append(tok)
                regex.append(_FORMAT_TOKENS[tok])
                i += len(tok)
                break
        else:
            if fmt[i] not in _FORMAT_SEPARATORS:
                raise ValueError(
                    f"unsupported character {fmt[i]!r} in date format {fmt!r} "
                    "(use yyyy or yy, MM, dd and separators - / . space)"
                )
            regex.append(re.escape(fmt[i]))
            i += 1
    names = sorted(p if p != "yy" else "yyyy" for p in parts)
    if names != ["MM", "dd", "yyyy"]:
        raise ValueError(f"date format {fmt!r} needs exactly one year, one MM and one dd")
    regex.append("$")
    return tuple(parts), "".join(regex)


def date_format_regex(fmt: str) -> str:
    return parse_date_format(fmt)[1]


def _check_format(value: Any) -> str | None:
    if not isinstance(value, str):
        return "the date format must be a string literal such as 'yyyyMMdd'"
    try:
        parse_date_format(value)
    except ValueError as exc:
        return str(exc)
    return None


def _check_pivot(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        return "the century pivot must be an integer literal between 0 and 100"
    return None


def _check_digits(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 12:
        return "the number of decimal places must be an integer literal between 0 and 12"
    return None


def _full_year(yy: int, pivot: int) -> int:
    # Two-digit years below the pivot are 20yy, the others 19yy (default pivot 50).
    return 2000 + yy if yy < pivot else 1900 + yy


def _to_date_record(s: str, fmt: str, pivot: int = 50) -> dt.date | None:
    parts, regex = parse_date_format(fmt)
    m = re.match(regex, s)
    if m is None:
        return None
    values = dict(zip(parts, (int(g) for g in m.groups()), strict=True))
    year = values.get("yyyy")
    if year is None:
        year = _full_year(values["yy"], pivot)
    try:
        return dt.date(year, values["MM"], values["dd"])
    except ValueError:
        return None


def _to_date_ibis(s: Any, fmt: str, pivot: int = 50) -> Any:
    import ibis

    parts, regex = parse_date_format(fmt)
    groups = {p: s.re_extract(regex, i + 1).try_cast("int64") for i, p in enumerate(parts)}
    if "yyyy" in parts:
        year = groups["yyyy"]
    else:
        yy = groups["yy"]
        year = ibis.ifelse(yy < pivot, yy + 2000, yy + 1900)
    month, day = groups["MM"], groups["dd"]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = ibis.cases(
        (month == 2, ibis.ifelse(leap, 29, 28)),
        (month.isin([4, 6, 9, 11]), 30),
        else_=31,
    )
    valid = (
        s.re_search(regex) & (year >= 1) & month.between(1, 12) & (day >= 1) & (day <= month_days)
    )
    # make_date raises on impossible dates, so feed it a harmless date where invalid.
    made = ibis.date(
        ibis.ifelse(valid, year, 2000), ibis.ifelse(valid, month, 1), ibis.ifelse(valid, day, 1)
    )
    return ibis.ifelse(valid.fill_null(False), made, ibis.null("date"))


# ---- numbers --------------------------------------------------------------------------


def _half_away(x: float) -> float:
    """Round to an integer, halves away from zero (C's round(), as DuckDB does)."""
    a = abs(x)
    r = math.floor(a)
    if a - r >= 0.5:
        r += 1
    return math.copysign(r, x)


def _round_record(x: Any, digits: int = 0) -> Any:
    if isinstance(x, int):
        return x
    if isinstance(x, Decimal):
        return x.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    if not math.isfinite(x):
        return x
    scale = 10.0**digits
    rounded = _half_away(x * scale) / scale
    if not math.isfinite(rounded):
        return x
    return int(rounded) if digits == 0 else rounded


def _round_ibis(x: Any, digits: int = 0) -> Any:
    return x.round(digits)


def _to_int_record(x: Any) -> int | None:
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, str):
        if not _INT_TEXT.match(x):
            return None
        value = int(x.strip())
    elif isinstance(x, float | Decimal):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        value = int(x)  # truncates toward zero
    else:
        value = int(x)
    return value if INT64_MIN <= value <= INT64_MAX else None


def _to_int_ibis(x: Any) -> Any:
    import ibis

    t = x.type()
    if t.is_string():
        return ibis.ifelse(x.re_search(_INT_SQL), x.try_cast("int64"), ibis.null("int64"))
    if t.is_boolean():
        return x.cast("int64")
    if t.is_floating() or t.is_decimal():
        truncated = ibis.ifelse(x >= 0, x.floor(), x.ceil())
        return truncated.try_cast("int64")
    return x.cast("int64")


def _to_float_record(x: Any) -> float | None:
    if isinstance(x, str):
        return float(x) if _FLOAT_TEXT.match(x) else None
    return float(x)


def _to_float_ibis(x: Any) -> Any:
    import ibis

    if x.type().is_string():
        return ibis.ifelse(x.re_search(_FLOAT_SQL), x.try_cast("float64"), ibis.null("float64"))
    return x.cast("float64")


def _to_str_record(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return repr(x)
    if isinstance(x, dt.datetime):
        return str(x)
    if isinstance(x, dt.date):
        return x.isoformat()
    return str(x)


def _to_str_ibis(x: Any) -> Any:
    return x if x.type().is_string() else x.cast("string")


def _num_or_null(x: Any) -> bool:
    return x is None or (isinstance(x, int | float | Decimal) and not isinstance(x, bool))


# ---- strings --------------------------------------------------------------------------


def _substr_record(s: str, start: int, length: int | None = None) -> str | None:
    if start < 1 or (length is not None and length < 0):
        return None
    begin = start - 1
    return s[begin:] if length is None else s[begin : begin + length]


def _substr_ibis(s: Any, start: Any, length: Any = None) -> Any:
    import ibis

    if length is None:
        return ibis.ifelse(start < 1, ibis.null("string"), s.substr(start - 1))
    # Ibis refuses a negative literal length outright; the guard below gives null instead.
    safe_length = ibis.ifelse(length < 0, 0, length)
    bad = (start < 1) | (length < 0)
    taken = s.substr(start - 1, safe_length)
    return ibis.ifelse(bad, ibis.null("string"), taken)


def _replace_record(s: str, old: str, new: str) -> str:
    return s if old == "" else s.replace(old, new)


def _replace_ibis(s: Any, old: Any, new: Any) -> Any:
    import ibis

    return ibis.ifelse(old == "", s, s.replace(old, new))


def _concat_ibis(*args: Any) -> Any:
    parts = [_to_str_ibis(a) for a in args]
    return parts[0].concat(*parts[1:]) if len(parts) > 1 else parts[0]


# ---- variadic with nulls ignored -----------------------------------------------------


def _promote_all(values: list[Any]) -> list[Any]:
    if any(isinstance(v, float) for v in values) and all(_num_or_null(v) for v in values):
        return [float(v) for v in values]
    if any(isinstance(v, dt.datetime) for v in values):
        return [
            v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time()) for v in values
        ]
    return values


def _least_record(*args: Any) -> Any:
    present = _promote_all([a for a in args if a is not None])
    return min(present) if present else None


def _greatest_record(*args: Any) -> Any:
    present = _promote_all([a for a in args if a is not None])
    return max(present) if present else None


def _coalesce_record(*args: Any) -> Any:
    present = [a for a in args if a is not None]
    if not present:
        return None
    # Mixed int/float arguments give a float, as in SQL.
    promoted = _promote_all([*present])
    return promoted[0]


def _ibis_variadic(name: str) -> Callable[..., Any]:
    def impl(*args: Any) -> Any:
        import ibis

        if len(args) == 1:
            return args[0]
        return getattr(ibis, name)(*args)

    return impl


# ---- dates -----------------------------------------------------------------------------


def _as_date(d: dt.date) -> dt.date:
    return d.date() if isinstance(d, dt.datetime) else d


def _ibis_as_date(d: Any) -> Any:
    return d.date() if d.type().is_timestamp() else d


def _days_between_record(d1: dt.date, d2: dt.date) -> int:
    return (_as_date(d2) - _as_date(d1)).days


def _days_between_ibis(d1: Any, d2: Any) -> Any:
    return _ibis_as_date(d2).delta(_ibis_as_date(d1), unit="day")


def _add_days_record(d: dt.date, n: int) -> dt.date | None:
    try:
        return d + dt.timedelta(days=n)
    except OverflowError:
        return None


def _add_days_ibis(d: Any, n: Any) -> Any:
    if d.type().is_date():
        # DuckDB's date + interval is a TIMESTAMP although Ibis types it as a date (and
        # then drops a cast to date as a no-op), so go through a timestamp explicitly.
        return (d.cast("timestamp") + n.as_interval("D")).date()
    return d + n.as_interval("D")


def _f(
    name: str, signature: str, summary: str, arity: tuple[int, int | None],
    result: Callable[[tuple[str, ...]], ExprType], record: Callable[..., Any],
    ibis_impl: Callable[..., Any], nulls: Literal["propagate", "custom"] = "propagate",
    literal_args: tuple[tuple[int, Callable[[Any], str | None]], ...] = (),
) -> Function:  # fmt: skip
    return Function(
        name, signature, summary, arity[0], arity[1], result, record, ibis_impl, nulls,
        literal_args,
    )  # fmt: skip


_S, _N, _T = [_STR], [_NUM], [_TIME]

FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        _f("coalesce", "coalesce(x1, x2, ...)", "first argument that is not null; null if all are",
           (1, None), _common("coalesce"), _coalesce_record, _ibis_variadic("coalesce"), "custom"),
        _f("lower", "lower(s: string) -> string", "lower case", (1, 1),
           _sig("lower", _S, "string"), str.lower, lambda s: s.lower()),
        _f("upper", "upper(s: string) -> string", "upper case", (1, 1),
           _sig("upper", _S, "string"), str.upper, lambda s: s.upper()),
        _f("trim", "trim(s: string) -> string", "strip ASCII whitespace from both ends", (1, 1),
           _sig("trim", _S, "string"), lambda s: s.strip(string.whitespace), lambda s: s.strip()),
        _f("length", "length(s: string) -> int", "number of characters", (1, 1),
           _sig("length", _S, "int"), len, lambda s: s.length().cast("int64")),
        _f("substr", "substr(s: string, start: int[, length: int]) -> string",
           "characters from 1-based start; null if start < 1 or length < 0", (2, 3),
           _sig("substr", [_STR, _INT, _INT], "string"), _substr_record, _substr_ibis),
        _f("concat", "concat(x1, x2, ...) -> string",
           "join the texts (to_str of non-strings); null if any argument is null", (1, None),
           _sig("concat", [_ANY], "string", variadic=True), lambda *a: "".join(
               _to_str_record(x) for x in a), _concat_ibis),
        _f("starts_with", "starts_with(s: string, prefix: string) -> bool", "prefix test",
           (2, 2), _sig("starts_with", [_STR, _STR], "bool"), str.startswith,
           lambda s, p: s.startswith(p)),
        _f("ends_with", "ends_with(s: string, suffix: string) -> bool", "suffix test", (2, 2),
           _sig("ends_with", [_STR, _STR], "bool"), str.endswith, lambda s, p: s.endswith(p)),
        _f("contains", "contains(s: string, part: string) -> bool", "substring test", (2, 2),
           _sig("contains", [_STR, _STR], "bool"), lambda s, p: p in s,
           lambda s, p: s.contains(p)),
        _f("replace", "replace(s: string, old: string, new: string) -> string",
           "replace every occurrence; an empty old leaves s unchanged", (3, 3),
           _sig("replace", [_STR, _STR, _STR], "string"), _replace_record, _replace_ibis),
        _f("abs", "abs(x: number) -> number", "absolute value", (1, 1),
           _sig("abs", _N, _same_as_first), abs, lambda x: x.abs()),
        _f("round", "round(x: number[, digits: int literal 0..12]) -> number",
           "round halves away from zero; round(x) of a float gives an int", (1, 2),
           _sig("round", [_NUM, _INT], lambda t: "int" if len(t) == 1 and t[0] == "float"
                else t[0]),
           _round_record, _round_ibis, literal_args=((1, _check_digits),)),
        _f("floor", "floor(x: number) -> int", "largest integer <= x", (1, 1),
           _sig("floor", _N, "int"), math.floor, lambda x: x.floor().cast("int64")),
        _f("ceil", "ceil(x: number) -> int", "smallest integer >= x", (1, 1),
           _sig("ceil", _N, "int"), math.ceil, lambda x: x.ceil().cast("int64")),
        _f("least", "least(x1, x2, ...)", "smallest argument, ignoring nulls (as PostgreSQL)",
           (1, None), _common("least"), _least_record, _ibis_variadic("least"), "custom"),
        _f("greatest", "greatest(x1, x2, ...)", "largest argument, ignoring nulls",
           (1, None), _common("greatest"), _greatest_record, _ibis_variadic("greatest"),
           "custom"),
        _f("year", "year(d: date|timestamp) -> int", "calendar year", (1, 1),
           _sig("year", _T, "int"), lambda d: d.year, lambda d: d.year().cast("int64")),
        _f("month", "month(d: date|timestamp) -> int", "month 1..12", (1, 1),
           _sig("month", _T, "int"), lambda d: d.month, lambda d: d.month().cast("int64")),
        _f("day", "day(d: date|timestamp) -> int", "day of month 1..31", (1, 1),
           _sig("day", _T, "int"), lambda d: d.day, lambda d: d.day().cast("int64")),
        _f("days_between", "days_between(d1: date, d2: date) -> int",
           "d2 minus d1 in days (timestamps count by their dates)", (2, 2),
           _sig("days_between", [_TIME, _TIME], "int"), _days_between_record,
           _days_between_ibis),
        _f("add_days", "add_days(d: date|timestamp, n: int) -> date|timestamp",
           "d plus n days (n may be negative)", (2, 2),
           _sig("add_days", [_TIME, _INT], _same_as_first), _add_days_record, _add_days_ibis),
        _f("to_int", "to_int(x) -> int",
           "number truncated toward zero, text of an integer, bool as 0/1; null if invalid",
           (1, 1), _sig("to_int", [_STR | _NUM | {"bool"}], "int"), _to_int_record,
           _to_int_ibis),
        _f("to_float", "to_float(x) -> float", "number or numeric text; null if invalid",
           (1, 1), _sig("to_float", [_STR | _NUM], "float"), _to_float_record, _to_float_ibis),
        _f("to_str", "to_str(x) -> string",
           "text form: true/false, ISO dates, shortest float form", (1, 1),
           _sig("to_str", [_ANY], "string"), _to_str_record, _to_str_ibis),
        _f("to_date", "to_date(s: string, format: string literal[, pivot: int literal]) -> date",
           "parse with yyyy|yy, MM, dd; null if it does not match or is no real date; "
           "yy < pivot (default 50) is 20yy, else 19yy", (2, 3),
           _sig("to_date", [_STR, _STR, _INT], "date"), _to_date_record, _to_date_ibis,
           literal_args=((1, _check_format), (2, _check_pivot))),
    )
}  # fmt: skip

# Names the parser turns into dedicated nodes rather than calls.
SPECIAL_FORMS = {"if": 3, "between": 3, "is_null": 1, "not_null": 1, "date": 1, "decimal": 1}
