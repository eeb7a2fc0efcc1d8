"""The tag engine: named boolean expressions over the feature snapshot, kept in YAML.

A tag file lists tags, each with a code, an expression in nextbest's expression language
(:mod:`nextbest.expr`), a Chinese and English label, a category, an owner and a version.
Tags are evaluated in bulk as one Ibis expression over the snapshot table (so on any
warehouse backend), and explained for one customer record with the values that made the
expression true. The default set for a Chinese retail bank is ``profile/tags/default.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nextbest.errors import NextbestError
from nextbest.expr import Explanation, Expr, ExpressionError, explain, parse, to_ibis, validate
from nextbest.profile.catalogue import FEATURES

__all__ = [
    "DEFAULT_TAG_FILE",
    "Tag",
    "TagError",
    "TagExplanation",
    "TagSet",
    "evaluate_tags",
    "explain_tags",
    "feature_types",
    "load_tags",
    "tag_flags",
]

DEFAULT_TAG_FILE = Path(__file__).parent / "tags" / "default.yaml"


class TagError(NextbestError):
    """A tag file or tag definition is invalid."""


class _Label(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class _TagModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    expression: str = Field(min_length=1)
    label: _Label
    category: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    version: int = Field(ge=1)
    description: str = ""


class _TagFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[_TagModel]


@dataclass(frozen=True)
class Tag:
    """One tag: a parsed expression with its labels and ownership."""

    code: str
    text: str
    expr: Expr
    zh: str
    en: str
    category: str
    owner: str
    version: int
    description: str = ""


@dataclass(frozen=True)
class TagSet:
    """The tags of one file, in file order, with where they came from."""

    source: str
    tags: tuple[Tag, ...]

    def get(self, code: str) -> Tag:
        for tag in self.tags:
            if tag.code == code:
                return tag
        raise TagError(
            f"{self.source}: no tag {code!r}; known: {', '.join(t.code for t in self.tags)}"
        )

    @property
    def columns(self) -> frozenset[str]:
        """Every snapshot column some tag reads."""
        return frozenset().union(*(t.expr.columns for t in self.tags))


@dataclass(frozen=True)
class TagExplanation:
    """Why one customer does or does not carry one tag."""

    code: str
    zh: str
    en: str
    version: int
    tagged: bool
    explanation: Explanation


def feature_types() -> dict[str, str]:
    """Snapshot column -> expression-language type, for validating tag expressions."""
    types = {"customer_key": "string", "as_of_date": "date", "load_cutoff": "timestamp"}
    types.update({f.name: f.dtype for f in FEATURES})
    return types


def load_tags(path: Path | None = None, *, columns: Mapping[str, str] | None = None) -> TagSet:
    """Read, validate and parse a tag file (the default set when ``path`` is ``None``).

    Parameters
    ----------
    path:
        YAML file with a top-level ``tags:`` list.
    columns:
        Column types the expressions may use; the feature snapshot's by default.

    Raises
    ------
    TagError
        Naming the file, the tag and the problem: YAML syntax, a missing or unknown field, a
        duplicate code, an expression that does not parse, uses an unknown column or is not
        true/false.
    """
    file = path or DEFAULT_TAG_FILE
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TagError(f"{file}: cannot read the tag file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise TagError(f"{file}: not valid YAML ({exc})") from exc
    try:
        parsed = _TagFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TagError(f"{file}: {where}: {first['msg']}") from exc
    types = dict(columns) if columns is not None else feature_types()
    tags: list[Tag] = []
    seen: set[str] = set()
    for model in parsed.tags:
        if model.code in seen:
            raise TagError(f"{file}: tag {model.code!r} is defined twice")
        seen.add(model.code)
        tags.append(_compile(file, model, types))
    return TagSet(str(file), tuple(tags))


def _compile(file: Path, model: _TagModel, types: Mapping[str, str]) -> Tag:
    try:
        expr = parse(model.expression)
        result = validate(expr, types)
    except ExpressionError as exc:
        raise TagError(f"{file}: tag {model.code!r}: {exc}") from exc
    if result not in ("bool", "null"):
        raise TagError(
            f"{file}: tag {model.code!r}: the expression must be true/false, it gives {result}"
        )
    return Tag(
        code=model.code,
        text=model.expression,
        expr=expr,
        zh=model.label.zh,
        en=model.label.en,
        category=model.category,
        owner=model.owner,
        version=model.version,
        description=model.description,
    )


def tag_flags(snapshot: ibis.Table, tags: TagSet) -> ibis.Table:
    """One boolean column per tag (true only when the expression is true; null is false)."""
    flags = {t.code: to_ibis(t.expr, snapshot).fill_null(False) for t in tags.tags}
    return snapshot.select("as_of_date", "customer_key", **flags)


def evaluate_tags(snapshot: ibis.Table, tags: TagSet) -> ibis.Table:
    """Tagged customers in long form: ``as_of_date, customer_key, tag, tag_version``.

    One Ibis expression (a union of one filter per tag over ``snapshot``), so it runs in the
    warehouse on any backend; only true results are kept.
    """
    parts = []
    for t in tags.tags:
        hit = snapshot.filter(to_ibis(t.expr, snapshot).fill_null(False))
        parts.append(
            hit.select(
                "as_of_date",
                "customer_key",
                tag=ibis.literal(t.code, type="string"),
                tag_version=ibis.literal(t.version, type="int64"),
            )
        )
    if not parts:
        raise TagError(f"{tags.source}: the tag set is empty")
    return ibis.union(*parts, distinct=False)


def explain_tags(
    record: Mapping[str, Any], tags: TagSet, codes: Iterable[str] | None = None
) -> list[TagExplanation]:
    """Explain tags for one customer's snapshot record (all tags unless ``codes`` is given)."""
    chosen: Sequence[Tag] = tags.tags if codes is None else [tags.get(c) for c in codes]
    out = []
    for t in chosen:
        result = explain(t.expr, record)
        out.append(TagExplanation(t.code, t.zh, t.en, t.version, result.result is True, result))
    return out
