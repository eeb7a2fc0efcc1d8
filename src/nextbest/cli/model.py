"""``nextbest model``: train and cross-validate a classifier on any table; score a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nextbest.cli.output import JsonOption, console, emit
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


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
