"""Ingest one batch of bank exports into the warehouse and the PII vault, atomically.

Protocol (two stores, one outcome):

1. check every source file (encoding, delimiter, mapped columns) — nothing is written yet;
2. recover interrupted batches: a batch whose rows are in the warehouse is completed (its
   pending vault rows adopted), any other has its pending vault rows discarded;
3. skip the batch if a committed batch had the same checksum (source files + mapping);
4. ledger ``start``; then, chunk by chunk inside one warehouse transaction: vault
   ``put_many`` (pending rows tagged with the batch id) and warehouse appends (tables,
   quarantine, data-quality flags);
5. warehouse commit; then one operational-store transaction commits the vault rows, stores
   the match candidates and finishes the ledger entry with the counts.

A crash before 5's warehouse commit leaves nothing visible (step 2 discards the pending vault
rows later); a crash between the two commits is completed by step 2.

Counts per file and batch: ``read = loaded + flagged + rejected + queued + unchanged``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from nextbest.config import Settings
from nextbest.domain import identity
from nextbest.domain.schema import TABLES, VAULT_FIELDS, Table
from nextbest.errors import NextbestError
from nextbest.ingest.mapping import Mapping, load_mapping
from nextbest.ingest.problems import RULE_MESSAGES, ChunkProblems, masked_values
from nextbest.ingest.readers import (
    ROW_NUMBER,
    SourceFile,
    check_source,
    read_chunks,
    read_link,
    resolve_sources,
)
from nextbest.ingest.transform import LinkTable, TransformContext, transform_chunk
from nextbest.ingest.validate import BatchState, MatchPair, validate_chunk
from nextbest.opstore.consents import ConsentEvent, ConsentLedger
from nextbest.privacy.keys import KeyRing
from nextbest.privacy.masking import mask_array
from nextbest.privacy.pseudonym import pseudonymise
from nextbest.services.stores import Stores, open_stores
from nextbest.warehouse import BatchWriter

IDENTITY_FINGERPRINT = "identity_fingerprint"

__all__ = [
    "CRASH_AT_ENV",
    "CRASH_MARKER_ENV",
    "FileCounts",
    "IngestReport",
    "ProgressCallback",
    "ingest",
    "recover",
]

CRASH_AT_ENV = "NEXTBEST_CRASH_AT"
CRASH_MARKER_ENV = "NEXTBEST_CRASH_MARKER"
CRASH_POINTS = (
    "after_ledger_start",
    "after_vault_write",
    "mid_warehouse_write",
    "before_warehouse_commit",
    "after_warehouse_commit",
)

ProgressCallback = Callable[[str, int], None]  # (file, rows done in that file)

_TABLE_ORDER = {t.name: i for i, t in enumerate(TABLES)}


class IngestError(NextbestError):
    """Ingestion stopped; nothing of the batch is visible in either store."""


@dataclass
class FileCounts:
    """Row counts of one file; ``read = loaded + flagged + rejected + queued + unchanged``."""

    file: str
    entry: str
    target: str
    read: int = 0
    loaded: int = 0
    flagged: int = 0
    rejected: int = 0
    queued: int = 0
    unchanged: int = 0
    rejects_by_rule: dict[str, int] = field(default_factory=dict)
    flags_by_rule: dict[str, int] = field(default_factory=dict)

    def add(self, other: FileCounts) -> None:
        for name in ("read", "loaded", "flagged", "rejected", "queued", "unchanged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in (
            (self.rejects_by_rule, other.rejects_by_rule),
            (self.flags_by_rule, other.flags_by_rule),
        ):
            for rule, n in theirs.items():
                mine[rule] = mine.get(rule, 0) + n

    @property
    def balanced(self) -> bool:
        return self.read == (
            self.loaded + self.flagged + self.rejected + self.queued + self.unchanged
        )


@dataclass(frozen=True)
class IngestReport:
    """What one ``nextbest ingest`` did."""

    batch_id: str
    status: str  # committed | skipped (same checksum as a committed batch)
    checksum: str
    source: str
    mapping: str
    totals: FileCounts
    files: tuple[FileCounts, ...]
    match_candidates: int
    ignored_files: tuple[str, ...] = ()
    recovered: tuple[str, ...] = ()
    seconds: float = 0.0


# --- crash hook (tests only) ---------------------------------------------------------------


def _crash_point(name: str) -> None:
    # Test hook: a subprocess proves it reached ``name`` in the middle of a write by leaving
    # a marker file, then dies as hard as a power cut would leave it (SIGKILL, no cleanup).
    if os.environ.get(CRASH_AT_ENV) != name:
        return
    marker = os.environ.get(CRASH_MARKER_ENV)
    if marker:
        with open(marker, "w", encoding="utf-8") as fh:
            fh.write(name)
            fh.flush()
            os.fsync(fh.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


# --- lookups for validation ------------------------------------------------------------------


class _StoreLookups:
    def __init__(self, stores: Stores, writer: BatchWriter) -> None:
        self.stores = stores
        self.writer = writer

    def keys_present(self, table: str, column: str, values: pa.Array) -> np.ndarray:
        # The open batch's staged rows count (same DuckDB transaction).
        present = self.stores.warehouse.keys_present(table, column, values)
        return np.asarray(pc.fill_null(present, False).to_numpy(zero_copy_only=False), bool)

    def existing_matches(self, kind: str, values: Sequence[str]) -> dict[str, set[str]]:
        return self.stores.vault.existing_matches(kind, values)

    def tombstoned(self, customer_keys: Iterable[str]) -> set[str]:
        return set(self.stores.vault.tombstoned(customer_keys))


# --- checksum and batch id -------------------------------------------------------------------


def _checksum(mapping_digest: str, sources: Sequence[SourceFile]) -> str:
    h = hashlib.sha256(mapping_digest.encode())
    for src in sorted(sources, key=lambda s: s.display):
        file_hash = hashlib.sha256()
        with src.path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                file_hash.update(block)
        h.update(f"\n{src.display}\n{file_hash.hexdigest()}".encode())
    return h.hexdigest()


def _new_batch_id() -> str:
    # No digit runs longer than four, so identifier scans for 7+ digits never match an id.
    now = datetime.now(UTC)
    letters = uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "qrstuvwxyz"))
    return f"{now:%Y-%m-%dT%H-%M-%S}-{letters}"


# --- the batch -------------------------------------------------------------------------------


def ingest(
    settings: Settings,
    source: Path,
    mapping_path: Path,
    *,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Load the files under ``source`` described by the mapping at ``mapping_path``.

    Returns
    -------
    IngestReport
        Counts per file and in total; ``status`` is ``skipped`` when identical input was
        committed before.

    Raises
    ------
    NextbestError
        For a bad mapping or source file (before anything is written) or a failure while
        loading (after which nothing of the batch is visible).
    """
    started = datetime.now(UTC)
    mapping, mapping_digest = load_mapping(mapping_path)
    sources, ignored = resolve_sources(source, mapping)
    for src in sources:
        check_source(src)
    checksum = _checksum(mapping_digest, sources)

    with open_stores(settings) as stores:
        recovered = recover(stores)
        previous = stores.ledger.committed_with_checksum(checksum)
        if previous is not None:
            return IngestReport(
                batch_id=previous.batch_id,
                status="skipped",
                checksum=checksum,
                source=str(source),
                mapping=mapping.name,
                totals=FileCounts("(total)", "", ""),
                files=(),
                match_candidates=0,
                ignored_files=tuple(ignored),
                recovered=tuple(recovered),
            )
        batch_id = _new_batch_id()
        stores.ledger.start(batch_id, str(source), mapping.name, checksum)
        _crash_point("after_ledger_start")
        try:
            files, matches = _load(stores, mapping, sources, batch_id, progress)
        except BaseException as exc:
            _abandon(stores, batch_id, exc)
            raise
        totals = FileCounts("(total)", "", "")
        for f in files:
            totals.add(f)
        _crash_point("after_warehouse_commit")
        _finish(stores, batch_id, totals, files, matches)
    return IngestReport(
        batch_id=batch_id,
        status="committed",
        checksum=checksum,
        source=str(source),
        mapping=mapping.name,
        totals=totals,
        files=tuple(files),
        match_candidates=len(matches),
        ignored_files=tuple(ignored),
        recovered=tuple(recovered),
        seconds=(datetime.now(UTC) - started).total_seconds(),
    )


def _abandon(stores: Stores, batch_id: str, exc: BaseException) -> None:
    # The warehouse transaction has rolled back; remove the pending vault rows and say why.
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    try:
        stores.vault.discard_batch(batch_id)
        stores.ledger.mark(batch_id, "failed", message=reason[:500])
    except Exception:  # keep the original error; recovery cleans up on the next run
        pass


def _finish(
    stores: Stores,
    batch_id: str,
    totals: FileCounts,
    files: Sequence[FileCounts],
    matches: Sequence[MatchPair],
) -> None:
    from nextbest.opstore.batches import BatchCounts
    from nextbest.opstore.matches import MatchQueue, NewMatch

    counts = BatchCounts(
        rows_read=totals.read,
        rows_loaded=totals.loaded,
        rows_flagged=totals.flagged,
        rows_rejected=totals.rejected,
        rows_queued=totals.queued,
        files={
            "rows_unchanged": totals.unchanged,
            "files": [_file_detail(f) for f in files],
        },
    )
    candidates = [
        NewMatch(
            incoming_customer_key=m.incoming_customer_key,
            existing_customer_key=m.existing_customer_key,
            matched_on=m.matched_on,
            score=1.0,
        )
        for m in dict.fromkeys(matches)
    ]
    with stores.opstore.session() as session:
        stores.vault.commit_batch(batch_id, session=session)
        _record_consents(stores, batch_id, session)
        MatchQueue(stores.opstore).add_many(batch_id, candidates, session=session)
        stores.ledger.finish(batch_id, counts, session=session)


_CONSENT_CHUNK = 100_000


def _record_consents(stores: Stores, batch_id: str, session: Session) -> None:
    """Copy the batch's consent rows to the operational store's ledger (their system of
    record), inside ``session``; chunk by chunk, so memory does not grow with the batch."""
    wh = stores.warehouse
    consent = wh.table("consent")
    expr = consent.filter(consent._batch_id == batch_id).select(
        "customer_key", "purpose", "channel", "status", "event_time", "source"
    )
    ledger = ConsentLedger(stores.opstore)
    for chunk in wh.backend.to_pyarrow_batches(expr, chunk_size=_CONSENT_CHUNK):
        events = [
            ConsentEvent(
                customer_key=r["customer_key"],
                purpose=r["purpose"],
                channel=r["channel"],
                status=r["status"],
                event_time=r["event_time"],
                source=r["source"] or "ingest",
            )
            for r in chunk.to_pylist()
        ]
        ledger.record(events, batch_id=batch_id, session=session)


def _file_detail(f: FileCounts) -> dict[str, Any]:
    return {
        "file": f.file,
        "entry": f.entry,
        "target": f.target,
        "read": f.read,
        "loaded": f.loaded,
        "flagged": f.flagged,
        "rejected": f.rejected,
        "queued": f.queued,
        "unchanged": f.unchanged,
        "rejects_by_rule": f.rejects_by_rule,
        "flags_by_rule": f.flags_by_rule,
    }


def _load(
    stores: Stores,
    mapping: Mapping,
    sources: Sequence[SourceFile],
    batch_id: str,
    progress: ProgressCallback | None,
) -> tuple[list[FileCounts], list[MatchPair]]:
    settings = stores.settings
    links = {
        src.spec.name: LinkTable.from_dict(read_link(src, settings.ingest_chunk_rows))
        for src in sources
        if src.spec.name in {link.name for link in mapping.links}
    }
    ctx = TransformContext(
        mapping=mapping,
        keyring=stores.keyring,
        timezone=mapping.timezone or settings.timezone,
        currency=settings.currency,
        links=links,
    )
    files = sorted(
        (s for s in sources if s.spec.name not in links),
        key=lambda s: (_TABLE_ORDER[s.spec.target], s.display),  # type: ignore[union-attr]
    )
    state = BatchState()
    results: list[FileCounts] = []
    vault_written = False
    # Rows staged by this batch never need the known-hash probe: an identical row has the
    # same key, and validation already rejected it as a duplicate key. So a table that was
    # empty when the batch began (a first load) skips the probe, whose cost grows with
    # the rows staged so far.
    state.empty_tables = {name for name, rows in stores.warehouse.row_counts().items() if rows == 0}
    with stores.warehouse.batch(batch_id) as writer:
        lookups = _StoreLookups(stores, writer)
        for src in files:
            spec = src.spec
            # Files come grouped by table, so the keys of the tables already done can go.
            for done in set(state.keys) - {spec.target}:  # type: ignore[union-attr]
                del state.keys[done]
            counts = FileCounts(src.display, spec.name, spec.target)  # type: ignore[union-attr]
            for chunk in read_chunks(src, settings.ingest_chunk_rows):
                canonical, problems = transform_chunk(chunk.data, spec, ctx)  # type: ignore[arg-type]
                first_match = len(state.matches)
                validate_chunk(canonical, problems, spec, mapping, lookups, state)  # type: ignore[arg-type]
                wrote_vault = _store_chunk(
                    stores, writer, src, canonical, problems, counts, state, first_match, batch_id
                )
                if wrote_vault and not vault_written:
                    vault_written = True
                    _crash_point("after_vault_write")
                _crash_point("mid_warehouse_write")
                if progress is not None:
                    progress(src.display, counts.read)
            results.append(counts)
        _crash_point("before_warehouse_commit")
    return results, state.matches


def _store_chunk(
    stores: Stores,
    writer: BatchWriter,
    src: SourceFile,
    canonical: pa.Table,
    problems: ChunkProblems,
    counts: FileCounts,
    state: BatchState,
    first_match: int,
    batch_id: str,
) -> bool:
    table = src.spec.table  # type: ignore[union-attr]
    outcome = problems.outcomes()
    n = canonical.num_rows
    stored_idx = np.flatnonzero(outcome.stored)
    stored = canonical.take(pa.array(stored_idx, pa.int64()))
    # Invalid direct identifiers that were only flagged are dropped, not stored.
    dropped = {
        col: problems.failing(col)[stored_idx] for col in VAULT_FIELDS if col in table.column_index
    }
    frame = _warehouse_frame(stored, table, dropped, stores.keyring)
    unchanged = np.zeros(len(stored_idx), dtype=bool)
    hashes = None
    if len(stored_idx):
        hashes = writer.row_hashes(table.name, frame)
    if len(stored_idx) and table.name not in state.empty_tables:
        unchanged = np.asarray(
            pc.fill_null(writer.known_hashes(table.name, hashes), False).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
    new_rows = np.flatnonzero(~unchanged)
    fresh = np.zeros(n, dtype=bool)
    fresh[stored_idx[new_rows]] = True

    if unchanged.any():
        # An identical row was loaded before: its match candidates were raised then.
        same = (
            set(stored.column("customer_key").take(pa.array(np.flatnonzero(unchanged))).to_pylist())
            if "customer_key" in stored.column_names
            else set()
        )
        state.matches[first_match:] = [
            m for m in state.matches[first_match:] if m.incoming_customer_key not in same
        ]

    wrote_vault = False
    if table.name == "customer" and len(new_rows):
        wrote_vault = _write_vault(
            stores, stored.take(pa.array(new_rows)), dropped, new_rows, batch_id
        )
    if len(new_rows):
        keep = pa.array(new_rows)
        # The hashes were computed for the known-hash check; appending reuses them.
        writer.append(
            table.name, frame.take(keep), hashes=hashes.take(keep) if hashes is not None else None
        )

    _write_problems(writer, src, table, canonical, problems, outcome.rejected, fresh, counts)

    counts.read += n
    counts.rejected += int(outcome.rejected.sum())
    counts.unchanged += int(unchanged.sum())
    counts.queued += int((outcome.queued & fresh).sum())
    counts.flagged += int((outcome.flagged & fresh).sum())
    counts.loaded += int((fresh & ~outcome.queued & ~outcome.flagged).sum())
    return wrote_vault


def _warehouse_frame(
    stored: pa.Table, table: Table, dropped: dict[str, np.ndarray], keyring: KeyRing
) -> pa.Table:
    arrays: list[pa.Array] = []
    names: list[str] = []
    kept: list[pa.Array] = []
    for col in table.columns:
        if col.name == IDENTITY_FINGERPRINT:
            continue  # computed below from the identifiers themselves
        values = stored.column(col.name).combine_chunks()
        if col.stored_in == "vault":
            keep = pa.array(~dropped[col.name]) if col.name in dropped else None
            if keep is not None:
                values = pc.if_else(keep, values, pa.scalar(None, pa.string()))
            if col.name == "mobile":
                values = identity.normalise_mobiles(values)
            kept.append(values)
            arrays.append(mask_array(col.name, values))  # type: ignore[arg-type]
            names.append(col.masked_name)
        else:
            arrays.append(values)
            names.append(col.name)
    if kept and IDENTITY_FINGERPRINT in table.column_index:
        # The masked forms hide most of an identifier, so a changed mobile or ID number could
        # look unchanged; a keyed digest of the full values makes the change a new version.
        arrays.append(_identity_fingerprints(kept, keyring))
        names.append(IDENTITY_FINGERPRINT)
    return pa.Table.from_arrays(arrays, names=names)


def _identity_fingerprints(values: list[pa.Array], keyring: KeyRing) -> pa.Array:
    """Keyed digest of each row's identifiers (null when the row has none)."""
    parts = [pc.fill_null(pc.cast(v, pa.string()), "\x00") for v in values]
    joined = pc.binary_join_element_wise(*parts, "\x1f")
    present = pc.is_valid(values[0])
    for v in values[1:]:
        present = pc.or_(present, pc.is_valid(v))
    digest = pseudonymise(keyring, "identity", joined)
    return pc.if_else(present, digest, pa.scalar(None, pa.string()))


def _write_vault(
    stores: Stores,
    rows: pa.Table,
    dropped: dict[str, np.ndarray],
    positions: np.ndarray,
    batch_id: str,
) -> bool:
    from nextbest.opstore.vault import VaultRecord

    def column(name: str) -> list[Any]:
        if name not in rows.column_names:
            return [None] * rows.num_rows
        values = rows.column(name).combine_chunks()
        if name == "mobile":
            values = identity.normalise_mobiles(values)
        out = values.to_pylist()
        if name in dropped:
            bad = dropped[name][positions]
            out = [None if b else v for v, b in zip(out, bad, strict=True)]
        return out

    keys = rows.column("customer_key").to_pylist()
    cols = {name: column(name) for name in ("name", "id_type", "id_number", "mobile", "email")}
    records = []
    for i, key in enumerate(keys):
        values = {name: cols[name][i] for name in cols}
        if all(values[f] is None for f in VAULT_FIELDS):
            continue
        records.append(VaultRecord(customer_key=key, **values))
    if records:
        stores.vault.put_many(records, batch_id)
    return bool(records)


def _write_problems(
    writer: BatchWriter,
    src: SourceFile,
    table: Table,
    canonical: pa.Table,
    problems: ChunkProblems,
    rejected: np.ndarray,
    fresh: np.ndarray,
    counts: FileCounts,
) -> None:
    rows = canonical.column(ROW_NUMBER).combine_chunks()
    key_text = _record_keys(canonical, table)
    quarantine: list[pa.Table] = []
    flags: list[pa.Table] = []
    for s in problems.sets:
        if s.outcome == "reject":
            positions = s.positions
        elif s.outcome == "flag":
            positions = s.positions[fresh[s.positions] & ~rejected[s.positions]]
        else:
            continue
        if positions.size == 0:
            continue
        keep = np.isin(s.positions, positions)
        values = masked_values(table, s.field, s.values.filter(pa.array(keep)))
        idx = pa.array(positions)
        common = {
            "source_file": pa.array([src.display] * positions.size, pa.string()),
            "row_number": pc.take(rows, idx),
            "target_table": pa.array([table.name] * positions.size, pa.string()),
            "field": pa.array([s.field] * positions.size, pa.string()),
            "rule": pa.array([s.rule] * positions.size, pa.string()),
            "value_masked": values,
        }
        if s.outcome == "reject":
            common["outcome"] = pa.array(["reject"] * positions.size, pa.string())
            common["message"] = pa.array([RULE_MESSAGES[s.rule]] * positions.size, pa.string())
            quarantine.append(pa.table(common))
            counts.rejects_by_rule[s.rule] = counts.rejects_by_rule.get(s.rule, 0) + int(
                positions.size
            )
        else:
            common["record_key"] = pc.take(key_text, idx)
            flags.append(pa.table(common))
            counts.flags_by_rule[s.rule] = counts.flags_by_rule.get(s.rule, 0) + int(positions.size)
    if quarantine:
        writer.append("quarantine", pa.concat_tables(quarantine))
    if flags:
        writer.append("dq_flag", pa.concat_tables(flags))


def _record_keys(canonical: pa.Table, table: Table) -> pa.Array:
    parts = [pc.cast(canonical.column(k), pa.string()) for k in table.key]
    if len(parts) == 1:
        return parts[0].combine_chunks()
    return pc.binary_join_element_wise(*parts, "|").combine_chunks()


# --- recovery --------------------------------------------------------------------------------


def recover(stores: Stores) -> list[str]:
    """Complete or discard batches an earlier run left unfinished; return what was done."""
    done: list[str] = []
    unfinished = {b.batch_id for b in stores.ledger.unfinished()}
    pending = set(stores.vault.pending_batch_ids())
    for batch_id in sorted(unfinished | pending):
        if stores.warehouse.has_batch(batch_id):
            _adopt(stores, batch_id, in_ledger=batch_id in unfinished)
            done.append(f"{batch_id}: completed (warehouse part was committed)")
        else:
            stores.vault.discard_batch(batch_id)
            if batch_id in unfinished:
                stores.ledger.mark(batch_id, "discarded", message="interrupted; rolled back")
            done.append(f"{batch_id}: discarded (interrupted before the warehouse commit)")
    return done


def _adopt(stores: Stores, batch_id: str, *, in_ledger: bool) -> None:
    from nextbest.opstore.batches import BatchCounts

    wh = stores.warehouse
    loaded = 0
    for t in TABLES:
        tab = wh.table(t.name)
        loaded += int(wh.to_arrow(tab.filter(tab._batch_id == batch_id).count()).as_py())  # type: ignore[attr-defined]
    q = wh.table("quarantine")
    rejected_rows = q.filter(q.batch_id == batch_id).select("source_file", "row_number").distinct()
    rejected = int(wh.to_arrow(rejected_rows.count()).as_py())  # type: ignore[attr-defined]
    # The ledger's finish and the consents commit together: an unfinished ledger entry means
    # the batch's consents are not in the ledger yet.
    with stores.opstore.session() as session:
        stores.vault.commit_batch(batch_id, session=session)
        if in_ledger:
            _record_consents(stores, batch_id, session)
            stores.ledger.finish(
                batch_id,
                BatchCounts(
                    rows_read=loaded + rejected,
                    rows_loaded=loaded,
                    rows_rejected=rejected,
                    files={"recovered": True},
                ),
                message="completed by recovery after an interruption; flagged and queued "
                "rows are counted as loaded",
                session=session,
            )
