"""Next-best-offer decisions for the whole bank (batch) and for one customer (real time).

Batch (:func:`run_batch`): build the customer context (from the latest feature snapshot when
the warehouse has one, else the seeded synthetic generator), read the operational inputs
(consents, contact counters, do-not-disturb, cool-downs) in bulk from the operational store,
decide with the active policy and catalogue, and write the decisions as Parquet under
``$NEXTBEST_HOME/decisions/<run id>/`` (Parquet because the warehouse writer only takes the
modelled tables). The run also materialises the context as the *serving snapshot* and
switches ``decisions/CURRENT`` to it.

Real time (:class:`DecisionService`): the serving snapshot is loaded into memory (never the
warehouse file) and swapped when ``CURRENT`` points at a newer run; ``decide_one`` reads the
customer's live operational inputs, decides, reserves contact capacity with a conditional
update that cannot exceed a cap, and records the decision with everything needed to replay
it, in one transaction.
"""

from __future__ import annotations

import gc
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nextbest.config import Settings
from nextbest.decide.assignment import key_hashes, unit_draws
from nextbest.decide.contact_policy import applicable_caps, period_start
from nextbest.decide.context import CustomerContext, synthetic_context
from nextbest.decide.engine import BatchDecisions, Decision, DecisionEngine
from nextbest.decide.errors import DecisionError
from nextbest.decide.inputs import ABSENT, GRANTED, WITHDRAWN, OperationalInputs
from nextbest.decide.offers import OfferCatalogue, load_catalogue, parse_catalogue
from nextbest.decide.policies import DecisionPolicy, load_policy, parse_policy
from nextbest.decide.realtime import CompiledRules, LiveInputs
from nextbest.decide.sources import (
    context_from_features,
    record_from_json,
    synthetic_inputs,
    with_model_propensity,
)
from nextbest.decide.suitability import REGULATORY_FLOOR
from nextbest.decide.tables import BATCH_DECISION, inputs_json, with_inputs
from nextbest.opstore.audit import AuditTrail
from nextbest.opstore.decisions import (
    CapClaim,
    ContactCounters,
    DecisionLog,
    DoNotDisturbList,
    PolicyRegistry,
    RealtimeWriter,
    StoredDecision,
    effective_consents,
    new_decision_id,
    policy_history,
)
from nextbest.opstore.policies import PolicyStore
from nextbest.opstore.store import OperationalStore
from nextbest.privacy.keys import KeyRing

if TYPE_CHECKING:
    from nextbest.warehouse import Warehouse

__all__ = [
    "CATALOGUE_NAME",
    "POLICY_NAME",
    "BatchRunReport",
    "DecisionService",
    "LoadedVersion",
    "RealTimeDecision",
    "active_rules",
    "batch_inputs",
    "load_rules_file",
    "run_batch",
    "warehouse_decisions",
]

POLICY_NAME = "decision_policy"
CATALOGUE_NAME = "offer_catalogue"
ProgressCallback = Callable[[str], None]


# -- rules: the active policy and catalogue --------------------------------------------------


def active_rules(opstore: OperationalStore) -> tuple[DecisionPolicy, OfferCatalogue]:
    """The active policy and catalogue in the operational store (shipped defaults if none)."""
    store = PolicyStore(opstore)
    policy_row = store.active(POLICY_NAME)
    catalogue_row = store.active(CATALOGUE_NAME)
    policy = load_policy() if policy_row is None else parse_policy(policy_row.body, POLICY_NAME)
    catalogue = (
        load_catalogue()
        if catalogue_row is None
        else parse_catalogue(catalogue_row.body, CATALOGUE_NAME)
    )
    return policy, catalogue


def rules_of_versions(
    opstore: OperationalStore, policy_version: str, catalogue_version: str
) -> tuple[DecisionPolicy, OfferCatalogue]:
    """The policy and catalogue a decision names (stored versions, or the shipped ones).

    Raises
    ------
    DecisionError
        When either version is neither stored nor shipped.
    """
    policies = {p.version: p for p in [load_policy()]}
    catalogues = {c.version: c for c in [load_catalogue()]}
    for row in policy_history(opstore):
        if row.policy_name == POLICY_NAME and row.checksum[:16] not in policies:
            policies[row.checksum[:16]] = parse_policy(row.body, POLICY_NAME)
        if row.policy_name == CATALOGUE_NAME and row.checksum[:16] not in catalogues:
            catalogues[row.checksum[:16]] = parse_catalogue(row.body, CATALOGUE_NAME)
    if policy_version not in policies:
        raise DecisionError(f"replay: policy version {policy_version} is not stored")
    if catalogue_version not in catalogues:
        raise DecisionError(f"replay: catalogue version {catalogue_version} is not stored")
    return policies[policy_version], catalogues[catalogue_version]


@dataclass(frozen=True)
class LoadedVersion:
    """What ``nextbest policies load`` stored."""

    kind: str
    name: str
    version: int
    content_version: str
    author: str
    reason: str
    created_at: datetime


def load_rules_file(
    opstore: OperationalStore, keyring: KeyRing, path: Path, *, actor: str, reason: str
) -> LoadedVersion:
    """Validate a policy or catalogue YAML (a catalogue has ``offers``) and store it, audited.

    Raises
    ------
    DecisionError
        Naming the file, section, rule and problem when the document is invalid; or a
        catalogue whose offers name a pricing rule the active policy lacks.
    """
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DecisionError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise DecisionError(f"{path}: expected a mapping")
    policy, catalogue = active_rules(opstore)
    if "offers" in data:
        catalogue = parse_catalogue(data, str(path))
        kind, name, body, version = "catalogue", CATALOGUE_NAME, catalogue.body(), catalogue.version
    else:
        policy = parse_policy(data, str(path))
        kind, name, body, version = "policy", POLICY_NAME, policy.body(), policy.version
    DecisionEngine(policy, catalogue)  # checks the pair fits together
    for offer in catalogue:
        if offer.price is not None:
            policy.pricing_rule(offer.price.rule)
    registry = PolicyRegistry(opstore, AuditTrail(opstore, keyring))
    record = registry.publish(
        name, body, actor=actor, reason=reason, detail={"kind": kind, "version": version}
    )
    return LoadedVersion(kind, name, record.version, version, actor, reason, record.created_at)


# -- operational inputs ------------------------------------------------------------------------


def _member(keys: pa.Array, members: Sequence[str]) -> np.ndarray:
    if not members:
        return np.zeros(len(keys), bool)
    return pc.is_in(keys, value_set=pa.array(list(members), pa.string())).to_numpy(
        zero_copy_only=False
    )


def _lookup(keys: pa.Array, values: Mapping[str, Any], default: Any, dtype: Any) -> np.ndarray:
    out = np.full(len(keys), default, dtype)
    if values:
        idx = pc.index_in(keys, value_set=pa.array(list(values), pa.string()))
        found = idx.is_valid().to_numpy(zero_copy_only=False)
        table = np.array(list(values.values()), dtype)
        out[found] = table[idx.drop_null().to_numpy()]
    return out


def batch_inputs(
    opstore: OperationalStore,
    keys: pa.Array,
    policy: DecisionPolicy,
    catalogue: OfferCatalogue,
    at: datetime,
    timezone: str,
    *,
    base: OperationalInputs | None = None,
    all_customers: bool = True,
) -> OperationalInputs:
    """Operational inputs of ``keys`` from the operational store, aligned with them.

    ``all_customers`` reads whole tables once (a batch run) instead of IN-lists. ``base``
    (synthetic customers' seeded state) is overlaid: a stored consent event, counter,
    do-not-disturb entry or rejection replaces or adds to it.
    """
    keys = pc.cast(keys, pa.string())
    wanted = None if all_customers else keys.to_pylist()
    local = at.astimezone(ZoneInfo(timezone))
    n = len(keys)
    channels = sorted({o.channel.value for o in catalogue})
    stored = effective_consents(opstore, wanted, channels)
    consent: dict[tuple[str, str], np.ndarray] = {}
    codes = {"granted": GRANTED, "withdrawn": WITHDRAWN}
    for purpose in ("marketing", "service"):
        for channel in channels:
            state = (
                base.consent_state(purpose, channel).copy()
                if base is not None
                else np.full(n, ABSENT, np.int8)
            )
            events = {k: codes[v] for k, v in stored.get((purpose, channel), {}).items()}
            found = _lookup(keys, events, -2, np.int8)
            state[found != -2] = found[found != -2]
            consent[(purpose, channel)] = state
    counters = ContactCounters(opstore)
    counts: dict[str, np.ndarray] = {}
    for cap in policy.spec.contact.caps:
        bucket = period_start(cap.period, local)
        stored_counts = counters.counts(wanted, cap.scope, cap.period, bucket)
        value = _lookup(keys, stored_counts, -1, np.int64)
        prior = base.count(cap.name) if base is not None else np.zeros(n, np.int64)
        counts[cap.name] = np.where(value >= 0, value, prior)
    dnd = _member(keys, sorted(DoNotDisturbList(opstore).listed(wanted)))
    if base is not None:
        dnd |= base.dnd()
    since = at - timedelta(days=policy.spec.contact.cooldown_days_after_reject)
    rejected = DecisionLog(opstore).rejected_products(wanted, since)
    cooldown: dict[str, np.ndarray] = {}
    for product in sorted({o.product_id for o in catalogue}):
        who = [k for k, products in rejected.items() if product in products]
        mask = _member(keys, who)
        if base is not None:
            mask |= base.cooling(product)
        cooldown[product] = mask
    return OperationalInputs(n, consent, counts, dnd, cooldown)


# -- batch -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchRunReport:
    """Summary of one batch run (``nextbest decide batch``)."""

    run_id: str
    decided_at: datetime
    as_of: date | None
    context_source: str
    customers: int
    offers: int
    with_offer: int
    by_offer: dict[str, int]
    by_channel: dict[str, int]
    removed_by: dict[str, int]
    method: str
    versions: dict[str, str]
    path: Path
    serving_snapshot: Path
    value_greedy: float | None = None
    value_optimised: float | None = None
    gain_over_greedy: float | None = None
    violations: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)
    warehouse_rows: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)


def _decisions_dir(settings: Settings) -> Path:
    return settings.home / "decisions"


def build_context(
    settings: Settings,
    catalogue: OfferCatalogue,
    *,
    as_of: date | None = None,
    synthetic_customers: int = 10_000,
    seed: int = 0,
) -> tuple[CustomerContext, str, date | None]:
    """The context from the warehouse's feature snapshot (latest or ``as_of``) if any, else
    from the seeded synthetic generator. Returns (context, source, as-of date)."""
    features: pa.Table | None = None
    default_probability: pa.Table | None = None
    if settings.warehouse_file.exists():
        from nextbest.services.understanding import latest_as_of
        from nextbest.warehouse import open_warehouse

        with open_warehouse(settings, read_only=True) as wh:
            if "feature_snapshot" in wh.row_counts() and wh.row_counts()["feature_snapshot"]:
                day = as_of or latest_as_of(wh)
                t = wh.current("feature_snapshot")
                if day is not None:
                    features = wh.to_arrow(t.filter(t.as_of_date == day))
                    default_probability = _default_probability(wh, day)
                    as_of = day
    if features is not None and features.num_rows:
        version = f"feature_snapshot:{as_of}"
        context = context_from_features(features, catalogue.ids, snapshot_version=version,
                                        default_probability=default_probability)  # fmt: skip
        return _model_scores(settings, context, catalogue, as_of), "snapshot", as_of
    context = synthetic_context(
        synthetic_customers, catalogue.ids, seed=seed, as_of=as_of or date(2026, 6, 1)
    )
    return context, "synthetic", as_of


def _default_probability(wh: Warehouse, day: date) -> pa.Table:
    """``customer_key, probability_of_default`` of the customer value table on ``day``: the
    champion credit scorecard's PD if one was registered when it was computed, else the
    segment default rate (no rows when no value was computed that day)."""
    t = wh.current("customer_clv")
    return wh.to_arrow(
        t.filter(t.as_of_date == day).select("customer_key", "probability_of_default")
    )


def _model_scores(
    settings: Settings, context: CustomerContext, catalogue: OfferCatalogue, as_of: date | None
) -> CustomerContext:
    """The registered propensity model's scores in place of seeded ones, if there is one.

    Without a registered ``propensity`` model the seeded propensities stay and the context's
    ``model_version`` says ``seeded:...`` (recorded with every decision, shown by
    ``nextbest decide one``). Value per offer stays seeded (no value model yet); PD comes
    from the customer value table (:func:`_default_probability`).
    """
    from nextbest.services.modelling import PROPENSITY_MODEL, model_registry, score_propensity

    if not model_registry(settings).entries(PROPENSITY_MODEL):
        return context
    scored = score_propensity(settings, as_of=as_of)
    scores = pa.Table.from_pandas(scored.scores, preserve_index=False)
    updated, _ = with_model_propensity(
        context, catalogue, scores, f"{PROPENSITY_MODEL}:{scored.version}"
    )
    return updated


def _decision_table(
    run_id: str, decided: BatchDecisions, catalogue: OfferCatalogue, at: datetime
) -> pa.Table:
    winner = decided.winner
    has = winner >= 0
    ids = np.array((*catalogue.ids, ""), dtype=object)
    channels = np.array([o.channel.value for o in catalogue] + [""], dtype=object)
    campaigns = np.array([o.campaign_id for o in catalogue] + [""], dtype=object)
    pick = np.where(has, winner, len(catalogue))
    rows = np.arange(len(winner))
    priority = np.where(has, decided.priority[rows, np.maximum(winner, 0)], np.nan)
    n = len(winner)
    return pa.table(
        {
            "run_id": pa.array([run_id] * n),
            "customer_key": pc.cast(decided.customer_keys, pa.string()),
            "offer_id": pa.array(ids[pick], pa.string(), mask=~has),
            "channel": pa.array(channels[pick], pa.string(), mask=~has),
            "campaign_id": pa.array(campaigns[pick], pa.string(), mask=~has),
            "priority": pa.array(priority, mask=~has),
            "price": pa.array(decided.price, from_pandas=True),
            "method": pa.array([decided.method] * n),
            "decided_at": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
            **{f"{k}_version": pa.array([v] * n) for k, v in sorted(decided.versions.items())},
        }
    )


def _write_warehouse(
    settings: Settings,
    run_id: str,
    table: pa.Table,
    decided: BatchDecisions,
    engine: DecisionEngine,
    context: CustomerContext,
    inputs: OperationalInputs,
    as_of: date | None,
    at: datetime,
) -> int:
    """Append the run's ``batch_decision`` rows as one warehouse batch (``run_id``)."""
    from nextbest.warehouse import open_warehouse

    catalogue = engine.catalogue
    channels = sorted({o.channel.value for o in catalogue})
    consent_keys = [(p, c) for p in ("marketing", "service") for c in channels]
    cap_names = [c.name for c in engine.policy.spec.contact.caps]
    products = sorted({o.product_id for o in catalogue})
    rows = with_inputs(
        table,
        product_ids=[o.product_id for o in catalogue],
        as_of=as_of,
        versions=decided.versions,
        removed=decided.removed_offers(engine.position),
        in_holdout=(
            decided.in_holdout if decided.in_holdout is not None else np.zeros(len(table), bool)
        ),
        attributes=context.attributes,
        inputs_text=inputs_json(inputs, consent_keys, cap_names, products),
        dnd=inputs.dnd(),
        offer_index=decided.winner,
        decided_at=at,
    )
    with open_warehouse(settings) as wh, wh.batch(run_id, loaded_at=at) as writer:
        return writer.append(BATCH_DECISION.name, rows)


def warehouse_decisions(
    settings: Settings,
    *,
    run_id: str | None = None,
    customer_key: str | None = None,
    offer_id: str | None = None,
    limit: int | None = None,
) -> pa.Table:
    """Batch decisions from the warehouse (``batch_decision``): one run (default: the
    newest), optionally one customer or one offer."""
    from nextbest.warehouse import open_warehouse

    with open_warehouse(settings, read_only=True) as wh:
        t = wh.table(BATCH_DECISION.name)
        if run_id is None:
            newest = wh.to_arrow(t.aggregate(run=t.run_id.max()))["run"][0].as_py()
            if newest is None:
                return wh.to_arrow(t.limit(0))
            run_id = str(newest)
        t = t.filter(t.run_id == run_id)
        if customer_key is not None:
            t = t.filter(t.customer_key == customer_key)
        if offer_id is not None:
            t = t.filter(t.offer_id == offer_id)
        t = t.order_by("customer_key")
        return wh.to_arrow(t if limit is None else t.limit(limit))


def run_batch(
    settings: Settings,
    *,
    as_of: date | None = None,
    at: datetime | None = None,
    synthetic_customers: int = 10_000,
    seed: int = 0,
    optimise: bool = True,
    sample_size: int = 50_000,
    progress: ProgressCallback | None = None,
    to_warehouse: bool = True,
    context: CustomerContext | None = None,
) -> BatchRunReport:
    """Decide for every customer and write the decisions and the serving snapshot.

    ``context`` decides for a given context (e.g. a resampled snapshot in a benchmark)
    instead of building one; its customers get seeded operational inputs like synthetic ones.
    With ``to_warehouse`` the decisions also go to the warehouse table ``batch_decision``
    (one batch named by the run id, committed whole), each row with its versions and the
    operational inputs it read.
    """
    from nextbest.opstore.store import open_opstore

    note = progress or (lambda _name: None)
    at = at or datetime.now(UTC)
    seconds: dict[str, float] = {}
    cpu_seconds: dict[str, float] = {}
    clock, cpu = time.perf_counter(), time.process_time()

    def lap(name: str) -> None:
        nonlocal clock, cpu
        now, now_cpu = time.perf_counter(), time.process_time()
        seconds[name] = round(now - clock, 3)
        cpu_seconds[name] = round(now_cpu - cpu, 3)  # all threads of this process
        clock, cpu = now, now_cpu

    opstore = open_opstore(settings)
    try:
        note("rules")
        policy, catalogue = active_rules(opstore)
        engine = DecisionEngine(policy, catalogue, settings.timezone)
        note("context")
        if context is None:
            context, source, as_of = build_context(
                settings,
                catalogue,
                as_of=as_of,
                synthetic_customers=synthetic_customers,
                seed=seed,
            )
        else:
            source = "given"
        lap("context")
        note("operational inputs")
        keys = context.attributes["customer_key"]
        base = (
            synthetic_inputs(context.customer_keys, policy, catalogue, f"inputs-{seed}")
            if source in ("synthetic", "given")
            else None
        )
        inputs = batch_inputs(opstore, keys, policy, catalogue, at, settings.timezone, base=base)
        lap("inputs")
    finally:
        opstore.dispose()
    note("decide")
    decided = engine.decide_batch(
        context, inputs, at, optimise=optimise, sample_size=sample_size, seed=seed
    )
    lap("decide")
    note("write")
    run_id = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    warehouse_rows = 0
    root = _decisions_dir(settings)
    tmp_dir = root / f".{run_id}.tmp"
    tmp_dir.mkdir(parents=True)
    table = _decision_table(run_id, decided, catalogue, at)
    if to_warehouse:
        note("warehouse")
        warehouse_rows = _write_warehouse(
            settings, run_id, table, decided, engine, context, inputs, as_of, at
        )
        lap("warehouse")
    pq.write_table(table, tmp_dir / "decisions.parquet")
    pq.write_table(context.to_table(), tmp_dir / "context.parquet")
    # the static (eligibility/suitability/floor) codes of the run's bank day: rules are
    # checked static-first, so they are the codes up to the regulatory floor's position
    static_day = at.astimezone(engine.tz).date()
    last_static = engine.position[REGULATORY_FLOOR]
    np.save(tmp_dir / "static_codes.npy", np.where(decided.codes <= last_static, decided.codes, 0))
    meta = {
        "run_id": run_id,
        "as_of": None if as_of is None else as_of.isoformat(),
        "snapshot_version": context.snapshot_version,
        "model_version": context.model_version,
        "policy_version": policy.version,
        "catalogue_version": catalogue.version,
        "static_codes_day": static_day.isoformat(),
    }
    (tmp_dir / "run.json").write_text(json.dumps(meta, indent=2))
    final = root / run_id
    os.replace(tmp_dir, final)  # the run appears whole or not at all
    pointer_tmp = root / f".CURRENT.{secrets.token_hex(4)}"
    pointer_tmp.write_text(json.dumps(meta))
    os.replace(pointer_tmp, root / "CURRENT")
    lap("write")
    winner = decided.winner
    counts = np.bincount(winner[winner >= 0], minlength=len(catalogue))
    by_offer = {catalogue.ids[j]: int(c) for j, c in enumerate(counts) if c}
    by_channel: dict[str, int] = {}
    for j, c in enumerate(counts):
        ch = catalogue.offers[j].channel.value
        by_channel[ch] = by_channel.get(ch, 0) + int(c)
    code_counts = np.bincount(decided.codes.ravel(), minlength=len(engine.legend.codes))
    removed_by = {engine.legend.codes[i]: int(c) for i, c in enumerate(code_counts) if i and c}
    report = decided.optimisation
    return BatchRunReport(
        run_id=run_id,
        decided_at=at,
        as_of=as_of,
        context_source=source,
        customers=len(context),
        offers=len(catalogue),
        with_offer=int((winner >= 0).sum()),
        by_offer=by_offer,
        by_channel={k: v for k, v in by_channel.items() if v},
        removed_by=removed_by,
        method=decided.method,
        versions=dict(decided.versions),
        path=final / "decisions.parquet",
        serving_snapshot=final / "context.parquet",
        value_greedy=None if report is None else round(report.value_greedy, 2),
        value_optimised=None if report is None else round(report.value_optimised, 2),
        gain_over_greedy=None if report is None else round(report.gain_over_greedy, 6),
        violations=() if report is None else report.violations,
        seconds=seconds,
        warehouse_rows=warehouse_rows,
        cpu_seconds=cpu_seconds,
    )


# -- real time -------------------------------------------------------------------------------


class ServingSnapshot:
    """One batch run's customer context held in memory, read-only, ready to serve.

    Everything a real-time decision needs that does not change within a bank day is
    computed once here: the row of each customer key, propensity × value per offer, the
    holdout and control-group draws, a fast row reader for the attributes, and (per bank
    day, in bulk) the eligibility/suitability codes.
    """

    def __init__(self, run_dir: Path, meta: Mapping[str, Any], engine: DecisionEngine) -> None:
        table = pq.read_table(run_dir / "context.parquet")
        self.run_id = str(meta["run_id"])
        self.engine = engine
        self.context = CustomerContext.from_table(
            table,
            engine.catalogue.ids,
            snapshot_version=str(meta["snapshot_version"]),
            model_version=str(meta["model_version"]),
        )
        keys = self.context.customer_keys
        self.rows = {k: i for i, k in enumerate(keys)}
        self.base = self.context.propensity * self.context.value
        self.read_record = self.context.row_reader()
        spec = engine.policy.spec
        hashes = key_hashes(keys)
        self.in_holdout = unit_draws(hashes, spec.holdout.seed) < spec.holdout.fraction
        self.in_control = {
            c.campaign: unit_draws(hashes, c.seed) < c.fraction for c in spec.control_groups
        }
        self._static: dict[date, np.ndarray] = {}
        saved = run_dir / "static_codes.npy"
        same_rules = (meta.get("policy_version"), meta.get("catalogue_version")) == (
            engine.versions["policy"],
            engine.versions["catalogue"],
        )
        if same_rules and meta.get("static_codes_day") and saved.exists():
            codes = np.load(saved)
            if codes.shape == self.base.shape:  # the batch's screen of its own day
                self._static[date.fromisoformat(str(meta["static_codes_day"]))] = codes
        self._lock = threading.Lock()

    def static_codes(self, day: date) -> np.ndarray:
        """Eligibility/suitability codes of every customer for ``day`` (computed once)."""
        codes = self._static.get(day)
        if codes is None:
            with self._lock:
                codes = self._static.get(day)
                if codes is None:
                    codes = self.engine.static_codes(self.context, day)
                    self._static = {day: codes}  # keep only the current day
        return codes

    def context_json(self, row: int, record: Mapping[str, Any]) -> dict[str, Any]:
        """Equal to ``record_to_json(self.context, row)`` (what a decision record stores)."""
        attributes = {
            k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in record.items()
            if k != "risk_tolerance"
        }
        return {
            "attributes": attributes,
            "offer_ids": list(self.context.offer_ids),
            "propensity": self.context.propensity[row].tolist(),
            "value": self.context.value[row].tolist(),
        }


@dataclass(frozen=True)
class RealTimeDecision:
    """What ``decide_one`` returns: the decision, its id and the snapshot it came from."""

    decision_id: str
    decision: Decision
    run_id: str
    decided_at: datetime
    reservation_retries: int


_CONSENT_CODES = {"granted": GRANTED, "withdrawn": WITHDRAWN}


@dataclass(frozen=True)
class _DayPlan:
    """Contact periods of one bank day: bucket per cap, earliest bucket, claims per offer."""

    day: date
    buckets: tuple[tuple[str, tuple[str, str, date]], ...]  # cap name -> counter key
    since: date
    claims: tuple[tuple[CapClaim, ...], ...]


class DecisionService:
    """Real-time decisions from the current serving snapshot.

    Parameters
    ----------
    settings:
        The installation (``decisions/CURRENT`` under its home names the snapshot).
    opstore:
        An open operational store (owned by the caller).
    check_every:
        Seconds between checks of ``CURRENT`` for a newer snapshot.
    """

    def __init__(
        self, settings: Settings, opstore: OperationalStore, *, check_every: float = 1.0
    ) -> None:
        self.settings = settings
        self.opstore = opstore
        self.timezone = settings.timezone
        self.check_every = check_every
        policy, catalogue = active_rules(opstore)
        self.engine = DecisionEngine(policy, catalogue, settings.timezone)
        self.log = DecisionLog(opstore)
        self.counters = ContactCounters(opstore)
        self.rules = CompiledRules(self.engine)
        self.writer = RealtimeWriter(opstore)
        self.channels = tuple(sorted({o.channel.value for o in catalogue}))
        spec = policy.spec.contact
        self._caps = [(applicable_caps(offer, spec)) for offer in catalogue]
        self._day: _DayPlan | None = None
        self._snapshot: ServingSnapshot | None = None
        self._pointer: str | None = None
        self._checked = 0.0
        self.refresh(force=True)

    @property
    def snapshot(self) -> ServingSnapshot:
        if time.monotonic() - self._checked > self.check_every:
            self.refresh()
        if self._snapshot is None:
            raise DecisionError(
                f"no serving snapshot under {_decisions_dir(self.settings)}: "
                "run `nextbest decide batch` first"
            )
        return self._snapshot

    def refresh(self, *, force: bool = False) -> bool:
        """Load the snapshot ``CURRENT`` points at if it changed; return whether it did."""
        self._checked = time.monotonic()
        pointer = _decisions_dir(self.settings) / "CURRENT"
        try:
            text = pointer.read_text()
        except FileNotFoundError:
            return False
        if text == self._pointer and not force:
            return False
        meta = json.loads(text)
        loaded = ServingSnapshot(_decisions_dir(self.settings) / meta["run_id"], meta, self.engine)
        self._snapshot, self._pointer = loaded, text  # one reference swap: readers see old or new
        # the snapshot's objects live until the next swap: keep them out of the cyclic
        # collector's generations so that a full collection does not walk them mid-decision
        gc.collect()  # garbage made so far is freed, not frozen
        gc.freeze()
        return True

    def decide_one(
        self,
        customer_key: str,
        context_request: Mapping[str, str] | None = None,
        *,
        at: datetime | None = None,
    ) -> RealTimeDecision:
        """Decide for one customer now, reserve the contact and record the decision.

        One operational-store transaction reads the customer's live inputs (consents,
        counters, do-not-disturb, rejections), reserves the winner's caps (a conditional
        update that cannot exceed a cap) and inserts the decision record; the rules run on
        the in-memory snapshot with the compiled per-offer plans.

        Raises
        ------
        DecisionError
            When the customer is not in the serving snapshot.
        """
        snap = self.snapshot
        row = snap.rows.get(customer_key)
        if row is None:
            raise DecisionError(
                f"customer {customer_key!r} is not in serving snapshot {snap.run_id}"
            )
        at = at or datetime.now(UTC)
        engine, rules = snap.engine, self.rules
        local = at.astimezone(engine.tz)
        day = local.date()
        static = snap.static_codes(day)[row].tolist()
        base = snap.base[row].tolist()
        in_holdout = bool(snap.in_holdout[row])
        in_control = {c: bool(v[row]) for c, v in snap.in_control.items()}
        request = dict(context_request or {})
        levers = rules.weighted_levers(request)
        record = snap.read_record(row)
        plan = self._day_plan(local)
        rejected_since = at - timedelta(days=engine.policy.spec.contact.cooldown_days_after_reject)
        excluded: dict[int, str] = {}
        decision_id = new_decision_id()
        with self.writer.transaction() as tx:
            read = tx.read(customer_key, self.channels, plan.since, rejected_since)
            live = LiveInputs(
                {k: _CONSENT_CODES[v] for k, v in read.consent.items()},
                {name: read.counts.get(key, 0) for name, key in plan.buckets},
                read.dnd,
                read.rejected,
            )
            for attempt in range(len(engine.catalogue) + 1):
                outcome = rules.evaluate(
                    static, base, in_holdout, in_control, live, local, levers, excluded
                )
                j = outcome.winner
                offer = None if j < 0 else engine.catalogue.offers[j]
                claims = () if offer is None else plan.claims[j]
                full = tx.reserve(customer_key, claims) if claims else None
                if full is not None:
                    # a concurrent decision took the last contact of a cap: that offer is out
                    excluded[j] = f"contact.cap_{full}"
                    continue
                value = snap.context.value[row].tolist()
                explanation = rules.explain(customer_key, record, outcome, value)
                price = None if explanation.price is None else explanation.price.price
                decision = Decision(
                    customer_key,
                    None if offer is None else offer.offer_id,
                    None if offer is None else offer.channel.value,
                    None if offer is None else offer.campaign_id,
                    None if j < 0 else outcome.priority[j],
                    price,
                    tuple(outcome.codes),
                    explanation,
                    dict(engine.versions),
                )
                tx.record(
                    StoredDecision(
                        decision_id,
                        customer_key,
                        decision.offer_id,
                        None if offer is None else offer.product_id,
                        decision.channel,
                        decision.campaign_id,
                        decision.priority,
                        price,
                        at,
                        explanation.to_json(),
                        {
                            "operational": live.to_json(rules.consent_keys, rules.cap_names),
                            "request": request,
                            "excluded": {str(k): v for k, v in excluded.items()},
                            "context": snap.context_json(row, record),
                            "run_id": snap.run_id,
                            "model_version": snap.context.model_version,
                        },
                        engine.versions["policy"],
                        engine.versions["catalogue"],
                        snap.context.snapshot_version,
                    )
                )
                return RealTimeDecision(decision_id, decision, snap.run_id, at, attempt)
        raise DecisionError(f"customer {customer_key!r}: no decision after every retry")

    def _day_plan(self, local: datetime) -> _DayPlan:
        plan = self._day
        if plan is None or plan.day != local.date():
            buckets = tuple(
                (cap.name, (cap.scope, cap.period, period_start(cap.period, local)))
                for cap in self.engine.policy.spec.contact.caps
            )
            claims = tuple(
                tuple(
                    CapClaim(c.scope, c.period, period_start(c.period, local), c.max) for c in caps
                )
                for caps in self._caps
            )
            since = min((key[2] for _, key in buckets), default=local.date())
            plan = self._day = _DayPlan(local.date(), buckets, since, claims)
        return plan

    def close(self) -> None:
        """Release the real-time connections (the operational store stays open)."""
        self.writer.close()

    def record_outcome(self, decision_id: str, outcome: str) -> StoredDecision:
        """Record ``accepted`` or ``rejected``; a rejection starts the product's cool-down."""
        return self.log.set_outcome(decision_id, outcome)

    def replay(self, decision_id: str) -> Decision:
        """Re-run a stored decision from its recorded versions and inputs."""
        return replay_decision(self.opstore, decision_id, self.timezone)


def replay_decision(opstore: OperationalStore, decision_id: str, timezone: str) -> Decision:
    """Re-run a stored decision from its recorded policy, catalogue and inputs (pure)."""
    stored = DecisionLog(opstore).get(decision_id)
    policy, catalogue = rules_of_versions(opstore, stored.policy_version, stored.catalogue_version)
    engine = DecisionEngine(policy, catalogue, timezone)
    data = stored.inputs
    record, propensity, value = record_from_json(data["context"], catalogue.ids)
    at = stored.decided_at
    static = engine.static_codes_record(record, at.astimezone(engine.tz).date())
    return engine.decide_row(
        stored.customer_key,
        record,
        static,
        propensity,
        value,
        OperationalInputs.from_json(data["operational"]),
        at,
        data.get("request") or None,
        {int(k): v for k, v in data.get("excluded", {}).items()},
    )
