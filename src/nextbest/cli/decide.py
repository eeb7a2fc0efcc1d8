"""``nextbest decide batch|one|outcome``, ``offers list``, ``policies load|list``."""

from __future__ import annotations

import getpass
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from nextbest.cli.output import JsonOption, console, emit, to_jsonable
from nextbest.config import load_settings
from nextbest.errors import NextbestError
from nextbest.opstore.decisions import policy_history
from nextbest.opstore.store import open_opstore
from nextbest.privacy.keys import KeyRing
from nextbest.services.decisioning import (
    BatchRunReport,
    DecisionService,
    active_rules,
    load_rules_file,
    run_batch,
)

__all__ = ["register"]

decide_app = typer.Typer(
    help="Next-best-offer decisions (batch and real time).", no_args_is_help=True
)
offers_app = typer.Typer(help="The offer catalogue.", no_args_is_help=True)
policies_app = typer.Typer(help="Decision policy and catalogue versions.", no_args_is_help=True)


class DecideInputError(NextbestError):
    """A command-line argument is invalid."""


@decide_app.command("batch")
def batch(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Feature snapshot date (default: latest).")
    ] = None,
    customers: Annotated[
        int, typer.Option("--customers", help="Synthetic customers when no snapshot exists.")
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    no_optimise: Annotated[
        bool, typer.Option("--no-optimise", help="Per-customer arbitration only.")
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """Decide for every customer; write Parquet and the serving snapshot."""
    day = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise DecideInputError(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from None
    settings = load_settings()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console, disable=as_json, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("starting", total=None)
        report = run_batch(
            settings, as_of=day, synthetic_customers=customers, seed=seed,
            optimise=not no_optimise, progress=lambda name: bar.update(task, description=name),
        )  # fmt: skip
    emit(report, as_json, _render_batch)


def _render_batch(r: BatchRunReport) -> None:
    console.print(f"run {r.run_id}: {r.customers} customers ({r.context_source}), {r.method}")
    console.print(f"with an offer: {r.with_offer}; by channel: {r.by_channel}")
    if r.gain_over_greedy is not None:
        console.print(
            f"value {r.value_optimised} vs greedy {r.value_greedy} "
            f"(gain {r.gain_over_greedy:.4%}); violations: {len(r.violations)}"
        )
    console.print(f"decisions: {r.path}")


def _request(channel_context: str | None, context: list[str] | None) -> dict[str, str]:
    request: dict[str, str] = {}
    if channel_context:
        request[channel_context] = "true"
        request["channel_context"] = channel_context
    for item in context or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DecideInputError(f"--context: {item!r} is not KEY=VALUE")
        request[key] = value
    return request


@decide_app.command("one")
def one(
    customer_key: str,
    channel_context: Annotated[
        str | None,
        typer.Option("--channel-context", help="Where the customer is now, e.g. in_app."),
    ] = None,
    context: Annotated[
        list[str] | None, typer.Option("--context", help="Real-time context KEY=VALUE.")
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Decide for one customer now (reserves the contact and records the decision)."""
    request = _request(channel_context, context)
    settings = load_settings()
    opstore = open_opstore(settings)
    try:
        made = DecisionService(settings, opstore).decide_one(customer_key, request)
    finally:
        opstore.dispose()
    d = made.decision
    result = {
        "decision_id": made.decision_id,
        "customer_key": d.customer_key,
        "offer_id": d.offer_id,
        "channel": d.channel,
        "campaign_id": d.campaign_id,
        "priority": d.priority,
        "price": d.price,
        "decided_at": made.decided_at,
        "snapshot_run": made.run_id,
        "versions": d.versions,
        "explanation": to_jsonable(d.explanation),
    }

    def render(_: Any) -> None:
        console.print(f"decision {made.decision_id}")
        for line in d.explanation.lines():
            console.print(line, markup=False)

    emit(result, as_json, render)


@decide_app.command("outcome")
def outcome(
    decision_id: str,
    result: Annotated[str, typer.Argument(help="accepted or rejected")],
    as_json: bool = JsonOption,
) -> None:
    """Record a customer's answer to an offer (a rejection starts the cool-down)."""
    settings = load_settings()
    opstore = open_opstore(settings)
    try:
        from nextbest.opstore.decisions import DecisionLog

        stored = DecisionLog(opstore).set_outcome(decision_id, result)
    finally:
        opstore.dispose()
    summary = {
        "decision_id": stored.decision_id,
        "customer_key": stored.customer_key,
        "offer_id": stored.offer_id,
        "outcome": stored.outcome,
        "outcome_at": stored.outcome_at,
    }
    emit(summary, as_json, lambda s: console.print(f"{s['decision_id']}: {s['outcome']}"))


@offers_app.command("list")
def list_offers(as_json: bool = JsonOption) -> None:
    """List the active offer catalogue."""
    settings = load_settings()
    opstore = open_opstore(settings)
    try:
        _, catalogue = active_rules(opstore)
    finally:
        opstore.dispose()
    rows = [o.model_dump(mode="json") for o in catalogue]

    def render(rs: list[dict[str, Any]]) -> None:
        console.print(f"catalogue {catalogue.name} version {catalogue.version}")
        table = Table("offer", "product", "risk", "channel", "purpose", "campaign", "cost")
        for r in rs:
            table.add_row(
                r["offer_id"], r["product_id"], r["product_risk"] or "", r["channel"],
                r["purpose"], r["campaign_id"], f"{r['cost_per_contact']:.2f}",
            )  # fmt: skip
        console.print(table)

    emit(rows, as_json, render)


@policies_app.command("load")
def load(
    file: Path,
    reason: Annotated[str, typer.Option("--reason", help="Why this version (audited).")],
    author: Annotated[str | None, typer.Option("--author", help="Default: the OS user.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Validate a policy (or catalogue) YAML and store it as the active version, audited."""
    settings = load_settings()
    keyring = KeyRing.load(settings)
    opstore = open_opstore(settings)
    try:
        loaded = load_rules_file(
            opstore, keyring, file, actor=author or getpass.getuser(), reason=reason
        )
    finally:
        opstore.dispose()
    emit(
        loaded,
        as_json,
        lambda x: console.print(
            f"{x.kind} {x.name} v{x.version} ({x.content_version}) by {x.author}: {x.reason}"
        ),
    )


@policies_app.command("list")
def list_policies(as_json: bool = JsonOption) -> None:
    """List stored policy and catalogue versions (newest first) and what is active."""
    settings = load_settings()
    opstore = open_opstore(settings)
    try:
        policy, catalogue = active_rules(opstore)
        rows = [
            {**asdict(r), "content_version": r.checksum[:16], "body": None}
            for r in policy_history(opstore)
        ]
    finally:
        opstore.dispose()
    result = {
        "active": {"policy": policy.version, "catalogue": catalogue.version},
        "versions": rows,
    }

    def render(res: dict[str, Any]) -> None:
        console.print(f"active policy {policy.version}, catalogue {catalogue.version}")
        table = Table("name", "v", "status", "content", "by", "at")
        for r in res["versions"]:
            table.add_row(
                r["policy_name"], str(r["version"]), r["status"], r["content_version"],
                r["created_by"], r["created_at"].isoformat(timespec="seconds"),
            )  # fmt: skip
        console.print(table)

    emit(result, as_json, render)


def register(app: typer.Typer) -> None:
    app.add_typer(decide_app, name="decide")
    app.add_typer(offers_app, name="offers")
    app.add_typer(policies_app, name="policies")
