"""Where a customer context comes from: the feature snapshot, seeded scores, replay records.

Pure functions on Arrow tables and mappings (the services layer reads and writes files):

* :func:`context_from_features` maps the customer-understanding feature snapshot to the
  decision context. The snapshot has no KYC status, vulnerability or complaint flag yet,
  so those are filled conservatively (see below); PD comes from the caller (the customer
  value table's, which carries the credit scorecard's PD); propensity/value are seeded per
  customer key until the predictive models provide them.
* :func:`synthetic_inputs` draws seeded operational inputs (consents, counters, DND,
  cool-downs) for a synthetic context, whose customers do not exist in the operational store.
* :func:`record_to_json` / :func:`record_from_json` keep one customer's context row in a
  decision record so that the decision can be replayed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.decide.assignment import key_hashes, unit_draws
from nextbest.decide.context import ATTRIBUTE_TYPES, HOLDING_COLUMNS, CustomerContext
from nextbest.decide.errors import DecisionError
from nextbest.decide.inputs import ABSENT, GRANTED, WITHDRAWN, OperationalInputs
from nextbest.decide.offers import OfferCatalogue
from nextbest.decide.policies import DecisionPolicy

__all__ = [
    "context_from_features",
    "record_from_json",
    "record_to_json",
    "seeded_scores",
    "synthetic_inputs",
    "with_model_propensity",
]

_FEATURE_COLUMNS = ("customer_key", "age", "risk_level", "risk_expires_on", "aum", "province")


def seeded_scores(
    keys: Sequence[str], offer_ids: Sequence[str], seed: str
) -> tuple[np.ndarray, np.ndarray]:
    """Propensity and value per key × offer, a function of the key only (order-free)."""
    hashes = key_hashes(keys)
    m = len(offer_ids)
    propensity = np.empty((len(keys), m))
    value = np.empty((len(keys), m))
    for j, offer in enumerate(offer_ids):
        u = unit_draws(hashes, f"{seed}:p:{offer}")
        v = unit_draws(hashes, f"{seed}:v:{offer}")
        propensity[:, j] = 0.2 * u**3  # mostly small, a few high
        value[:, j] = np.round(50.0 + 950.0 * v**2, 2)
    return propensity, value


def with_model_propensity(
    context: CustomerContext,
    catalogue: OfferCatalogue,
    scores: pa.Table,
    model_version: str,
) -> tuple[CustomerContext, dict[str, str]]:
    """Replace seeded propensities by a propensity model's scores where it has them.

    ``scores`` has ``customer_key`` and one probability column per product family (NaN or
    null where the customer already holds the family: propensity 0). An offer whose family
    the model does not score keeps its seeded propensity; customers the model did not score
    (not live) get 0. Returns the new context (``model_version`` names both sources) and,
    per offer, where its propensity came from (``model`` or ``seeded``).
    """
    keys = context.attributes["customer_key"]
    index = pc.index_in(keys, value_set=pc.cast(scores["customer_key"], pa.string()))
    found = index.is_valid().to_numpy(zero_copy_only=False)
    rows = pc.fill_null(index, 0).to_numpy()
    propensity = context.propensity.copy()
    source: dict[str, str] = {}
    for j, offer in enumerate(catalogue):
        family = offer.product_family.value
        if family not in scores.column_names:
            source[offer.offer_id] = "seeded"
            continue
        column = pc.fill_null(pc.cast(scores[family], pa.float64()), np.nan).to_numpy()
        value = np.where(found, column[rows] if len(column) else 0.0, 0.0)
        propensity[:, j] = np.nan_to_num(np.clip(value, 0.0, 1.0), nan=0.0)
        source[offer.offer_id] = "model"
    seeded = sorted(k for k, v in source.items() if v == "seeded")
    version = model_version + (f"+seeded:{','.join(seeded)}" if seeded else "")
    return (
        CustomerContext(
            context.attributes,
            context.offer_ids,
            propensity,
            context.value,
            context.snapshot_version,
            version,
        ),
        source,
    )


def context_from_features(
    features: pa.Table,
    offer_ids: Sequence[str],
    *,
    snapshot_version: str,
    seed: str = "scores-v1",
    default_probability: pa.Table | None = None,
) -> CustomerContext:
    """The decision context of every customer of a ``feature_snapshot`` as-of date.

    ``pd`` is ``default_probability``'s ``probability_of_default`` by ``customer_key``;
    customers it lacks (or all, without it) get null, so credit marketing offers fail the
    PD rule for them. Filled conservatively where the snapshot has nothing yet:
    ``kyc_status`` ``verified`` (onboarded customers passed KYC), ``vulnerable`` false,
    ``open_complaint`` false; ``region`` is the province.

    Raises
    ------
    DecisionError
        Naming the feature column that is missing.
    """
    missing = [c for c in (*_FEATURE_COLUMNS, *HOLDING_COLUMNS) if c not in features.column_names]
    if missing:
        raise DecisionError(f"feature_snapshot: missing columns {', '.join(missing)}")
    features = features.sort_by("customer_key")
    n = features.num_rows
    keys = features["customer_key"].to_pylist()
    probability = pa.nulls(n, pa.float64())
    if default_probability is not None:
        row = pc.index_in(
            features["customer_key"],
            value_set=pc.cast(default_probability["customer_key"], pa.string()),
        )
        column = pc.cast(default_probability["probability_of_default"], pa.float64())
        probability = pc.take(column, row)  # a null row (key not found) gives a null PD
    table = pa.table(
        {
            "customer_key": features["customer_key"],
            "age": pc.fill_null(features["age"], 0),
            "kyc_status": pa.array(["verified"] * n),
            "risk_level": features["risk_level"],
            "risk_assessed_until": features["risk_expires_on"],
            "aum": pc.fill_null(pc.cast(features["aum"], pa.float64()), 0.0),
            "region": features["province"],
            "pd": probability,
            "vulnerable": pa.array(np.zeros(n, bool)),
            "open_complaint": pa.array(np.zeros(n, bool)),
            **{c: pc.fill_null(features[c], False) for c in HOLDING_COLUMNS},
        }
    )
    propensity, value = seeded_scores(keys, offer_ids, seed)
    for j, offer in enumerate(offer_ids):
        table = table.append_column(f"propensity__{offer}", pa.array(propensity[:, j]))
        table = table.append_column(f"value__{offer}", pa.array(value[:, j]))
    return CustomerContext.from_table(
        table, offer_ids, snapshot_version=snapshot_version, model_version=f"seeded:{seed}"
    )


def synthetic_inputs(
    keys: Sequence[str],
    policy: DecisionPolicy,
    catalogue: OfferCatalogue,
    seed: str = "inputs-v1",
) -> OperationalInputs:
    """Seeded operational state for synthetic customers (a function of the key).

    Marketing consent granted on a channel for ~80 %, withdrawn for ~5 %; service consent
    withdrawn for ~2 %; ~10 % already contacted once this period per cap; 2 % on the
    do-not-disturb list; 3 % rejected each product recently.
    """
    hashes = key_hashes(keys)
    channels = sorted({o.channel.value for o in catalogue})
    consent: dict[tuple[str, str], np.ndarray] = {}
    for purpose, withdrawn, granted in (("marketing", 0.05, 0.85), ("service", 0.02, 1.0)):
        for channel in channels:
            u = unit_draws(hashes, f"{seed}:consent:{purpose}:{channel}")
            state = np.full(len(keys), ABSENT, np.int8)
            state[u < granted] = GRANTED
            state[u < withdrawn] = WITHDRAWN
            consent[(purpose, channel)] = state
    counts = {
        cap.name: (unit_draws(hashes, f"{seed}:count:{cap.name}") < 0.1).astype(np.int64)
        for cap in policy.spec.contact.caps
    }
    cooldown = {
        product: unit_draws(hashes, f"{seed}:cool:{product}") < 0.03
        for product in sorted({o.product_id for o in catalogue})
    }
    dnd = unit_draws(hashes, f"{seed}:dnd") < 0.02
    return OperationalInputs(len(keys), consent, counts, dnd, cooldown)


def record_to_json(context: CustomerContext, row: int) -> dict[str, Any]:
    """One customer's attributes and scores as JSON (dates as ISO strings)."""
    record = context.record(row)
    attributes = {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in record.items()
        if k != "risk_tolerance"
    }
    return {
        "attributes": attributes,
        "offer_ids": list(context.offer_ids),
        "propensity": [float(x) for x in context.propensity[row]],
        "value": [float(x) for x in context.value[row]],
    }


def record_from_json(
    data: Mapping[str, Any], offer_ids: Sequence[str]
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Inverse of :func:`record_to_json`: attributes (typed), propensity and value rows.

    Raises
    ------
    DecisionError
        When the stored offers differ from ``offer_ids`` (replay needs the same catalogue).
    """
    if list(data["offer_ids"]) != list(offer_ids):
        raise DecisionError("replay: the stored decision was made over a different catalogue")
    record = dict(data["attributes"])
    for name, kind in ATTRIBUTE_TYPES.items():
        if kind == "date" and isinstance(record.get(name), str):
            record[name] = date.fromisoformat(record[name])
    level = record.get("risk_level")
    record["risk_tolerance"] = int(level[1]) if level else None
    return record, np.array(data["propensity"], float), np.array(data["value"], float)
