"""Finding customers by what customer understanding says about them.

Criteria are combined with *and*: every tag given, a segment (of any scheme, or of one scheme
with ``scheme:segment``) and a lifecycle stage, all as of one as-of date (the latest
materialised one by default). The query runs in the warehouse as Ibis expressions; hits carry
only the pseudonymous key and the masked identifiers stored in the warehouse, never a clear
identifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis

from nextbest.errors import NextbestError
from nextbest.profile.lifecycle import Stage
from nextbest.warehouse import Warehouse

__all__ = ["CustomerHit", "SearchCriteria", "SearchError", "SearchResult", "search_customers"]

_MASKED = ("name_masked", "mobile_masked")


class SearchError(NextbestError):
    """The search criteria are invalid or there is nothing to search yet."""


@dataclass(frozen=True)
class SearchCriteria:
    """What to look for; empty criteria list every customer of the as-of date.

    Attributes
    ----------
    tags:
        Tag codes the customer must all carry.
    segment:
        A segment code of any scheme (``hnw``, ``s2``) or ``scheme:segment``
        (``cluster:s2``, ``asset_size:hnw``).
    stage:
        A lifecycle stage (``active``, ``dormant`` ...).
    as_of:
        The as-of date; the latest materialised one if ``None``.
    limit:
        At most this many hits (ordered by customer key).
    """

    tags: tuple[str, ...] = ()
    segment: str | None = None
    stage: str | None = None
    as_of: date | None = None
    limit: int = 50

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise SearchError(f"--limit: must be at least 1, got {self.limit}")
        if self.stage is not None and self.stage not in {s.value for s in Stage}:
            known = ", ".join(s.value for s in Stage)
            raise SearchError(f"--lifecycle: unknown stage {self.stage!r}; use one of {known}")


@dataclass(frozen=True)
class CustomerHit:
    """One customer found: key, masked identifiers and the understanding results."""

    customer_key: str
    name_masked: str | None
    mobile_masked: str | None
    stage: str | None
    segments: dict[str, str]
    tags: tuple[str, ...]
    value_tier: str | None
    clv: float | None


@dataclass(frozen=True)
class SearchResult:
    as_of: date
    total: int
    hits: tuple[CustomerHit, ...] = field(default_factory=tuple)


def _latest(wh: Warehouse) -> date | None:
    t = wh.table("customer_lifecycle")
    value = wh.to_arrow(t.as_of_date.max().name("m").as_table()).column(0)[0]
    return value.as_py()


def _on(wh: Warehouse, table: str, as_of: date) -> ibis.Table:
    t = wh.current(table)
    return t.filter(t.as_of_date == ibis.literal(as_of))


def _segment_filter(segments: ibis.Table, text: str) -> ibis.Table:
    scheme, _, code = text.rpartition(":")
    hit = segments.segment == code
    if scheme:
        hit = hit & (segments.scheme == scheme)
    return segments.filter(hit)


def search_customers(wh: Warehouse, criteria: SearchCriteria) -> SearchResult:
    """Customers matching ``criteria`` as of one date, with their understanding results.

    Raises
    ------
    SearchError
        Nothing is materialised yet (run ``nextbest understand run``).
    """
    as_of = criteria.as_of or _latest(wh)
    if as_of is None:
        raise SearchError("no customer understanding yet; run `nextbest understand run`")
    found = _on(wh, "customer_lifecycle", as_of).select("customer_key", "stage")
    if criteria.stage is not None:
        found = found.filter(found.stage == criteria.stage)
    tags = _on(wh, "customer_tag", as_of)
    for code in criteria.tags:
        found = found.semi_join(tags.filter(tags.tag == code), "customer_key")
    if criteria.segment is not None:
        chosen = _segment_filter(_on(wh, "customer_segment", as_of), criteria.segment)
        found = found.semi_join(chosen.select("customer_key").distinct(), "customer_key")
    total = int(wh.to_arrow(found.aggregate(n=found.count())).column("n")[0].as_py())
    page = wh.to_arrow(found.order_by("customer_key").limit(criteria.limit)).to_pylist()
    keys = [r["customer_key"] for r in page]
    return SearchResult(as_of, total, tuple(_hits(wh, as_of, page, keys)))


def _rows_of(wh: Warehouse, t: ibis.Table, keys: Sequence[str], *cols: str) -> list[dict[str, Any]]:
    if not keys:
        return []
    return wh.to_arrow(t.filter(t.customer_key.isin(list(keys))).select(*cols)).to_pylist()


def _hits(
    wh: Warehouse, as_of: date, page: list[dict[str, Any]], keys: list[str]
) -> list[CustomerHit]:
    customer = wh.current("customer")
    masked = [c for c in _MASKED if c in customer.columns]
    ident = {r["customer_key"]: r for r in _rows_of(wh, customer, keys, "customer_key", *masked)}
    segments: dict[str, dict[str, str]] = {k: {} for k in keys}
    for r in _rows_of(
        wh, _on(wh, "customer_segment", as_of), keys, "customer_key", "scheme", "segment"
    ):
        segments[r["customer_key"]][r["scheme"]] = r["segment"]
    tags: dict[str, list[str]] = {k: [] for k in keys}
    for r in _rows_of(wh, _on(wh, "customer_tag", as_of), keys, "customer_key", "tag"):
        tags[r["customer_key"]].append(r["tag"])
    value = {
        r["customer_key"]: r
        for r in _rows_of(
            wh, _on(wh, "customer_clv", as_of), keys, "customer_key", "value_tier", "clv"
        )
    }
    out = []
    for row in page:
        key = row["customer_key"]
        who = ident.get(key, {})
        v = value.get(key, {})
        out.append(
            CustomerHit(
                customer_key=key,
                name_masked=who.get("name_masked"),
                mobile_masked=who.get("mobile_masked"),
                stage=row["stage"],
                segments=dict(sorted(segments[key].items())),
                tags=tuple(sorted(tags[key])),
                value_tier=v.get("value_tier"),
                clv=v.get("clv"),
            )
        )
    return out
