"""Repositories for decisioning: decision records, contact counters, do-not-disturb, policies.

The contact cap is enforced in the database, not in Python: a reservation is
``UPDATE contact_counter SET count = count + 1 WHERE <key> AND count < cap``, so two
decisions racing for the last contact of a period cannot both win (on PostgreSQL the second
UPDATE waits for the first's row lock and re-checks the condition; on SQLite writers are
serialised by ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from nextbest.errors import NextbestError
from nextbest.opstore.audit import AuditTrail
from nextbest.opstore.models import (
    ALL_CHANNELS,
    Consent,
    ContactCounter,
    DecisionRecord,
    DoNotDisturb,
    PolicyVersion,
    utcnow,
)
from nextbest.opstore.policies import PolicyRecord, PolicyStore
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction

__all__ = [
    "CapClaim",
    "ContactCounters",
    "DecisionLog",
    "DecisionLogError",
    "DoNotDisturbList",
    "LiveRead",
    "Outcome",
    "PolicyRegistry",
    "RealtimeTransaction",
    "RealtimeWriter",
    "StoredDecision",
    "effective_consents",
    "new_decision_id",
    "policy_history",
]

Outcome = Literal["accepted", "rejected"]
OUTCOMES: tuple[str, ...] = ("accepted", "rejected")
_CHUNK = 900


class DecisionLogError(NextbestError):
    """A decision id is unknown, or an outcome is invalid or already recorded."""


def _chunks(customer_keys: Iterable[str] | None) -> Iterator[list[str] | None]:
    """``None`` once (no filter), or the distinct keys in IN-list sized chunks."""
    if customer_keys is None:
        yield None
        return
    keys = list(dict.fromkeys(customer_keys))
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


def new_decision_id() -> str:
    """A random, unguessable decision id (``d`` + 24 hex digits)."""
    return "d" + secrets.token_hex(12)


# -- decision records ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredDecision:
    """One row of ``decision_record``."""

    decision_id: str
    customer_key: str
    offer_id: str | None
    product_id: str | None
    channel: str | None
    campaign_id: str | None
    priority: float | None
    price: float | None
    decided_at: datetime
    explanation: Mapping[str, Any]
    inputs: Mapping[str, Any]
    policy_version: str
    catalogue_version: str
    snapshot_version: str
    outcome: str | None = None
    outcome_at: datetime | None = None

    @classmethod
    def from_row(cls, row: DecisionRecord) -> StoredDecision:
        return cls(
            row.decision_id,
            row.customer_key,
            row.offer_id,
            row.product_id,
            row.channel,
            row.campaign_id,
            row.priority,
            row.price,
            row.decided_at,
            row.explanation,
            row.inputs,
            row.policy_version,
            row.catalogue_version,
            row.snapshot_version,
            row.outcome,
            row.outcome_at,
        )


class DecisionLog:
    """Writes decisions and their outcomes; answers cool-down questions."""

    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def record(self, decision: StoredDecision, *, session: Session | None = None) -> None:
        with in_transaction(self.store, session) as s:
            s.add(
                DecisionRecord(
                    decision_id=decision.decision_id,
                    customer_key=decision.customer_key,
                    offer_id=decision.offer_id,
                    product_id=decision.product_id,
                    channel=decision.channel,
                    campaign_id=decision.campaign_id,
                    priority=decision.priority,
                    price=decision.price,
                    decided_at=decision.decided_at,
                    explanation=dict(decision.explanation),
                    inputs=dict(decision.inputs),
                    policy_version=decision.policy_version,
                    catalogue_version=decision.catalogue_version,
                    snapshot_version=decision.snapshot_version,
                )
            )
            s.flush()

    def get(self, decision_id: str, *, session: Session | None = None) -> StoredDecision:
        with in_transaction(self.store, session, readonly=True) as s:
            row = s.get(DecisionRecord, decision_id)
            if row is None:
                raise DecisionLogError(f"decision_record: no decision {decision_id!r}")
            return StoredDecision.from_row(row)

    def recent(
        self, customer_key: str | None = None, limit: int = 20, *, session: Session | None = None
    ) -> list[StoredDecision]:
        query = select(DecisionRecord).order_by(DecisionRecord.decided_at.desc()).limit(limit)
        if customer_key is not None:
            query = query.where(DecisionRecord.customer_key == customer_key)
        with in_transaction(self.store, session, readonly=True) as s:
            return [StoredDecision.from_row(r) for r in s.scalars(query)]

    def set_outcome(
        self,
        decision_id: str,
        outcome: str,
        at: datetime | None = None,
        *,
        session: Session | None = None,
    ) -> StoredDecision:
        """Record ``accepted`` or ``rejected`` once; a second, different outcome is refused."""
        if outcome not in OUTCOMES:
            raise DecisionLogError(
                f"decision {decision_id}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}"
            )
        with in_transaction(self.store, session) as s:
            row = s.get(DecisionRecord, decision_id, with_for_update=True)
            if row is None:
                raise DecisionLogError(f"decision_record: no decision {decision_id!r}")
            if row.offer_id is None:
                raise DecisionLogError(f"decision {decision_id}: no offer was made")
            if row.outcome is not None and row.outcome != outcome:
                raise DecisionLogError(
                    f"decision {decision_id}: outcome already recorded as {row.outcome!r}"
                )
            if row.outcome is None:
                row.outcome = outcome
                row.outcome_at = at or utcnow()
            s.flush()
            return StoredDecision.from_row(row)

    def rejected_products(
        self,
        customer_keys: Iterable[str] | None,
        since: datetime,
        *,
        session: Session | None = None,
    ) -> dict[str, set[str]]:
        """Customer -> products rejected at or after ``since`` (``None``: every customer)."""
        base = select(DecisionRecord.customer_key, DecisionRecord.product_id).where(
            DecisionRecord.outcome == "rejected", DecisionRecord.outcome_at >= since
        )
        out: dict[str, set[str]] = {}
        with in_transaction(self.store, session, readonly=True) as s:
            for chunk in _chunks(customer_keys):
                query = (
                    base if chunk is None else base.where(DecisionRecord.customer_key.in_(chunk))
                )
                for key, product in s.execute(query):
                    if product is not None:
                        out.setdefault(key, set()).add(product)
        return out


# -- contact counters ----------------------------------------------------------------------


@dataclass(frozen=True)
class CapClaim:
    """One cap a contact counts against: ``channel`` (or ``all``) per ``period`` bucket."""

    channel: str
    period: str
    bucket_start: date
    limit: int


class ContactCounters:
    """Marketing contacts per customer × channel × period bucket, with atomic reservation."""

    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def counts(
        self,
        customer_keys: Iterable[str] | None,
        channel: str,
        period: str,
        bucket_start: date,
        *,
        session: Session | None = None,
    ) -> dict[str, int]:
        """Count per customer in one bucket (``None``: every customer with a row)."""
        base = select(ContactCounter.customer_key, ContactCounter.count).where(
            ContactCounter.channel == channel,
            ContactCounter.period == period,
            ContactCounter.bucket_start == bucket_start,
        )
        out: dict[str, int] = {}
        with in_transaction(self.store, session, readonly=True) as s:
            for chunk in _chunks(customer_keys):
                query = (
                    base if chunk is None else base.where(ContactCounter.customer_key.in_(chunk))
                )
                out.update({k: int(n) for k, n in s.execute(query)})
        return out

    def of_customer(
        self, customer_key: str, since: date, *, session: Session | None = None
    ) -> dict[tuple[str, str, date], int]:
        """One customer's counters of buckets starting on or after ``since`` (one query)."""
        query = select(
            ContactCounter.channel,
            ContactCounter.period,
            ContactCounter.bucket_start,
            ContactCounter.count,
        ).where(ContactCounter.customer_key == customer_key, ContactCounter.bucket_start >= since)
        with in_transaction(self.store, session, readonly=True) as s:
            return {(c, p, b): int(n) for c, p, b, n in s.execute(query)}

    def reserve(
        self, customer_key: str, claims: Sequence[CapClaim], *, session: Session | None = None
    ) -> str | None:
        """Take one contact from every claim, all or nothing.

        Returns ``None`` on success, else ``"<channel>_<period>"`` of the first cap that was
        full (the counters are then left as they were).
        """
        with in_transaction(self.store, session) as s:
            insert_fn = (
                postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
            )
            taken: list[CapClaim] = []
            for claim in claims:
                where = (
                    ContactCounter.customer_key == customer_key,
                    ContactCounter.channel == claim.channel,
                    ContactCounter.period == claim.period,
                    ContactCounter.bucket_start == claim.bucket_start,
                )
                s.execute(
                    insert_fn(ContactCounter)
                    .values(
                        customer_key=customer_key,
                        channel=claim.channel,
                        period=claim.period,
                        bucket_start=claim.bucket_start,
                        count=0,
                    )
                    .on_conflict_do_nothing()
                )
                result = s.execute(
                    update(ContactCounter)
                    .where(*where, ContactCounter.count < claim.limit)
                    .values(count=ContactCounter.count + 1)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    for done in taken:  # give back what this call took
                        s.execute(
                            update(ContactCounter)
                            .where(
                                ContactCounter.customer_key == customer_key,
                                ContactCounter.channel == done.channel,
                                ContactCounter.period == done.period,
                                ContactCounter.bucket_start == done.bucket_start,
                            )
                            .values(count=ContactCounter.count - 1)
                            .execution_options(synchronize_session=False)
                        )
                    return f"{claim.channel}_{claim.period}"
                taken.append(claim)
        return None


# -- the real-time path: one short transaction over a raw connection ---------------------------


@dataclass(frozen=True, slots=True)
class LiveRead:
    """One customer's operational state as read inside a real-time transaction.

    ``consent``: (purpose, channel) -> ``granted``/``withdrawn`` (same rule as
    :func:`effective_consents`); ``counts``: (channel, period, bucket start) -> count.
    """

    consent: dict[tuple[str, str], str]
    counts: dict[tuple[str, str, date], int]
    dnd: bool
    rejected: frozenset[str]


class RealtimeTransaction:
    """Statements of one real-time decision, on one DBAPI cursor inside one transaction."""

    def __init__(self, writer: RealtimeWriter, cursor: Any) -> None:
        self._w = writer
        self._cur = cursor

    def read(
        self,
        customer_key: str,
        channels: Sequence[str],
        since_bucket: date,
        rejected_since: datetime,
        purposes: Sequence[str] = ("marketing", "service"),
    ) -> LiveRead:
        """Consents, counters from ``since_bucket``, do-not-disturb and recent rejections:
        four indexed lookups on the customer key in one statement (one round trip)."""
        w, cur = self._w, self._cur
        since = w.bind_date(since_bucket)
        cur.execute(w.sql_read, (customer_key, customer_key, since, customer_key, customer_key,
                                 w.bind_time(rejected_since)))  # fmt: skip
        latest: dict[tuple[str, str], tuple[Any, int, int, str]] = {}
        counts: dict[tuple[str, str, date], int] = {}
        dnd = False
        rejected: set[str] = set()
        for kind, a, b, c, at, number in cur.fetchall():
            if kind == 2:
                counts[(a, b, w.read_date(c))] = int(number)
            elif kind == 3:
                dnd = True
            elif kind == 4:
                if a is not None:
                    rejected.add(a)
            elif a in purposes:  # a consent event: purpose, channel, status, time, id
                rank = (at, int(c == "withdrawn"), number, c)
                for target in channels if b == ALL_CHANNELS else (b,):
                    if target not in channels:
                        continue
                    slot = (a, target)
                    if slot not in latest or rank[:3] > latest[slot][:3]:
                        latest[slot] = rank
        return LiveRead({k: v[3] for k, v in latest.items()}, counts, dnd, frozenset(rejected))

    def reserve(self, customer_key: str, claims: Sequence[CapClaim]) -> str | None:
        """Take one contact from every claim, all or nothing (as :meth:`ContactCounters.reserve`).

        One upsert per claim: insert the bucket at 1, or add 1 only ``WHERE count < cap``
        (atomic on both backends: PostgreSQL re-checks the condition under the row lock,
        SQLite holds the write lock from ``BEGIN IMMEDIATE``).
        """
        w, cur = self._w, self._cur
        taken: list[tuple[Any, ...]] = []
        for claim in claims:
            key = (customer_key, claim.channel, claim.period, w.bind_date(claim.bucket_start))
            ok = claim.limit >= 1
            if ok:
                cur.execute(w.sql_reserve, (*key, claim.limit))
                ok = bool(cur.fetchall())
            if not ok:
                for done in taken:  # give back what this call took
                    cur.execute(w.sql_give_back, done)
                return f"{claim.channel}_{claim.period}"
            taken.append(key)
        return None

    def record(self, decision: StoredDecision) -> None:
        """Insert the decision record (outcome empty)."""
        w = self._w
        self._cur.execute(
            w.sql_record,
            (
                decision.decision_id,
                decision.customer_key,
                decision.offer_id,
                decision.product_id,
                decision.channel,
                decision.campaign_id,
                decision.priority,
                decision.price,
                w.bind_time(decision.decided_at),
                w.bind_json(decision.explanation),
                w.bind_json(decision.inputs),
                decision.policy_version,
                decision.catalogue_version,
                decision.snapshot_version,
            ),
        )


class RealtimeWriter:
    """Real-time decisions' store access: one short transaction per decision.

    The ORM costs milliseconds per decision (sessions, unit of work, statement
    compilation); here each decision checks out a DBAPI connection from a small private
    pool, runs fixed SQL (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL prepares repeated
    statements itself) and commits once. Values go through the SQLAlchemy column types'
    own bind processors, so rows are exactly what the ORM writes and reads.
    """

    def __init__(self, store: OperationalStore, *, checkpoint_every: float = 0.5) -> None:
        engine = store.engine
        dialect = engine.dialect
        self.store = store
        self.sqlite = dialect.name == "sqlite"
        self._memory = self.sqlite and engine.url.database in (None, "", ":memory:")
        ph = "?" if dialect.paramstyle == "qmark" else "%s"

        def params(n: int) -> str:
            return ", ".join([ph] * n)

        record = DecisionRecord.__table__.c
        self._time = record.decided_at.type._cached_bind_processor(dialect)
        self._json = record.inputs.type._cached_bind_processor(dialect)
        self._date = ContactCounter.__table__.c.bucket_start.type._cached_bind_processor(dialect)
        # kind 1 consent event, 2 counter, 3 do-not-disturb, 4 recent rejection
        self.sql_read = (
            "SELECT 1, purpose, channel, status, event_time, id FROM consent "
            f"WHERE customer_key = {ph} "
            "UNION ALL SELECT 2, channel, period, CAST(bucket_start AS VARCHAR(10)), NULL, count "
            f"FROM contact_counter WHERE customer_key = {ph} AND bucket_start >= {ph} "
            "UNION ALL SELECT 3, NULL, NULL, NULL, NULL, NULL FROM do_not_disturb "
            f"WHERE customer_key = {ph} "
            "UNION ALL SELECT 4, product_id, NULL, NULL, NULL, NULL FROM decision_record "
            f"WHERE customer_key = {ph} AND outcome = 'rejected' AND outcome_at >= {ph}"
        )
        self.sql_reserve = (
            "INSERT INTO contact_counter (customer_key, channel, period, bucket_start, count) "
            f"VALUES ({params(4)}, 1) "
            "ON CONFLICT (customer_key, channel, period, bucket_start) "
            "DO UPDATE SET count = contact_counter.count + 1 "
            f"WHERE contact_counter.count < {ph} RETURNING count"
        )
        self.sql_give_back = (
            "UPDATE contact_counter SET count = count - 1 WHERE customer_key = "
            f"{ph} AND channel = {ph} AND period = {ph} AND bucket_start = {ph}"
        )
        self.sql_record = (
            "INSERT INTO decision_record (decision_id, customer_key, offer_id, product_id, "
            "channel, campaign_id, priority, price, decided_at, explanation, inputs, "
            f"policy_version, catalogue_version, snapshot_version) VALUES ({params(14)})"
        )
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # SQLite: a commit that crosses the WAL's auto-checkpoint threshold copies the WAL
        # into the database and fsyncs it inside that decision (milliseconds); the private
        # connections turn it off and a daemon thread checkpoints (PASSIVE) instead.
        self._checkpoint_every = checkpoint_every
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None

    def bind_time(self, value: datetime) -> Any:
        return self._time(value) if self._time is not None else value

    def bind_date(self, value: date) -> Any:
        return self._date(value) if self._date is not None else value

    def read_date(self, value: Any) -> date:
        return date.fromisoformat(value) if isinstance(value, str) else value

    def bind_json(self, value: Any) -> Any:
        return self._json(value) if self._json is not None else value

    def _checkout(self) -> tuple[Any, bool]:
        """(DBAPI connection, whether it is private to this writer)."""
        if self._memory:  # one shared in-memory database: use the engine's pool
            return self.store.engine.raw_connection(), False
        try:
            return self._idle.get_nowait(), True
        except queue.Empty:
            conn = self._detached()
            if self.sqlite:
                conn.execute("PRAGMA wal_autocheckpoint = 0")
                self._start_checkpointer()
            return conn, True

    def _start_checkpointer(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="nextbest-wal-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _detached(self) -> Any:
        """A DBAPI connection of the engine (its connect hooks ran), out of the pool."""
        fairy = self.store.engine.raw_connection()
        fairy.detach()  # ours from now on: no pool reset or ping per decision
        return fairy.dbapi_connection

    def _checkpoint_loop(self) -> None:
        conn = self._detached()
        try:
            while not self._stop.wait(self._checkpoint_every):
                if self._dirty.is_set():
                    self._dirty.clear()
                    with suppress(Exception):  # busy or locked: the next round retries
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            with suppress(Exception):
                conn.close()

    @contextmanager
    def transaction(self) -> Iterator[RealtimeTransaction]:
        """One transaction: committed when the block ends, rolled back on an exception."""
        conn, private = self._checkout()
        keep = True
        try:
            cur = conn.cursor()
            if self.sqlite:
                cur.execute("BEGIN IMMEDIATE")
            try:
                yield RealtimeTransaction(self, cur)
            except BaseException:
                try:
                    conn.rollback()
                except Exception:
                    keep = False
                raise
            try:
                conn.commit()
                self._dirty.set()
            except BaseException:
                keep = False
                with suppress(Exception):
                    conn.rollback()
                raise
            finally:
                cur.close()
        except BaseException as exc:
            if type(exc).__name__ in ("OperationalError", "InterfaceError"):
                keep = False  # a broken connection is not handed out again
            raise
        finally:
            if not private:
                conn.close()
            elif keep:
                self._idle.put(conn)
            else:
                with suppress(Exception):
                    conn.close()

    def close(self) -> None:
        """Stop the checkpoint thread and close the idle private connections."""
        if self._checkpointer is not None:
            self._stop.set()
            self._checkpointer.join()
            self._checkpointer = None
            self._stop.clear()
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return
            with suppress(Exception):
                conn.close()


# -- consents, as decisions need them ---------------------------------------------------------


def effective_consents(
    store: OperationalStore,
    customer_keys: Iterable[str] | None,
    channels: Iterable[str],
    purposes: Iterable[str] = ("marketing", "service"),
    *,
    session: Session | None = None,
) -> dict[tuple[str, str], dict[str, str]]:
    """(purpose, channel) -> customer -> ``granted``/``withdrawn``, for customers with events.

    Same rule as :class:`nextbest.opstore.consents.ConsentLedger`: the latest event of the
    channel or of ``all`` wins, a withdrawal wins a tie. ``None`` reads every customer (one
    scan, for batch runs).
    """
    channels = list(channels)
    purposes = list(purposes)
    columns = (Consent.customer_key, Consent.purpose, Consent.channel, Consent.status)
    base = select(*columns, Consent.event_time, Consent.id).where(
        Consent.purpose.in_(purposes), Consent.channel.in_([*channels, ALL_CHANNELS])
    )
    latest: dict[tuple[str, str, str], tuple[datetime, int, int, str]] = {}
    with in_transaction(store, session, readonly=True) as s:
        for chunk in _chunks(customer_keys):
            query = base if chunk is None else base.where(Consent.customer_key.in_(chunk))
            for key, purpose, channel, status, at, row_id in s.execute(query):
                rank = (at, int(status == "withdrawn"), row_id, status)
                targets = channels if channel == ALL_CHANNELS else [channel]
                for target in targets:
                    slot = (purpose, target, key)
                    if slot not in latest or rank[:3] > latest[slot][:3]:
                        latest[slot] = rank
    out: dict[tuple[str, str], dict[str, str]] = {}
    for (purpose, channel, key), rank in latest.items():
        out.setdefault((purpose, channel), {})[key] = rank[3]
    return out


# -- do-not-disturb ------------------------------------------------------------------------


class DoNotDisturbList:
    """The do-not-disturb list (no marketing contact while a customer is on it)."""

    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def add(
        self,
        customer_key: str,
        reason: str,
        *,
        actor: str = "system",
        session: Session | None = None,
    ) -> None:
        with in_transaction(self.store, session) as s:
            if s.get(DoNotDisturb, customer_key) is None:
                s.add(
                    DoNotDisturb(
                        customer_key=customer_key, added_at=utcnow(), reason=reason, added_by=actor
                    )
                )
                s.flush()

    def remove(self, customer_key: str, *, session: Session | None = None) -> bool:
        with in_transaction(self.store, session) as s:
            result = s.execute(
                delete(DoNotDisturb).where(DoNotDisturb.customer_key == customer_key)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def listed(
        self, customer_keys: Iterable[str] | None, *, session: Session | None = None
    ) -> set[str]:
        """Which of ``customer_keys`` are listed (``None``: the whole list)."""
        out: set[str] = set()
        base = select(DoNotDisturb.customer_key)
        with in_transaction(self.store, session, readonly=True) as s:
            for chunk in _chunks(customer_keys):
                query = base if chunk is None else base.where(DoNotDisturb.customer_key.in_(chunk))
                out.update(s.scalars(query))
        return out

    def add_many(self, customer_keys: Sequence[str], reason: str, *, actor: str = "system") -> int:
        """Bulk add (customers already listed are kept as they are)."""
        present = self.listed(customer_keys)
        rows = [
            {"customer_key": k, "added_at": utcnow(), "reason": reason, "added_by": actor}
            for k in dict.fromkeys(customer_keys)
            if k not in present
        ]
        if rows:
            with self.store.session() as s:
                s.execute(insert(DoNotDisturb), rows)
        return len(rows)


# -- policy versions with their audit entry --------------------------------------------------


class PolicyRegistry:
    """Stores a policy or catalogue version and its audit entry in one transaction."""

    def __init__(self, store: OperationalStore, trail: AuditTrail) -> None:
        self.store = store
        self.trail = trail
        self.policies = PolicyStore(store)

    def publish(
        self,
        policy_name: str,
        body: Mapping[str, Any],
        *,
        actor: str,
        reason: str,
        detail: Mapping[str, Any] | None = None,
    ) -> PolicyRecord:
        """Make ``body`` the active version of ``policy_name``, audited (author, time, reason).

        Either both the version and the audit entry are committed, or neither.
        """
        if not reason.strip():
            raise DecisionLogError(f"policy {policy_name}: a reason is required")
        with self.store.session() as s:
            record = self.policies.publish(policy_name, body, actor=actor, session=s)
            self.trail.append(
                "policy.publish",
                "policy",
                f"{policy_name}:v{record.version}",
                {"reason": reason, "checksum": record.checksum, **dict(detail or {})},
                actor=actor,
                session=s,
            )
        return record

    def active(self, policy_name: str) -> PolicyRecord | None:
        return self.policies.active(policy_name)

    def history(self, policy_name: str | None = None) -> list[PolicyRecord]:
        return policy_history(self.store, policy_name)


def policy_history(store: OperationalStore, policy_name: str | None = None) -> list[PolicyRecord]:
    """Every stored version, newest first per name (of one policy name, or of all)."""
    query = select(PolicyVersion).order_by(PolicyVersion.policy_name, PolicyVersion.version.desc())
    if policy_name is not None:
        query = query.where(PolicyVersion.policy_name == policy_name)
    with store.session(readonly=True) as s:
        return [PolicyRecord.from_row(r) for r in s.scalars(query)]
