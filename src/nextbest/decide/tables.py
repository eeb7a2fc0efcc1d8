"""The warehouse table of batch decisions, and its rows built in bulk from a batch run.

``batch_decision`` holds one row per customer and run: the offer (or none), its channel,
campaign, priority and price, the method (arbitration or optimised), the policy,
catalogue, snapshot and model versions that produced it, and the operational inputs the
decision read, as the same JSON object a real-time decision record stores under
``operational`` (consents per purpose:channel, contact counts per cap, do-not-disturb,
products cooling down) plus typed flags. Rows are built with Arrow compute (no Python
loop per customer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.decide.inputs import OperationalInputs
from nextbest.profile.tables import DerivedTable

__all__ = ["BATCH_DECISION", "DECISION_TABLES", "inputs_json", "with_inputs"]

BATCH_DECISION = DerivedTable(
    "batch_decision",
    (
        ("run_id", "string", True),
        ("customer_key", "string", True),
        ("as_of_date", "date", False),
        ("decided_at", "timestamp", True),
        ("offer_id", "string", False),
        ("product_id", "string", False),
        ("channel", "string", False),
        ("campaign_id", "string", False),
        ("priority", "float", False),
        ("price", "float", False),
        ("method", "string", True),
        ("policy_version", "string", True),
        ("catalogue_version", "string", True),
        ("snapshot_version", "string", True),
        ("model_version", "string", True),
        ("removed_offers", "int", True),
        ("in_holdout", "bool", True),
        ("do_not_disturb", "bool", True),
        ("open_complaint", "bool", False),
        ("vulnerable", "bool", False),
        ("operational_inputs", "string", True),
    ),
    key=("run_id", "customer_key"),
)

DECISION_TABLES: tuple[DerivedTable, ...] = (BATCH_DECISION,)


def _join(parts: Sequence[pa.Array | str], n: int) -> pa.Array:
    """Element-wise concatenation of items that each end with ``", "`` (or are empty),
    without the last separator."""
    if not parts:
        return pa.array([""] * n, pa.string())
    joined = pc.binary_join_element_wise(*parts, "")
    return pc.utf8_rtrim(joined, characters=", ")


def inputs_json(
    inputs: OperationalInputs,
    consent_keys: Sequence[tuple[str, str]],
    cap_names: Sequence[str],
    products: Sequence[str],
) -> pa.Array:
    """Per customer, the JSON text of ``OperationalInputs.row(i).to_json()`` (vectorised)."""
    n = inputs.n

    def entries(pairs: Sequence[tuple[str, np.ndarray]]) -> pa.Array:
        parts = [
            pc.binary_join_element_wise(
                f'"{name}": ', pc.cast(pa.array(values), pa.string()), ", ", ""
            )
            for name, values in pairs
        ]
        return _join(parts, n)

    consent = entries(
        [(f"{p}:{c}", inputs.consent_state(p, c).astype(np.int64)) for p, c in consent_keys]
    )
    counts = entries([(c, inputs.count(c).astype(np.int64)) for c in cap_names])
    dnd = pc.if_else(pa.array(inputs.dnd()), "true", "false")
    cooldown = _join(
        [pc.if_else(pa.array(inputs.cooling(p)), f'"{p}", ', "") for p in sorted(products)], n
    )
    return pc.binary_join_element_wise(
        '{"consent": {',
        consent,
        '}, "counts": {',
        counts,
        '}, "do_not_disturb": ',
        dnd,
        ', "cooldown": [',
        cooldown,
        "]}",
        "",
    )


def with_inputs(
    decisions: pa.Table,
    *,
    product_ids: Sequence[str],
    as_of: date | None,
    versions: Mapping[str, str],
    removed: np.ndarray,
    in_holdout: np.ndarray,
    attributes: pa.Table,
    inputs_text: pa.Array,
    dnd: np.ndarray,
    offer_index: np.ndarray,
    decided_at: datetime,
) -> pa.Table:
    """``batch_decision`` rows from a run's decision table and what the run read."""
    has = offer_index >= 0
    products = np.array([*product_ids, ""], dtype=object)
    pick = np.where(has, offer_index, len(product_ids))
    n = decisions.num_rows
    return pa.table(
        {
            "run_id": decisions["run_id"],
            "customer_key": decisions["customer_key"],
            "as_of_date": pa.array([as_of] * n, pa.date32()),
            "decided_at": pa.array([decided_at] * n, pa.timestamp("us", tz="UTC")),
            "offer_id": decisions["offer_id"],
            "product_id": pa.array(products[pick], pa.string(), mask=~has),
            "channel": decisions["channel"],
            "campaign_id": decisions["campaign_id"],
            "priority": decisions["priority"],
            "price": decisions["price"],
            "method": decisions["method"],
            "policy_version": pa.array([versions["policy"]] * n),
            "catalogue_version": pa.array([versions["catalogue"]] * n),
            "snapshot_version": pa.array([versions["snapshot"]] * n),
            "model_version": pa.array([versions["model"]] * n),
            "removed_offers": pa.array(removed, pa.int64()),
            "in_holdout": pa.array(in_holdout),
            "do_not_disturb": pa.array(dnd),
            "open_complaint": attributes["open_complaint"],
            "vulnerable": attributes["vulnerable"],
            "operational_inputs": inputs_text,
        }
    )
