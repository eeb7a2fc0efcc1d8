"""Decisions as the API serves them: real-time decide, outcomes, the current batch run.

A thin layer over :mod:`nextbest.services.decisioning` (which it calls and never changes)
that turns its conditions into precise errors the API maps to statuses (no snapshot yet:
503; customer not in the snapshot or unknown decision: 404) and reads the batch run's
Parquet output page by page.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds

from nextbest.config import Settings
from nextbest.decide.explanation import DecisionExplanation
from nextbest.decide.offers import Offer
from nextbest.errors import NextbestError
from nextbest.opstore.decisions import DecisionLog, DecisionLogError, StoredDecision
from nextbest.opstore.store import OperationalStore
from nextbest.services.decisioning import DecisionService, RealTimeDecision, active_rules

__all__ = [
    "BatchDecisionPage",
    "BatchRun",
    "DecisionAccess",
    "DecisionNotFoundError",
    "NoServingSnapshotError",
    "NotInSnapshotError",
    "explanation_json",
]

BATCH_FILTERS = ("customer_key", "offer_id", "channel", "campaign_id")


class NoServingSnapshotError(NextbestError):
    """No batch run has produced a serving snapshot yet."""


class NotInSnapshotError(NextbestError):
    """The customer is not in the current serving snapshot."""


class DecisionNotFoundError(NextbestError):
    """No decision record with that id."""


@dataclass(frozen=True)
class BatchRun:
    """The batch run ``decisions/CURRENT`` names."""

    run_id: str
    as_of: str | None
    snapshot_version: str
    model_version: str
    policy_version: str
    catalogue_version: str
    customers: int
    with_offer: int
    by_offer: dict[str, int]


@dataclass(frozen=True)
class BatchDecisionPage:
    run: BatchRun
    items: list[dict[str, Any]]
    total: int


def explanation_json(explanation: DecisionExplanation, *, with_inputs: bool) -> dict[str, Any]:
    """The explanation as JSON; ``with_inputs`` keeps the customer attributes each rule read
    (AUM, age...), which only callers allowed sensitive fields should see."""
    data = explanation.to_json()
    if not with_inputs:
        for verdict in data["verdicts"]:
            verdict.pop("inputs", None)
    data["lines"] = explanation.lines()
    return data


class DecisionAccess:
    """Real-time decisions and batch-run reads for one process.

    Parameters
    ----------
    settings, store:
        The installation and its open operational store (owned by the caller).
    """

    def __init__(self, settings: Settings, store: OperationalStore) -> None:
        self.settings = settings
        self.store = store
        self.log = DecisionLog(store)
        self._service: DecisionService | None = None
        self._lock = threading.Lock()
        self._batch: tuple[str, BatchRun, Any] | None = None

    @property
    def service(self) -> DecisionService:
        # built on first use: it reads the active rules, which tests may publish after start
        if self._service is None:
            with self._lock:
                if self._service is None:
                    self._service = DecisionService(self.settings, self.store)
        return self._service

    def decide(self, customer_key: str, request: Mapping[str, str]) -> RealTimeDecision:
        """Decide for one customer now (reserves the contact, records the decision).

        Raises
        ------
        NoServingSnapshotError, NotInSnapshotError
        """
        service = self.service
        try:
            snapshot = service.snapshot
        except NextbestError as exc:
            raise NoServingSnapshotError(str(exc)) from None
        if customer_key not in snapshot.rows:
            raise NotInSnapshotError(
                f"customer_key: {customer_key!r} is not in serving snapshot {snapshot.run_id}"
            )
        return service.decide_one(customer_key, request)

    def record_outcome(self, decision_id: str, outcome: str) -> StoredDecision:
        """``accepted`` or ``rejected``; a rejection starts the product's cool-down.

        Raises
        ------
        DecisionNotFoundError
            For an unknown id; ``DecisionLogError`` (422) for an outcome that conflicts.
        """
        try:
            return self.log.set_outcome(decision_id, outcome)
        except DecisionLogError as exc:
            if str(exc).startswith("decision_record: no decision"):
                raise DecisionNotFoundError(f"decision_id: no decision {decision_id!r}") from None
            raise

    def offers(self) -> list[Offer]:
        """The active catalogue's offers."""
        return list(active_rules(self.store)[1])

    def _current_run(self) -> tuple[BatchRun, Any]:
        root = self.settings.home / "decisions"
        try:
            text = (root / "CURRENT").read_text()
        except FileNotFoundError:
            raise NoServingSnapshotError(
                "no batch decisions yet: run `nextbest decide batch`"
            ) from None
        cached = self._batch
        if cached is not None and cached[0] == text:
            return cached[1], cached[2]
        meta = json.loads(text)
        dataset = ds.dataset(Path(root / meta["run_id"] / "decisions.parquet"))
        table = dataset.to_table(columns=["offer_id"])
        counts = pc.value_counts(table.column("offer_id").drop_null()).to_pylist()
        run = BatchRun(
            run_id=str(meta["run_id"]),
            as_of=meta.get("as_of"),
            snapshot_version=str(meta["snapshot_version"]),
            model_version=str(meta["model_version"]),
            policy_version=str(meta["policy_version"]),
            catalogue_version=str(meta["catalogue_version"]),
            customers=table.num_rows,
            with_offer=table.num_rows - table.column("offer_id").null_count,
            by_offer={c["values"]: int(c["counts"]) for c in counts},
        )
        self._batch = (text, run, dataset)
        return run, dataset

    def batch_decisions(
        self, equals: Mapping[str, str], *, limit: int, offset: int
    ) -> BatchDecisionPage:
        """One page of the current batch run's decisions, filtered on :data:`BATCH_FILTERS`."""
        unknown = sorted(set(equals) - set(BATCH_FILTERS))
        if unknown:
            raise NextbestError(f"{unknown[0]}: cannot filter on it; use one of {BATCH_FILTERS}")
        run, dataset = self._current_run()
        where = None
        for column, value in equals.items():
            term = ds.field(column) == value
            where = term if where is None else where & term
        columns = ["customer_key", "offer_id", "channel", "campaign_id", "priority", "price"]
        table = dataset.to_table(columns=columns, filter=where)
        rows = table.slice(offset, limit).to_pylist()
        for row in rows:
            for key in ("priority", "price"):
                value = row[key]
                if value is not None and value != value:  # NaN: no offer, no priority
                    row[key] = None
        return BatchDecisionPage(run, rows, table.num_rows)
