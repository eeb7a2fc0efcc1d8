"""``nextbest model scorecard train|score|export``: the credit scorecard on the warehouse."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nextbest.cli.output import JsonOption, as_of_day, console, emit
from nextbest.errors import NextbestError

__all__ = ["scorecard_app"]

scorecard_app = typer.Typer(
    help="Credit scorecard: 90+ days past due within 12 months, points and PD.",
    no_args_is_help=True,
)


@scorecard_app.command("train")
def train(
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the customer holdout.")] = 42,
    base_score: Annotated[
        float, typer.Option("--base-score", help="Points at the base odds.")
    ] = 600.0,
    base_odds: Annotated[
        float, typer.Option("--base-odds", min=0.0, help="Good:bad odds of the base score.")
    ] = 50.0,
    pdo: Annotated[float, typer.Option("--pdo", min=0.0, help="Points to double the odds.")] = 20.0,
    points: Annotated[
        int, typer.Option("--points", min=1, help="As-of dates (month ends, 3 months apart).")
    ] = 3,
    bank: Annotated[
        Path | None,
        typer.Option("--bank", help="Generated demo bank folder: adds the world's oracle."),
    ] = None,
    binning: Annotated[
        str, typer.Option("--binning", help="optimal (optbinning) or pav (heuristic).")
    ] = "optimal",
    as_json: bool = JsonOption,
) -> None:
    """Build the holdout design, fit the scorecard, evaluate and register a version."""
    from nextbest.config import load_settings
    from nextbest.models.binning import BINNING_METHODS, BinningMethod
    from nextbest.services.credit import train_scorecard

    if base_odds <= 0 or pdo <= 0:
        raise NextbestError("--base-odds and --pdo must be greater than 0")
    if binning not in BINNING_METHODS:
        raise NextbestError(f"--binning must be optimal or pav, got {binning!r}")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True, disable=as_json,
    ) as progress:  # fmt: skip
        task = progress.add_task("scorecard training", total=points + 1)

        def step(message: str) -> None:
            progress.update(task, advance=1, description=message)

        result = train_scorecard(
            load_settings(), seed=seed, base_score=base_score, base_odds=base_odds, pdo=pdo,
            points=points, binning=cast("BinningMethod", binning), bank=bank, on_step=step,
        )  # fmt: skip

    def render(r: Any) -> None:
        ev, entry = r.evaluation, r.entry
        s = ev["scaling"]
        console.print(
            f"credit_scorecard {entry.version} registered ({entry.data_window[0]} .. "
            f"{entry.data_window[1]}, holdout seed {entry.seed}, code {entry.code_version}); "
            f"{s['base_score']:g} points at {s['base_odds']:g}:1, PDO {s['pdo']:g}; "
            f"{ev['binning']} binning, fit {r.seconds['fit']:.2f} s"
        )
        table = Table("score", "holdout AUC")
        low, high = ev["auc_interval"]
        table.add_row("scorecard", f"{ev['auc']:.4f} (95% {low:.3f}-{high:.3f})")
        for name, auc in ev["baseline_auc"].items():
            table.add_row(name, f"{auc:.4f}")
        console.print(table)
        console.print(
            f"{ev['rows']:,} holdout rows, {ev['events']:,} defaults; Gini {ev['gini']:.4f}, "
            f"KS {ev['ks']:.4f}, top-decile lift {ev['top_decile_lift']:.2f}, Brier "
            f"{ev['brier']:.4f} (reference {ev['brier_reference']:.4f})"
        )
        console.print(
            "selected (IV): " + ", ".join(f"{f['feature']} {f['iv']:.3f}" for f in ev["selected"])
        )

    emit(result.to_dict() if as_json else result, as_json, render)


@scorecard_app.command("score")
def score(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date (default: latest).")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="CSV or Parquet file of the scores.")
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="Default: champion.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """PD, points and band of every live customer with the champion scorecard."""
    from nextbest.config import load_settings
    from nextbest.services.credit import score_credit

    result = score_credit(load_settings(), as_of=as_of_day(as_of), version=version)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() in {".parquet", ".pq"}:
            result.scores.to_parquet(out, index=False)
        else:
            result.scores.to_csv(out, index=False)
    pd_ = result.scores["probability_of_default"]
    data = {
        "as_of": result.as_of.isoformat(),
        "version": result.version,
        "rows": len(result.scores),
        "with_credit": int(result.scores["has_credit"].sum()),
        "mean_pd": float(pd_.mean()) if len(pd_) else None,
        "bands": result.band_counts(),
        "out": str(out) if out else None,
        "drift": result.drift.to_dict(),
    }

    def render(r: dict[str, Any]) -> None:
        console.print(
            f"scored {r['rows']:,} live customers ({r['with_credit']:,} with credit) as of "
            f"{r['as_of']} with {r['version']}; mean PD {r['mean_pd']:.4f}"
        )
        console.print("bands: " + ", ".join(f"{k} {v:,}" for k, v in r["bands"].items()))
        worst = ", ".join(f"{v['variable']} {v['psi']:.3f}" for v in r["drift"]["variables"][:3])
        console.print(f"drift: {r['drift']['level']} (largest PSI {worst})")
        if r["out"]:
            console.print(f"written to {r['out']}")

    emit(data, as_json, render)


@scorecard_app.command("export")
def export(
    format_: Annotated[
        str, typer.Option("--format", help="csv or json.", case_sensitive=False)
    ] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="File (default: stdout).")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Default: champion.")] = None,
) -> None:
    """The scorecard table: base points, then points per bin of every characteristic."""
    from nextbest.config import load_settings
    from nextbest.services.credit import export_scorecard

    kind = format_.lower()
    if kind not in ("csv", "json"):
        raise NextbestError(f"--format must be csv or json, got {format_!r}")
    table, entry = export_scorecard(load_settings(), version)
    if kind == "csv":
        text = table.to_csv(index=False)
    else:
        rows = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in table.to_dict(orient="records")
        ]
        doc = {"model": entry.name, "version": entry.version,
               "scaling": entry.metrics.get("scaling"), "rows": rows}  # fmt: skip
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"{entry.name} {entry.version}: {len(table)} rows written to {out}")
