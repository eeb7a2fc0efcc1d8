"""The 360° profile of one customer: every understanding result for one as-of date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis

from nextbest.errors import NextbestError
from nextbest.profile.lifecycle import Stage
from nextbest.profile.tags import TagSet, explain_tags, load_tags
from nextbest.warehouse import Warehouse

__all__ = ["CustomerProfile", "ProfileNotFoundError", "customer_profile"]


class ProfileNotFoundError(NextbestError):
    """No materialised understanding for this customer and as-of date."""


@dataclass(frozen=True)
class ProfileTag:
    """A tag the customer carries, with the values that made its expression true."""

    code: str
    zh: str
    en: str
    category: str
    version: int
    expression: str = ""
    because: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class CustomerProfile:
    """Everything known about one customer as of one date (pseudonymous key only)."""

    customer_key: str
    as_of: date
    features: dict[str, Any]
    tags: tuple[ProfileTag, ...]
    lifecycle_stage: str | None
    lifecycle_stage_zh: str | None
    previous_stage: str | None
    segments: dict[str, str]
    rfm: dict[str, Any] | None
    value: dict[str, Any] | None


def _one(wh: Warehouse, table: str, customer_key: str, as_of: date) -> list[dict[str, Any]]:
    t = wh.current(table)
    t = t.filter((t.customer_key == customer_key) & (t.as_of_date == ibis.literal(as_of)))
    drop = [c for c in ("_batch_id", "_loaded_at") if c in t.columns]
    return wh.to_arrow(t.drop(*drop)).to_pylist()


def customer_profile(
    wh: Warehouse, customer_key: str, as_of: date | None = None, tags: TagSet | None = None
) -> CustomerProfile:
    """The profile of ``customer_key`` as of ``as_of`` (the latest materialised date if None).

    Raises
    ------
    ProfileNotFoundError
        Nothing materialised yet, or the customer has no snapshot on that date.
    """
    if as_of is None:
        snap = wh.table("feature_snapshot")
        found = snap.filter(snap.customer_key == customer_key).as_of_date.max().name("m")
        as_of = wh.to_arrow(found.as_table()).column(0)[0].as_py()
        if as_of is None:
            raise ProfileNotFoundError(
                f"customer {customer_key!r}: no feature snapshot; run `nextbest understand run`"
            )
    rows = _one(wh, "feature_snapshot", customer_key, as_of)
    if not rows:
        raise ProfileNotFoundError(
            f"customer {customer_key!r}: no feature snapshot as of {as_of.isoformat()}"
        )
    features = rows[0]
    tag_set = tags or load_tags()
    by_code = {t.code: t for t in tag_set.tags}
    stored = sorted(_one(wh, "customer_tag", customer_key, as_of), key=lambda r: r["tag"])
    # Explanations re-evaluate the current definition on the stored snapshot; a tag whose
    # definition changed since (another version) is shown without one.
    current = [r["tag"] for r in stored if r["tag"] in by_code
               and by_code[r["tag"]].version == r["tag_version"]]  # fmt: skip
    why = {e.code: e.explanation for e in explain_tags(features, tag_set, current)}
    tagged = []
    for row in stored:
        t = by_code.get(row["tag"])
        e = why.get(row["tag"])
        tagged.append(
            ProfileTag(row["tag"], t.zh if t else row["tag"], t.en if t else row["tag"],
                       t.category if t else "", row["tag_version"],
                       e.expression if e else "", e.columns if e else ())
        )  # fmt: skip
    life = _one(wh, "customer_lifecycle", customer_key, as_of)
    stage = life[0]["stage"] if life else None
    segments = {
        r["scheme"]: r["segment"] for r in _one(wh, "customer_segment", customer_key, as_of)
    }
    rfm = _one(wh, "customer_rfm", customer_key, as_of)
    value = _one(wh, "customer_clv", customer_key, as_of)
    return CustomerProfile(
        customer_key=customer_key,
        as_of=as_of,
        features=features,
        tags=tuple(tagged),
        lifecycle_stage=stage,
        lifecycle_stage_zh=Stage(stage).zh if stage else None,
        previous_stage=life[0]["previous_stage"] if life else None,
        segments=segments,
        rfm=rfm[0] if rfm else None,
        value=value[0] if value else None,
    )
