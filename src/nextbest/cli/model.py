"""``nextbest model``: train and cross-validate a classifier on any table; score a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nextbest.cli.output import JsonOption, as_of_day, console, emit
from nextbest.cli.scorecard import scorecard_app
from nextbest.errors import NextbestError

__all__ = ["register"]

model_app = typer.Typer(help="Train, evaluate and apply predictive models.", no_args_is_help=True)


def _split_names(values: list[str] | None) -> list[str]:
    names: list[str] = []
    for value in values or []:
        names += [v.strip() for v in value.split(",") if v.strip()]
    return names


@model_app.command("train")
def train(
    data: Annotated[Path, typer.Option("--data", help="CSV/TXT, Parquet or Excel file.")],
    target: Annotated[str, typer.Option("--target", help="Binary outcome column.")],
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Columns never to use (comma-separated or repeated)."),
    ] = None,
    positive: Annotated[
        str | None, typer.Option("--positive", help="Target value that counts as the event.")
    ] = None,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Cross-validation folds.")] = 5,
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Repeats of the k-fold split.")
    ] = 3,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of splits and model.")] = 42,
    threshold: Annotated[
        float, typer.Option("--threshold", help="Probability cut-off of the confusion table.")
    ] = 0.5,
    calibration: Annotated[
        str | None,
        typer.Option("--calibration", help="isotonic or sigmoid (Platt); none by default."),
    ] = None,
    baseline: Annotated[
        list[str] | None,
        typer.Option("--baseline", help="Numeric column(s) to compare as single-feature scores."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="CSV delimiter (detected if omitted).")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="CSV encoding (detected if omitted).")
    ] = None,
    report_html: Annotated[
        Path | None, typer.Option("--report-html", help="Write the HTML report here.")
    ] = None,
    report_json: Annotated[
        Path | None, typer.Option("--report-json", help="Write the full JSON report here.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Model directory to write (model + metadata).")
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Cross-validate a gradient-boosting model on a table, report, and optionally save it."""
    from nextbest.models.artifact import ModelMetadata, code_version, save_model
    from nextbest.models.report import build_report, render_html
    from nextbest.models.table_io import file_sha256, read_table
    from nextbest.models.tabular import TabularClassifier
    from nextbest.models.training import cross_validate, prepare_table, single_feature_baselines

    if calibration not in (None, "isotonic", "sigmoid"):
        raise NextbestError(f"--calibration must be isotonic or sigmoid, got {calibration!r}")
    table = read_table(data, delimiter=delimiter, encoding=encoding)
    prepared = prepare_table(table, target, exclude=_split_names(exclude), positive=positive)
    estimator = TabularClassifier(random_state=seed, calibration=calibration)
    with Progress(
        TextColumn("cross-validating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("cv", total=folds * repeats)
        cv = cross_validate(
            estimator,
            prepared.features,
            prepared.y,
            folds=folds,
            repeats=repeats,
            seed=seed,
            threshold=threshold,
            on_fold=lambda done, _total: progress.update(task, completed=done),
        )
    final = estimator.fit(prepared.features, prepared.y)
    baseline_names = _split_names(baseline)
    baselines = single_feature_baselines(prepared.features, prepared.y, baseline_names or None)
    design = {
        "data": str(data),
        "rows": int(prepared.y.size),
        "target": target,
        "positive label": str(prepared.positive_label),
        "features": len(prepared.features.columns),
        "cross-validation": f"{repeats} x {folds}-fold stratified, seed {seed}",
        "model": "TabularClassifier (LightGBM)",
    }
    notes = [f"Column {d.column!r} not used: {d.reason}." for d in prepared.dropped]
    notes.append("Model metrics are on out-of-fold scores (mean over repeats).")
    report = build_report(
        f"{data.name}: {target} = {prepared.positive_label}",
        prepared.y,
        cv.oof_score,
        baselines=baselines,
        threshold=threshold,
        cross_validation=cv.summary,
        design=design,
        importance=final.importance(),
        notes=notes,
    )
    if report_html is not None:
        report_html.parent.mkdir(parents=True, exist_ok=True)
        report_html.write_text(render_html(report), encoding="utf-8")
    if report_json is not None:
        report_json.parent.mkdir(parents=True, exist_ok=True)
        report_json.write_text(report.to_json(), encoding="utf-8")
    metrics = {
        "design": {"folds": folds, "repeats": repeats, "seed": seed},
        **{k: {"mean": v.mean, "sd": v.sd} for k, v in cv.summary.items()},
    }
    if out is not None:
        save_model(
            out,
            final,
            ModelMetadata(
                name=data.stem,
                data_file=str(data),
                data_sha256=file_sha256(data),
                n_rows=int(prepared.y.size),
                target=target,
                positive_label=str(prepared.positive_label),
                features=tuple(prepared.features.columns),
                excluded={d.column: d.reason for d in prepared.dropped},
                hyperparameters=final.get_params(),
                metrics=metrics,
                seed=seed,
                code_version=code_version(),
            ),
        )
    result = {
        "data": str(data),
        "target": target,
        "positive_label": str(prepared.positive_label),
        "rows": int(prepared.y.size),
        "events": int(prepared.y.sum()),
        "features": list(prepared.features.columns),
        "dropped": [{"column": d.column, "reason": d.reason} for d in prepared.dropped],
        "cross_validation": {"folds": folds, "repeats": repeats, "seed": seed},
        "metrics": {k: v.to_dict() for k, v in cv.summary.items()},
        "pooled": _headline(report.model),
        "baselines": {k: _headline(v) for k, v in report.baselines.items()},
        "importance": [r.to_dict() for r in report.importance[:10]],
        "model_dir": str(out) if out else None,
        "report_html": str(report_html) if report_html else None,
    }
    emit(result, as_json, _render_training)


def _headline(ev: Any) -> dict[str, Any]:
    return {
        "auc": ev.auc,
        "gini": ev.gini,
        "ks": ev.ks,
        "top_decile_lift": ev.top_decile_lift,
        "brier": ev.calibration.brier,
        "threshold": ev.confusion.threshold,
        "precision": ev.confusion.precision,
        "recall": ev.confusion.recall,
        "f1": ev.confusion.f1,
    }


def _render_training(result: dict[str, Any]) -> None:
    cv = result["cross_validation"]
    console.print(
        f"[bold]{result['data']}[/]: {result['rows']:,} rows, {result['events']:,} events "
        f"({result['target']} = {result['positive_label']}), {len(result['features'])} features"
    )
    for d in result["dropped"]:
        console.print(f"  not used: {d['column']} ({d['reason']})")
    m = result["metrics"]
    console.print(
        f"{cv['repeats']} x {cv['folds']}-fold stratified CV, seed {cv['seed']}: "
        f"[bold]AUC {m['auc']['mean']:.4f} ± {m['auc']['sd']:.4f}[/]"
    )
    table = Table(
        "score", "AUC", "Gini", "KS", "top-decile lift", "Brier", "precision", "recall", "F1"
    )
    rows = {
        "model (CV mean)": None,
        "model (pooled out-of-fold)": result["pooled"],
        **result["baselines"],
    }
    for name, h in rows.items():
        if h is None:
            table.add_row(
                name,
                *(f"{m[k]['mean']:.4f}" for k in ("auc", "gini", "ks", "top_decile_lift", "brier")),
                "",
                "",
                "",
            )
            continue
        table.add_row(
            name,
            *(
                f"{h[k]:.4f}"
                for k in (
                    "auc",
                    "gini",
                    "ks",
                    "top_decile_lift",
                    "brier",
                    "precision",
                    "recall",
                    "f1",
                )
            ),
        )
    console.print(table)
    top = ", ".join(f"{r['feature']} {r['share']:.0%}" for r in result["importance"][:5])
    console.print(f"top features: {top}")
    if result["model_dir"]:
        console.print(f"model written to {result['model_dir']}")
    if result["report_html"]:
        console.print(f"report written to {result['report_html']}")


@model_app.command("score")
def score(
    model: Annotated[Path, typer.Option("--model", help="Model directory from `model train`.")],
    data: Annotated[Path, typer.Option("--data", help="File to score.")],
    out: Annotated[Path, typer.Option("--out", help="CSV or Parquet file to write.")],
    id_column: Annotated[
        str | None, typer.Option("--id", help="Column to copy next to the score.")
    ] = None,
    delimiter: Annotated[str | None, typer.Option("--delimiter")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Apply a saved model to a file; writes one probability per row."""
    from nextbest.models.artifact import load_model
    from nextbest.models.table_io import read_table

    estimator, metadata = load_model(model)
    table = read_table(data, delimiter=delimiter, encoding=encoding)
    table.columns = [str(c) for c in table.columns]
    missing = [f for f in metadata.features if f not in table.columns]
    if missing:
        raise NextbestError(f"{data}: feature column(s) missing: {', '.join(missing)}")
    if id_column is not None and id_column not in table.columns:
        raise NextbestError(f"{data}: --id column {id_column!r} not found")
    probability = estimator.predict_proba(table[list(metadata.features)])[:, 1]
    import pandas as pd

    scored = pd.DataFrame({"score": probability})
    if id_column is not None:
        scored.insert(0, id_column, table[id_column].to_numpy())
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in {".parquet", ".pq"}:
        scored.to_parquet(out, index=False)
    else:
        scored.to_csv(out, index=False)
    result = {
        "model": str(model),
        "rows": len(scored),
        "out": str(out),
        "mean_score": float(probability.mean()),
    }
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"scored {r['rows']:,} rows (mean score {r['mean_score']:.4f}) into {r['out']}"
        ),
    )


churn_app = typer.Typer(help="Churn early warning on the warehouse.", no_args_is_help=True)
registry_app = typer.Typer(help="Registered models: versions and champions.", no_args_is_help=True)
propensity_app = typer.Typer(
    help="Product propensity: per-family models, association rules, ALS; compared.",
    no_args_is_help=True,
)


@churn_app.command("train")
def churn_train(
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="Months ahead.")] = 3,
    points: Annotated[
        int, typer.Option("--points", min=1, help="Training as-of dates (month ends).")
    ] = 4,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Training seed.")] = 42,
    bank: Annotated[
        Path | None,
        typer.Option("--bank", help="Generated demo bank folder: adds the world's oracle."),
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Build point-in-time training sets, fit, validate and register a churn version."""
    from nextbest.config import load_settings
    from nextbest.services.modelling import train_churn

    settings = load_settings()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True, disable=as_json,
    ) as progress:  # fmt: skip
        task = progress.add_task("churn training", total=points + 2)

        def step(message: str) -> None:
            progress.update(task, advance=1, description=message)

        result = train_churn(
            settings, horizon_months=horizon, train_points=points, seed=seed, bank=bank,
            on_step=step,
        )  # fmt: skip

    def render(r: Any) -> None:
        ev, entry = r.evaluation, r.entry
        console.print(
            f"churn {entry.version} registered ({entry.data_window[0]} .. "
            f"{entry.data_window[1]}, seed {entry.seed}, code {entry.code_version})"
        )
        table = Table("score", "validation AUC")
        table.add_row("model", f"{ev['auc']:.4f}")
        for name, auc in ev["baseline_auc"].items():
            table.add_row(name, f"{auc:.4f}")
        console.print(table)
        console.print(
            f"{ev['rows']:,} validation rows, {ev['events']:,} churners; top-decile lift "
            f"{ev['top_decile_lift']:.2f}; Brier {ev['brier']:.4f}"
        )

    emit(result.to_dict() if as_json else result, as_json, render)


@churn_app.command("score")
def churn_score(
    out: Annotated[Path, typer.Option("--out", help="CSV or Parquet file of the scores.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date (default: latest).")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Default: champion.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Score every live customer with the churn champion; reports bands and drift."""
    from nextbest.config import load_settings
    from nextbest.services.modelling import score_churn

    result = score_churn(load_settings(), as_of=as_of_day(as_of), version=version)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in {".parquet", ".pq"}:
        result.scores.to_parquet(out, index=False)
    else:
        result.scores.to_csv(out, index=False)
    data = {
        "as_of": result.as_of.isoformat(),
        "version": result.version,
        "rows": len(result.scores),
        "bands": result.band_counts(),
        "out": str(out),
        "drift": result.drift.to_dict(),
    }

    def render(r: dict[str, Any]) -> None:
        console.print(f"scored {r['rows']:,} customers as of {r['as_of']} with {r['version']}")
        console.print("bands: " + ", ".join(f"{k} {v:,}" for k, v in r["bands"].items()))
        drift = r["drift"]
        worst = drift["variables"][:3]
        console.print(
            f"drift: {drift['level']} (largest PSI "
            + ", ".join(f"{v['variable']} {v['psi']:.3f}" for v in worst)
            + ")"
        )

    emit(data, as_json, render)


@churn_app.command("warn")
def churn_warn(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date (default: latest).")] = None,
    band: Annotated[
        str, typer.Option("--band", help="Lowest band listed: very_high, high, medium, low.")
    ] = "high",
    limit: Annotated[int, typer.Option("--limit", min=1, help="Customers listed.")] = 50,
    as_json: bool = JsonOption,
) -> None:
    """The early-warning list: highest churn risk first, with the top reasons."""
    from nextbest.config import load_settings
    from nextbest.services.modelling import warn_churn

    warnings = warn_churn(load_settings(), as_of=as_of_day(as_of), min_band=band, limit=limit)
    data = [w.to_dict() for w in warnings]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("customer", "probability", "band", "top reasons")
        for r in rows:
            reasons = "; ".join(f"{x['feature']}={x['value']}" for x in r["reasons"])
            table.add_row(r["customer_key"], f"{r['probability']:.3f}", r["band"], reasons)
        console.print(table)

    emit(data, as_json, render)


@registry_app.command("list")
def registry_list(
    name: Annotated[str | None, typer.Option("--name", help="Only this model.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Every registered model version with its status, window and validation AUC."""
    from nextbest.config import load_settings
    from nextbest.services.modelling import model_registry

    rows = [
        {**entry.to_dict(), "status": status}
        for entry, status in model_registry(load_settings()).entries(name)
    ]

    def render(items: list[dict[str, Any]]) -> None:
        table = Table("name", "version", "status", "window", "AUC", "seed", "code", "created")
        for r in items:
            auc = r["metrics"].get("auc")
            table.add_row(
                r["name"], r["version"], r["status"], " .. ".join(r["data_window"]),
                f"{auc:.4f}" if isinstance(auc, float) else "", str(r["seed"]),
                r["code_version"], r["created_at"][:19],
            )  # fmt: skip
        console.print(table)

    emit(rows, as_json, render)


@registry_app.command("reports")
def registry_reports(
    name: Annotated[str, typer.Argument(help="Model name, e.g. churn.")],
    version: Annotated[
        str | None, typer.Option("--version", help="Version (default: the champion).")
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """The evaluation reports of a model version: HTML pages with charts (JSON beside)."""
    from nextbest.config import load_settings
    from nextbest.services.modelling import model_registry

    registry = model_registry(load_settings())
    entry = registry.entry(name, version)
    found = {label: str(path) for label, path in registry.reports(name, entry.version).items()}
    result = {"name": name, "version": entry.version, "reports": found}

    def render(r: dict[str, Any]) -> None:
        if not r["reports"]:
            console.print(f"{name} {r['version']} was registered without evaluation reports")
        for label, path in r["reports"].items():
            console.print(f"{label}: {path}")

    emit(result, as_json, render)


@registry_app.command("promote")
def registry_promote(
    name: Annotated[str, typer.Argument(help="Model name, e.g. churn.")],
    version: Annotated[str, typer.Argument(help="Version to make champion, e.g. v0002.")],
    as_json: bool = JsonOption,
) -> None:
    """Make a version the champion of its model."""
    from nextbest.config import load_settings
    from nextbest.services.modelling import model_registry

    entry = model_registry(load_settings()).promote(name, version)
    emit(
        {"name": entry.name, "champion": entry.version},
        as_json,
        lambda r: console.print(f"{r['name']}: champion is now {r['champion']}"),
    )


@propensity_app.command("train")
def propensity_train(
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="Months ahead.")] = 3,
    points: Annotated[
        int, typer.Option("--points", min=1, help="Training as-of dates (month ends).")
    ] = 4,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Training seed.")] = 42,
    bank: Annotated[
        Path | None,
        typer.Option("--bank", help="Generated demo bank folder: adds the world's oracle."),
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Fit models, rules and ALS per family, compare them on a later period, register."""
    from nextbest.config import load_settings
    from nextbest.services.modelling import train_propensity

    with Progress(
        TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
        transient=True, disable=as_json,
    ) as progress:  # fmt: skip
        task = progress.add_task("propensity training")
        result = train_propensity(
            load_settings(), horizon_months=horizon, train_points=points, seed=seed, bank=bank,
            on_step=lambda m: progress.update(task, description=m),
        )  # fmt: skip

    def render(r: Any) -> None:
        entry, cmp = r.entry, r.comparison
        console.print(
            f"propensity {entry.version} registered ({entry.data_window[0]} .. "
            f"{entry.data_window[1]}, seed {entry.seed}); validation as of "
            f"{cmp['validation_as_of']}, horizon {cmp['horizon_months']} months"
        )
        names = ["model", "rules", "als", "product_count"]
        if any("oracle" in f["auc"] for f in cmp["families"]):
            names.append("oracle")
        table = Table("family", "eligible", "adoptions", *names, "chosen")
        for f in cmp["families"]:
            table.add_row(
                f["family"], f"{f['eligible']:,}", f"{f['adoptions']:,}",
                *(f"{f['auc'][n]:.3f}" if n in f["auc"] else "" for n in names),
                f["chosen"] or "",
            )  # fmt: skip
        console.print(table)
        pk = cmp["precision_at_k"]
        console.print(
            f"precision@k over {pk['customers']:,} adopters: "
            + "; ".join(
                f"{n} " + ", ".join(f"{k} {v:.3f}" for k, v in pk[n].items())
                for n in pk
                if n != "customers"
            )
        )

    emit(result.to_dict() if as_json else result, as_json, render)


@propensity_app.command("score")
def propensity_score(
    out: Annotated[Path, typer.Option("--out", help="CSV or Parquet file of the scores.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date (default: latest).")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Default: champion.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Adoption probability per live customer and family with each family's chosen scorer."""
    from nextbest.config import load_settings
    from nextbest.services.modelling import score_propensity

    result = score_propensity(load_settings(), as_of=as_of_day(as_of), version=version)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in {".parquet", ".pq"}:
        result.scores.to_parquet(out, index=False)
    else:
        result.scores.to_csv(out, index=False)
    families = [c for c in result.scores.columns if c != "customer_key"]
    data = {
        "as_of": result.as_of.isoformat(),
        "version": result.version,
        "rows": len(result.scores),
        "out": str(out),
        "choice": result.choice,
        "mean": {f: float(result.scores[f].mean()) for f in families},
    }
    emit(data, as_json, lambda r: console.print(
        f"scored {r['rows']:,} customers as of {r['as_of']} with {r['version']} into {r['out']}"
    ))  # fmt: skip


@propensity_app.command("choice")
def propensity_choice_cmd(
    version: Annotated[str | None, typer.Option("--version", help="Default: champion.")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Which scorer (model, rules, als) the decision engine uses per product family."""
    from nextbest.config import load_settings
    from nextbest.services.modelling import propensity_choice

    choice = propensity_choice(load_settings(), version)

    def render(c: dict[str, str]) -> None:
        table = Table("family", "scorer")
        for fam, scorer in c.items():
            table.add_row(fam, scorer)
        console.print(table)

    emit(choice, as_json, render)


@model_app.command("demo-check")
def demo_check(
    bank: Annotated[Path, typer.Option("--bank", help="The generated demo bank folder.")],
    points: Annotated[
        int, typer.Option("--points", min=1, help="Training as-of dates (month ends).")
    ] = 4,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Training seed.")] = 42,
    as_json: bool = JsonOption,
) -> None:
    """Train churn and propensity on a demo bank and check them against the world's truth."""
    from nextbest.config import load_settings
    from nextbest.services.modelling import demo_model_check

    with Progress(
        TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
        transient=True, disable=as_json,
    ) as progress:  # fmt: skip
        task = progress.add_task("demo check")
        result = demo_model_check(
            load_settings(), bank, train_points=points, seed=seed,
            on_step=lambda m: progress.update(task, description=m),
        )  # fmt: skip

    def render(r: dict[str, Any]) -> None:
        c = r["churn"]
        console.print(
            f"churn {c['version']}: AUC {c['auc']:.4f}, oracle {c['oracle']:.4f}, recency "
            f"{c['recency']:.4f}, RFM {c['rfm']:.4f} ({c['rows']:,} rows, {c['events']:,} "
            f"churners) — {'meets' if c['meets'] else 'MISSES'} the bars"
        )
        table = Table("family", "adoptions", "chosen", "AUC", "oracle", "gap", "bar")
        for f in r["propensity"]["families"]:
            gap = f["auc"] - f["oracle"] if f["auc"] is not None else float("nan")
            bar = ("meets" if f["meets"] else "MISSES") if f["evidence"] else "(< 200)"
            auc = f"{f['auc']:.3f}" if f["auc"] is not None else ""
            table.add_row(f["family"], f"{f['adoptions']:,}", f["chosen"] or "", auc,
                          f"{f['oracle']:.3f}", f"{gap:+.3f}", bar)  # fmt: skip
        console.print(table)

    emit(result, as_json, render)


def register(app: typer.Typer) -> None:
    model_app.add_typer(churn_app, name="churn")
    model_app.add_typer(propensity_app, name="propensity")
    model_app.add_typer(scorecard_app, name="scorecard")
    model_app.add_typer(registry_app, name="registry")
    app.add_typer(model_app, name="model")
