"""Customer understanding, models and scores as the API serves them (read-only).

Understanding results (tags, segments, lifecycle, RFM, CLV) come from the latest as-of
date in the published warehouse copy; models from the registry (``<home>/models``); a
customer's scores from the current batch run's serving snapshot. Rows carry pseudonymous
customer keys only. Monetary and risk figures (CLV amounts, RFM monetary value, expected
values, probability of default) are *sensitive*: without ``customer:read_sensitive`` they
come back as ``null`` and are listed in ``withheld``, like income on a profile.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pyarrow.dataset as ds

from nextbest.config import Settings
from nextbest.errors import NextbestError
from nextbest.models.registry import ModelRegistry, RegistryError
from nextbest.profile.lifecycle import Stage
from nextbest.profile.tags import load_tags
from nextbest.security.permissions import Permission, Principal
from nextbest.services.customers import PublishedCustomers, json_scalar
from nextbest.services.decision_access import NoServingSnapshotError
from nextbest.warehouse import Warehouse

__all__ = [
    "SENSITIVE_INSIGHT_FIELDS",
    "CustomerInsight",
    "CustomerScores",
    "InsightNotFoundError",
    "InsightService",
    "Rows",
]

SENSITIVE_INSIGHT_FIELDS = frozenset(
    {"clv", "margin_clv", "expected_loss_clv", "probability_of_default", "monetary", "pd"}
)
_SYSTEM = ("_batch_id", "_loaded_at")


class InsightNotFoundError(NextbestError):
    """No such customer, model or understanding result."""


@dataclass(frozen=True)
class Rows:
    """One page of rows (already gated) and the total count."""

    as_of: date | None
    items: list[dict[str, Any]]
    total: int
    withheld: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomerInsight:
    customer_key: str
    as_of: date
    tags: list[dict[str, Any]]
    segments: dict[str, str]
    lifecycle_stage: str | None
    previous_stage: str | None
    rfm: dict[str, Any] | None
    clv: dict[str, Any] | None
    withheld: tuple[str, ...]


@dataclass(frozen=True)
class CustomerScores:
    customer_key: str
    run_id: str
    model_version: str
    propensity: dict[str, float | None]
    expected_value: dict[str, float | None] | None
    probability_of_default: float | None
    withheld: tuple[str, ...]


def gate(row: Mapping[str, Any], principal: Principal) -> tuple[dict[str, Any], list[str]]:
    """The row as JSON scalars, sensitive fields nulled without the permission (pure)."""
    allowed = principal.can(Permission.CUSTOMER_READ_SENSITIVE)
    out: dict[str, Any] = {}
    withheld = []
    for name, value in row.items():
        if name in _SYSTEM or name == "as_of_date":
            continue
        if name in SENSITIVE_INSIGHT_FIELDS and not allowed:
            out[name] = None
            withheld.append(name)
        else:
            out[name] = json_scalar(value)
    return out, withheld


def _latest(wh: Warehouse, table: str) -> date | None:
    value = wh.to_arrow(wh.table(table).as_of_date.max().name("m").as_table()).column(0)[0]
    return value.as_py()


def _on(wh: Warehouse, table: str, as_of: date) -> ibis.Table:
    t = wh.current(table)
    t = t.filter(t.as_of_date == ibis.literal(as_of))
    return t.drop(*[c for c in _SYSTEM if c in t.columns])


def _page(wh: Warehouse, t: ibis.Table, order: list[str], limit: int, offset: int) -> Rows:
    total = int(wh.to_arrow(t.aggregate(n=t.count())).column("n")[0].as_py())
    rows = wh.to_arrow(t.order_by(order).limit(limit, offset=offset)).to_pylist()
    return Rows(None, rows, total)


class InsightService:
    """Read-only understanding, model and score look-ups for one serving process."""

    def __init__(self, settings: Settings, published: PublishedCustomers) -> None:
        self.settings = settings
        self.published = published
        self.registry = ModelRegistry(settings.home / "models")
        self._lock = threading.Lock()
        self._context: tuple[str, dict[str, Any], ds.Dataset] | None = None

    # --- aggregates ------------------------------------------------------------------
    def tags(self, *, limit: int, offset: int) -> Rows:
        """The tag catalogue with how many customers carry each tag on the latest date."""

        def read(wh: Warehouse) -> tuple[date | None, dict[str, int]]:
            as_of = _latest(wh, "customer_tag")
            if as_of is None:
                return None, {}
            t = _on(wh, "customer_tag", as_of)
            counts = wh.to_arrow(t.group_by("tag").aggregate(n=t.count())).to_pylist()
            return as_of, {r["tag"]: int(r["n"]) for r in counts}

        as_of, counts = self.published.read(read)
        catalogue = sorted(load_tags().tags, key=lambda t: t.code)
        items = [
            {"code": t.code, "zh": t.zh, "en": t.en, "category": t.category,
             "version": t.version, "customers": counts.get(t.code, 0)}
            for t in catalogue
        ]  # fmt: skip
        return Rows(as_of, items[offset : offset + limit], len(items))

    def segments(self, scheme: str | None, *, limit: int, offset: int) -> Rows:
        """Segment profiles (scheme, segment, labels, size) on the latest date."""

        def read(wh: Warehouse) -> Rows:
            as_of = _latest(wh, "segment_profile")
            if as_of is None:
                return Rows(None, [], 0)
            t = _on(wh, "segment_profile", as_of).drop("as_of_date")
            if scheme is not None:
                t = t.filter(t.scheme == scheme)
            page = _page(wh, t, ["scheme", "segment"], limit, offset)
            return Rows(as_of, page.items, page.total)

        return self.published.read(read)

    def lifecycle(self) -> tuple[date | None, list[dict[str, Any]]]:
        """Customers per lifecycle stage on the latest date (every stage listed)."""

        def read(wh: Warehouse) -> tuple[date | None, dict[str, int]]:
            as_of = _latest(wh, "customer_lifecycle")
            if as_of is None:
                return None, {}
            t = _on(wh, "customer_lifecycle", as_of)
            rows = wh.to_arrow(t.group_by("stage").aggregate(n=t.count())).to_pylist()
            return as_of, {r["stage"]: int(r["n"]) for r in rows}

        as_of, counts = self.published.read(read)
        return as_of, [{"stage": s.value, "zh": s.zh, "customers": counts.get(s.value, 0)}
                       for s in Stage]  # fmt: skip

    def clv(self, principal: Principal, value_tier: str | None, *, limit: int, offset: int) -> Rows:
        """One page of customers' CLV on the latest date, by customer key."""

        def read(wh: Warehouse) -> Rows:
            as_of = _latest(wh, "customer_clv")
            if as_of is None:
                return Rows(None, [], 0)
            t = _on(wh, "customer_clv", as_of)
            if value_tier is not None:
                t = t.filter(t.value_tier == value_tier)
            page = _page(wh, t, ["customer_key"], limit, offset)
            return Rows(as_of, page.items, page.total)

        rows = self.published.read(read)
        items, withheld = [], set()
        for row in rows.items:
            out, hidden = gate(row, principal)
            items.append(out)
            withheld.update(hidden)
        return Rows(rows.as_of, items, rows.total, tuple(sorted(withheld)))

    # --- one customer ----------------------------------------------------------------
    def customer(self, customer_key: str, principal: Principal) -> CustomerInsight:
        """Tags, segments, lifecycle, RFM and CLV of one customer on the latest date.

        Raises
        ------
        InsightNotFoundError
            Nothing materialised for this customer.
        """

        def read(wh: Warehouse) -> dict[str, Any] | None:
            as_of = _latest(wh, "customer_lifecycle") or _latest(wh, "customer_tag")
            if as_of is None:
                return None
            found: dict[str, Any] = {"as_of": as_of}
            for table in ("customer_tag", "customer_segment", "customer_lifecycle",
                          "customer_rfm", "customer_clv"):  # fmt: skip
                t = _on(wh, table, as_of)
                t = t.filter(t.customer_key == customer_key).drop("as_of_date", "customer_key")
                found[table] = wh.to_arrow(t).to_pylist()
            return found

        found = self.published.read(read)
        if found is None or not any(found[t] for t in found if t != "as_of"):
            raise InsightNotFoundError(
                f"customer_key: no understanding results for {customer_key!r}"
            )
        by_code = {t.code: t for t in load_tags().tags}
        tags = []
        for row in sorted(found["customer_tag"], key=lambda r: r["tag"]):
            known = by_code.get(row["tag"])
            tags.append({"code": row["tag"], "version": int(row["tag_version"]),
                         "zh": known.zh if known else row["tag"],
                         "category": known.category if known else ""})  # fmt: skip
        withheld: set[str] = set()

        def one(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
            if not rows:
                return None
            out, hidden = gate(rows[0], principal)
            withheld.update(hidden)
            return out

        life = found["customer_lifecycle"]
        return CustomerInsight(
            customer_key=customer_key,
            as_of=found["as_of"],
            tags=tags,
            segments={r["scheme"]: r["segment"] for r in found["customer_segment"]},
            lifecycle_stage=life[0]["stage"] if life else None,
            previous_stage=life[0]["previous_stage"] if life else None,
            rfm=one(found["customer_rfm"]),
            clv=one(found["customer_clv"]),
            withheld=tuple(sorted(withheld)),
        )

    def scores(self, customer_key: str, principal: Principal) -> CustomerScores:
        """The current serving snapshot's propensities (and, if allowed, values and PD).

        Raises
        ------
        NoServingSnapshotError, InsightNotFoundError
        """
        meta, dataset = self._serving()
        table = dataset.to_table(filter=ds.field("customer_key") == customer_key)
        if table.num_rows == 0:
            raise InsightNotFoundError(
                f"customer_key: {customer_key!r} is not in serving snapshot {meta['run_id']}"
            )
        row = table.slice(0, 1).to_pylist()[0]
        sensitive_ok = principal.can(Permission.CUSTOMER_READ_SENSITIVE)

        def num(value: Any) -> float | None:
            return None if value is None or value != value else float(value)

        propensity = {k.split("__", 1)[1]: num(v) for k, v in row.items()
                      if k.startswith("propensity__")}  # fmt: skip
        values = {k.split("__", 1)[1]: num(v) for k, v in row.items() if k.startswith("value__")}
        withheld = () if sensitive_ok else ("expected_value", "probability_of_default")
        return CustomerScores(
            customer_key=customer_key,
            run_id=str(meta["run_id"]),
            model_version=str(meta.get("model_version", "")),
            propensity=dict(sorted(propensity.items())),
            expected_value=dict(sorted(values.items())) if sensitive_ok else None,
            probability_of_default=num(row.get("pd")) if sensitive_ok else None,
            withheld=withheld,
        )

    def _serving(self) -> tuple[dict[str, Any], ds.Dataset]:
        root = self.settings.home / "decisions"
        try:
            text = (root / "CURRENT").read_text()
        except FileNotFoundError:
            raise NoServingSnapshotError(
                "no batch decisions yet: run `nextbest decide batch`"
            ) from None
        with self._lock:
            cached = self._context
            if cached is None or cached[0] != text:
                meta = json.loads(text)
                dataset = ds.dataset(Path(root / meta["run_id"] / "context.parquet"))
                cached = self._context = (text, meta, dataset)
        return cached[1], cached[2]

    # --- models ----------------------------------------------------------------------
    def models(self, name: str | None = None, *, limit: int, offset: int) -> Rows:
        """Registered model versions (newest registration last), with their status.

        Raises
        ------
        InsightNotFoundError
            ``name`` given but not registered.
        """
        if name is not None and name not in self.registry.names():
            raise InsightNotFoundError(f"model_name: no model {name!r}")
        try:
            entries = self.registry.entries(name)
        except RegistryError as exc:
            raise InsightNotFoundError(f"model_name: {exc}") from None
        items = [
            {"name": e.name, "version": e.version, "kind": e.kind, "status": status,
             "data_window": list(e.data_window), "features": len(e.features),
             "metrics": {k: v for k, v in e.metrics.items()
                         if isinstance(v, int | float | str | bool) or v is None},
             "seed": e.seed, "code_version": e.code_version, "created_at": e.created_at}
            for e, status in entries
        ]  # fmt: skip
        return Rows(None, items[offset : offset + limit], len(items))
