"""The mapping model: how one bank's export files become canonical tables (docs/mapping.md).

A mapping is YAML validated strictly by pydantic; every error names the YAML path at fault
(``files[2].columns.gender.codes: ...``) so that the person who wrote it can find it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping as MappingABC
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nextbest.domain.schema import Table, table
from nextbest.errors import NextbestError

__all__ = [
    "CONFIGURABLE_RULES",
    "DEFAULT_OUTCOMES",
    "RULES",
    "ColumnSpec",
    "FileSpec",
    "LinkSpec",
    "Mapping",
    "MappingError",
    "Outcome",
    "Rule",
    "load_mapping",
    "parse_mapping",
]

Outcome = Literal["reject", "flag", "match"]
Rule = Literal[
    "required",
    "type",
    "range",
    "enum",
    "code",
    "resident_id",
    "passport",
    "mobile",
    "email",
    "encoding",
    "reference",
    "duplicate_key",
    "near_duplicate",
    "erased",
]
RULES: tuple[str, ...] = Rule.__args__  # type: ignore[attr-defined]

DEFAULT_OUTCOMES: dict[str, Outcome] = {
    "required": "reject",
    "type": "reject",
    "range": "flag",
    "enum": "reject",
    "code": "reject",
    "resident_id": "reject",
    "passport": "flag",
    "mobile": "flag",
    "email": "flag",
    "encoding": "flag",
    "reference": "reject",
    "duplicate_key": "reject",
    "near_duplicate": "match",
    "erased": "reject",
}
_ALLOWED: dict[str, frozenset[str]] = {
    **{r: frozenset({"reject", "flag"}) for r in DEFAULT_OUTCOMES},
    "near_duplicate": frozenset({"match", "flag"}),
    "duplicate_key": frozenset({"reject"}),  # two versions of a key in one batch: ambiguous
    "erased": frozenset({"reject"}),
}
CONFIGURABLE_RULES = frozenset(r for r in RULES if r != "erased")

DEFAULT_NULLS = ("", "NULL", "null", "NA", "N/A", "\\N")
_FORMAT_TOKENS = re.compile(r"yyyy|yy|MM|dd|HH|mm|ss")
_ENCODINGS = {"utf-8", "utf8", "gbk", "gb18030", "gb2312", "latin-1", "cp1250"}


class MappingError(NextbestError):
    """The mapping file is invalid; the message names the YAML path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_outcomes(value: dict[str, str]) -> dict[str, str]:
    for rule, outcome in value.items():
        if rule not in CONFIGURABLE_RULES:
            raise ValueError(f"unknown or fixed rule {rule!r}; rules: {sorted(CONFIGURABLE_RULES)}")
        if outcome not in _ALLOWED[rule]:
            raise ValueError(
                f"rule {rule!r} cannot have outcome {outcome!r}; allowed: {sorted(_ALLOWED[rule])}"
            )
    return value


class ColumnSpec(_Strict):
    """How one canonical column is computed (docs/mapping.md, "Column specifications")."""

    source: str | None = None
    constant: Any = None
    expr: str | None = None
    sign_of: str | None = None
    negative: str | None = None
    positive: str | None = None
    format: str | None = None
    codes: dict[str, str] | None = None
    default: str | None = None
    scale: float | None = None
    absolute: bool = False
    link: str | None = None
    pseudonymise: Literal["customer", "account"] | None = None
    trim: bool = True
    null_values: tuple[str, ...] = DEFAULT_NULLS
    outcomes: dict[str, str] = Field(default_factory=dict)

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:
        # YAML reads `1: active` with an int key; source codes are compared as text.
        if isinstance(value, MappingABC):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        if value is not None and not _FORMAT_TOKENS.search(value):
            raise ValueError(f"date format {value!r} has none of yyyy, yy, MM, dd, HH, mm, ss")
        return value

    @field_validator("outcomes")
    @classmethod
    def _valid_outcomes(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_outcomes(value)

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnSpec:
        origins = [
            name
            for name, v in (
                ("source", self.source),
                ("constant", self.constant),
                ("expr", self.expr),
                ("sign_of", self.sign_of),
            )
            if v is not None
        ]
        if len(origins) != 1:
            raise ValueError(
                "give exactly one of source, constant, expr, sign_of"
                + (f" (got {', '.join(origins)})" if origins else "")
            )
        if self.sign_of is not None and (self.negative is None or self.positive is None):
            raise ValueError("sign_of needs both negative: and positive: values")
        if self.expr is not None:
            from nextbest.expr import parse

            try:
                parse(self.expr)
            except NextbestError as exc:
                raise ValueError(f"expression {self.expr!r}: {exc}") from None
        if self.link is not None and self.source is None:
            raise ValueError("link: needs source:")
        return self

    @property
    def source_columns(self) -> frozenset[str]:
        """Source columns this specification reads directly (expressions excluded)."""
        if self.source is not None:
            return frozenset({self.source})
        if self.sign_of is not None:
            return frozenset({self.sign_of})
        return frozenset()


def _column_shorthand(value: Any) -> Any:
    return {"source": value} if isinstance(value, str) else value


class _SourceFile(_Strict):
    name: str = Field(min_length=1)
    path: str = Field(min_length=1)
    format: Literal["csv", "parquet", "excel"]
    encoding: str = "utf-8"
    delimiter: str = ","
    header_row: int = Field(default=1, ge=1)
    sheet: str | None = None
    required: bool = True

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value.lower() not in _ENCODINGS:
            raise ValueError(f"unsupported encoding {value!r}; use one of {sorted(_ENCODINGS)}")
        return value.lower()

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(f"delimiter must be one character, got {value!r}")
        return value


class LinkSpec(_SourceFile):
    """A lookup table read from its own file: ``key`` column -> ``value`` column."""

    key: str
    value: str
    where: dict[str, str] = Field(default_factory=dict)

    @field_validator("where", mode="before")
    @classmethod
    def _where_as_text(cls, value: Any) -> Any:
        if isinstance(value, MappingABC):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @property
    def source_columns(self) -> frozenset[str]:
        return frozenset({self.key, self.value, *self.where})


class FileSpec(_SourceFile):
    """One source file and how it fills one canonical table."""

    target: str
    source_system: str | None = None
    columns: dict[str, ColumnSpec]

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, MappingABC):
            return {k: _column_shorthand(v) for k, v in value.items()}
        return value

    @field_validator("target")
    @classmethod
    def _known_target(cls, value: str) -> str:
        try:
            table(value)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        return value

    @property
    def table(self) -> Table:
        return table(self.target)

    @property
    def source_columns(self) -> frozenset[str]:
        out: set[str] = set()
        for spec in self.columns.values():
            out |= spec.source_columns
        return frozenset(out)


class Mapping(_Strict):
    """A whole mapping file: links, files and rule outcomes."""

    name: str = Field(min_length=1)
    source_system: str = Field(min_length=1)
    timezone: str | None = None
    century_pivot: int = Field(default=30, ge=0, le=99)
    currency: str | None = None
    rules: dict[str, str] = Field(default_factory=dict)
    links: list[LinkSpec] = Field(default_factory=list)
    files: list[FileSpec] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _valid_rules(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_outcomes(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Mapping:
        names = [f.name for f in self.files] + [link.name for link in self.links]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"file and link names must be unique; repeated: {dupes}")
        link_names = {link.name for link in self.links}
        problems: list[str] = []
        for i, f in enumerate(self.files):
            canonical = f.table
            where = f"files[{i}] ({f.name})"
            for col, spec in f.columns.items():
                if col not in canonical.column_index:
                    problems.append(
                        f"{where}.columns.{col}: table {f.target} has no column {col!r}"
                    )
                    continue
                problems.extend(_enum_problems(f"{where}.columns.{col}", canonical, col, spec))
                if spec.link is not None and spec.link not in link_names:
                    problems.append(f"{where}.columns.{col}.link: no link named {spec.link!r}")
                if col in ("customer_key", "account_key") and spec.pseudonymise is None:
                    problems.append(
                        f"{where}.columns.{col}: must say pseudonymise: "
                        f"{col.removesuffix('_key')} (source numbers never reach the warehouse)"
                    )
            for col in canonical.columns:
                if (
                    col.required
                    and col.name not in f.columns
                    and col.name not in ("source_system", "currency")
                ):
                    problems.append(
                        f"{where}.columns: required column {col.name!r} of {f.target} is not mapped"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def outcome(self, rule: str, spec: ColumnSpec | None = None) -> Outcome:
        """The outcome of ``rule``, with a column's override taking precedence."""
        if rule == "erased":
            return "reject"
        if spec is not None and rule in spec.outcomes:
            return spec.outcomes[rule]  # type: ignore[return-value]
        return self.rules.get(rule, DEFAULT_OUTCOMES[rule])  # type: ignore[return-value]

    def file_system(self, spec: FileSpec) -> str:
        return spec.source_system or self.source_system

    def link(self, name: str) -> LinkSpec:
        return next(link for link in self.links if link.name == name)


def _enum_problems(where: str, canonical: Table, name: str, spec: ColumnSpec) -> list[str]:
    """Canonical values a mapping writes into an enumerated column must be members."""
    enum = canonical.column(name).enum
    if enum is None:
        return []
    allowed = {m.value for m in enum}
    given: list[tuple[str, Any]] = []
    if spec.codes:
        given += [(f"codes.{k}", v) for k, v in spec.codes.items()]
    for option in ("default", "constant", "negative", "positive"):
        value = getattr(spec, option)
        if value is not None:
            given.append((option, value))
    return [
        f"{where}.{path}: unknown code {value!r} for {canonical.name}.{name}; "
        f"allowed: {sorted(allowed)}"
        for path, value in given
        if str(value) not in allowed
    ]


def _yaml_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def parse_mapping(data: Any, origin: str = "<mapping>") -> Mapping:
    """Validate already-loaded YAML data; errors name ``origin`` and the YAML path."""
    if not isinstance(data, MappingABC):
        raise MappingError(f"{origin}: expected a YAML mapping at the top level")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{_yaml_path(tuple(err['loc']))}: {msg}")
        raise MappingError(f"{origin}: invalid mapping\n  " + "\n  ".join(lines)) from None


def load_mapping(path: Path) -> tuple[Mapping, str]:
    """Read and validate a mapping file; return it and the SHA-256 of its bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingError(f"{path}: cannot read mapping ({exc.strerror})") from None
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: not valid UTF-8 YAML: {exc}") from None
    return parse_mapping(data, str(path)), hashlib.sha256(raw).hexdigest()
