"""``nextbest understand run``, ``nextbest profile`` and ``nextbest tags list|explain``.

``profile`` and ``tags explain`` read the latest *published* copy of the warehouse (as every
serving process does), so they never lock the live warehouse; ``understand run --publish``
publishes right after the run.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from nextbest.cli.output import JsonOption, console, emit
from nextbest.config import load_settings
from nextbest.errors import NextbestError
from nextbest.profile.profile360 import CustomerProfile, customer_profile
from nextbest.profile.tags import explain_tags, load_tags
from nextbest.services.understanding import UnderstandingReport, run_understanding
from nextbest.warehouse import open_published, open_warehouse

__all__ = ["register"]

understand_app = typer.Typer(help="Customer understanding per as-of date.", no_args_is_help=True)
tags_app = typer.Typer(help="Customer tags (YAML, expression language).", no_args_is_help=True)


class CliInputError(NextbestError):
    """A command-line argument is invalid."""


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliInputError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


@understand_app.command("run")
def run(
    as_of: Annotated[str, typer.Option("--as-of", help="As-of date YYYY-MM-DD.")],
    load_cutoff: Annotated[
        str | None, typer.Option("--load-cutoff", help="ISO instant with zone; default now.")
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="Publish the warehouse after the run.")
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """Materialise snapshot, tags, lifecycle, RFM, segments and CLV for one as-of date."""
    from nextbest.services.credit import champion_pd_model

    day = _date(as_of, "--as-of")
    cutoff = None
    if load_cutoff is not None:
        try:
            cutoff = datetime.fromisoformat(load_cutoff)
        except ValueError:
            raise CliInputError(f"--load-cutoff: {load_cutoff!r} is not an ISO time") from None
        if cutoff.tzinfo is None:
            raise CliInputError("--load-cutoff: give a time zone, e.g. 2024-07-01T02:00+08:00")
    settings = load_settings()
    pd_model = champion_pd_model(settings)  # the scorecard's PD for CLV, when registered
    with open_warehouse(settings) as wh, Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console, disable=as_json, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("starting", total=None)
        report = run_understanding(
            wh, day, load_cutoff=cutoff, timezone=settings.timezone, pd_model=pd_model,
            progress=lambda name: bar.update(task, description=name),
        )  # fmt: skip
        if publish:
            bar.update(task, description="publishing")
            wh.publish()
    emit(report, as_json, _render_report)


def _render_report(r: UnderstandingReport) -> None:
    console.print(f"as of {r.as_of} (load cut-off {r.load_cutoff.isoformat()}), batch {r.batch_id}")
    console.print(f"customers: {r.customers}; rows: {r.rows}")
    console.print(f"lifecycle: {r.stages}")
    console.print(f"tags: {r.tags}")
    console.print(f"segments: k={r.segments_k} by {r.segments_criterion}; tiers: {r.value_tiers}")
    console.print(f"probability of default (CLV): {r.pd_source}")


@tags_app.command("list")
def list_tags(as_json: bool = JsonOption) -> None:
    """List the tags of the default tag file."""
    tags = load_tags()
    rows = [
        {"code": t.code, "zh": t.zh, "en": t.en, "category": t.category, "owner": t.owner,
         "version": t.version, "expression": t.text}
        for t in tags.tags
    ]  # fmt: skip

    def render(rs: list[dict[str, Any]]) -> None:
        table = Table("code", "中文", "category", "v", "expression")
        for x in rs:
            table.add_row(x["code"], x["zh"], x["category"], str(x["version"]), x["expression"])
        console.print(table)

    emit(rows, as_json, render)


@tags_app.command("explain")
def explain(
    customer_key: str,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Tag code(s); all by default.")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Explain why a customer does or does not carry each tag, from its stored snapshot."""
    settings = load_settings()
    day = _date(as_of, "--as-of") if as_of else None
    with open_published(settings) as wh:
        profile = customer_profile(wh, customer_key, day)
    result = [asdict(e) for e in explain_tags(profile.features, load_tags(), tag)]

    def render(rs: list[dict[str, Any]]) -> None:
        for x in rs:
            mark = "✔" if x["tagged"] else "✘"
            cols = ", ".join(f"{k}={v}" for k, v in x["explanation"]["columns"])
            console.print(
                f"{mark} {x['code']} {x['zh']}: {x['explanation']['expression']} [{cols}]"
            )

    emit(result, as_json, render)


def profile(
    customer_key: str,
    as_of: Annotated[str | None, typer.Option("--as-of")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Show the 360° profile of one customer (pseudonymous key), from the published copy."""
    settings = load_settings()
    day = _date(as_of, "--as-of") if as_of else None
    with open_published(settings) as wh:
        result = customer_profile(wh, customer_key, day)
    emit(result, as_json, _render_profile)


def _render_profile(p: CustomerProfile) -> None:
    console.print(f"[bold]{p.customer_key}[/bold] as of {p.as_of}")
    console.print(f"lifecycle: {p.lifecycle_stage} ({p.lifecycle_stage_zh}), "
                  f"previous {p.previous_stage}")  # fmt: skip
    console.print("segments: " + ", ".join(f"{k}={v}" for k, v in sorted(p.segments.items())))
    if p.rfm:
        r = p.rfm
        console.print(
            f"RFM: R{r['r_score']} F{r['f_score']} M{r['m_score']} ({r['rfm_segment']}); "
            f"recency {r['recency_days']} d, {r['frequency']} transactions, "
            f"{r['monetary']:.0f} CNY in 365 d"
        )
    if p.value:
        v = p.value
        console.print(f"CLV {v['clv']:.0f} CNY (margin {v['margin_clv']:.0f}, expected loss "
                      f"{v['expected_loss_clv']:.0f}); value tier {v['value_tier']}, "
                      f"budget {v['budget_strategy']}")  # fmt: skip
    table = Table("tag", "中文", "because")
    for t in p.tags:
        because = ", ".join(f"{k}={v}" for k, v in t.because)
        table.add_row(t.code, t.zh, escape(f"{t.expression} [{because}]") if t.expression else "")
    console.print(table)
    keys = ("age", "aum", "product_count", "txn_count_90d", "days_since_last_activity")
    console.print({k: p.features.get(k) for k in keys})


def register(app: typer.Typer) -> None:
    app.add_typer(understand_app, name="understand")
    app.add_typer(tags_app, name="tags")
    app.command("profile")(profile)
