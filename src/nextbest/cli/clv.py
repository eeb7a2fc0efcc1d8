"""``nextbest clv``: fit BG/NBD + Gamma-Gamma on a transaction log and report CLV by tier."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nextbest.cli.output import JsonOption, console, emit
from nextbest.value.bgnbd import BetaGeoModel, BetaGeoParams
from nextbest.value.clv import TierSummary, predict_customer_value, summarize_tiers
from nextbest.value.errors import ValueInputError
from nextbest.value.gamma_gamma import GammaGammaModel, GammaGammaParams
from nextbest.value.summary import calibration_summary

__all__ = ["ClvFitReport", "register"]

clv_app = typer.Typer(help="Customer lifetime value (BG/NBD + Gamma-Gamma).", no_args_is_help=True)


@dataclass(frozen=True)
class CustomerPrediction:
    customer: str
    frequency: float
    recency: float
    T: float
    probability_alive: float
    expected_purchases: float
    expected_spend: float
    clv: float
    value_tier: str


@dataclass(frozen=True)
class HoldoutCheck:
    """Repeat purchase days predicted for the hold-out period against those observed."""

    observation_end: str
    duration: float
    predicted_purchases: float
    actual_purchases: float


@dataclass(frozen=True)
class ClvFitReport:
    """What ``nextbest clv fit`` prints."""

    transactions_file: str
    transactions: int
    customers: int
    repeat_buyers: int
    calibration_end: str
    time_unit: str
    horizon_months: int
    annual_discount_rate: float
    margin: float
    bgnbd: BetaGeoParams
    bgnbd_converged: bool
    gamma_gamma: GammaGammaParams
    gamma_gamma_converged: bool
    population_mean_spend: float
    total_clv: float
    tiers: list[TierSummary]
    top_customers: list[CustomerPrediction]
    holdout: HoldoutCheck | None
    predictions_file: str | None


def _read_transactions(path: Path, separator: str | None, names: str | None) -> pd.DataFrame:
    if not path.is_file():
        raise ValueInputError(f"{path}: transaction file not found")
    column_names = [n.strip() for n in names.split(",")] if names else None
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
            if column_names:
                frame.columns = column_names
            return frame
        sep = r"\s+" if separator == "whitespace" else (separator or ",")
        return pd.read_csv(
            path,
            sep=sep,
            header=None if column_names else "infer",
            names=column_names,
        )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ValueInputError(f"{path}: cannot read transactions ({exc})") from exc


def _write_predictions(path: Path, predictions: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = predictions.reset_index()
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


@clv_app.command("fit")
def fit(
    transactions: Annotated[
        Path, typer.Option("--transactions", help="CSV/TXT or Parquet file, one row a purchase.")
    ],
    customer_col: Annotated[
        str, typer.Option("--customer-col", "--customer", help="Customer key column.")
    ],
    date_col: Annotated[str, typer.Option("--date-col", "--date", help="Purchase date column.")],
    value_col: Annotated[
        str, typer.Option("--value-col", "--amount", help="Monetary value column.")
    ],
    calibration_end: Annotated[
        str, typer.Option("--calibration-end", help="Last day of the calibration period.")
    ],
    date_format: Annotated[
        str | None,
        typer.Option("--date-format", help="strftime format of the dates, e.g. %Y%m%d."),
    ] = None,
    separator: Annotated[
        str | None,
        typer.Option("--sep", help="Field separator of a text file; 'whitespace' for runs."),
    ] = None,
    names: Annotated[
        str | None,
        typer.Option("--names", help="Comma-separated column names of a file without header."),
    ] = None,
    time_unit: Annotated[
        str, typer.Option("--time-unit", help="Model time unit: days, weeks or months.")
    ] = "weeks",
    horizon_months: Annotated[
        int, typer.Option("--horizon-months", min=1, help="CLV horizon in months.")
    ] = 12,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="Annual discount rate, applied monthly.")
    ] = 0.10,
    margin: Annotated[
        float, typer.Option("--margin", min=0.0, max=1.0, help="Profit share of spend.")
    ] = 1.0,
    observation_end: Annotated[
        str | None,
        typer.Option(
            "--observation-end",
            help="End of a hold-out period after the calibration end: compare predicted "
            "and actual repeat purchases in it.",
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="Customers to list by CLV.")] = 10,
    predictions: Annotated[
        Path | None,
        typer.Option("--predictions", help="Write per-customer predictions (CSV or Parquet)."),
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Fit BG/NBD and Gamma-Gamma on a transaction log; print parameters and CLV by tier."""
    if time_unit not in ("days", "weeks", "months"):
        raise ValueInputError(f"--time-unit must be days, weeks or months, got {time_unit!r}")
    unit: Literal["days", "weeks", "months"] = time_unit  # type: ignore[assignment]
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("reading transactions", total=5)
        log = _read_transactions(transactions, separator, names)
        progress.update(task, advance=1, description="summarising")
        summary = calibration_summary(
            log,
            customer_col=customer_col,
            date_col=date_col,
            value_col=value_col,
            calibration_end=calibration_end,
            time_unit=unit,
            observation_end=observation_end,
            date_format=date_format,
        )
        if summary.empty:
            raise ValueInputError(
                f"{transactions}: no purchase on or before the calibration end {calibration_end}"
            )
        progress.update(task, advance=1, description="fitting BG/NBD")
        bgnbd = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
        progress.update(task, advance=1, description="fitting Gamma-Gamma")
        gamma_gamma = GammaGammaModel().fit(summary["frequency"], summary["monetary_value"])
        progress.update(task, advance=1, description="predicting")
        predicted = predict_customer_value(
            summary,
            bgnbd,
            gamma_gamma,
            horizon_months=horizon_months,
            annual_discount_rate=discount_rate,
            margin=margin,
            time_unit=unit,
        )
        progress.update(task, advance=1)
    if predictions is not None:
        _write_predictions(predictions, summary.join(predicted))
    best = predicted.sort_values("clv", ascending=False, kind="stable").head(top)
    top_customers = [
        CustomerPrediction(
            customer=str(key),
            frequency=float(summary.at[key, "frequency"]),
            recency=float(summary.at[key, "recency"]),
            T=float(summary.at[key, "T"]),
            probability_alive=float(row.probability_alive),
            expected_purchases=float(row.expected_purchases),
            expected_spend=float(row.expected_spend),
            clv=float(row.clv),
            value_tier=str(row.value_tier),
        )
        for key, row in best.iterrows()
    ]
    holdout = None
    if observation_end is not None:
        duration = float(summary["duration_holdout"].iloc[0])
        expected = bgnbd.expected_purchases(
            duration, summary["frequency"], summary["recency"], summary["T"]
        )
        holdout = HoldoutCheck(
            observation_end=str(pd.Timestamp(observation_end).date()),
            duration=duration,
            predicted_purchases=float(expected.sum()),
            actual_purchases=float(summary["frequency_holdout"].sum()),
        )
    report = ClvFitReport(
        transactions_file=str(transactions),
        transactions=len(log),
        customers=len(summary),
        repeat_buyers=int((summary["frequency"] > 0).sum()),
        calibration_end=str(pd.Timestamp(calibration_end).date()),
        time_unit=unit,
        horizon_months=horizon_months,
        annual_discount_rate=discount_rate,
        margin=margin,
        bgnbd=bgnbd.params_,
        bgnbd_converged=bgnbd.converged_,
        gamma_gamma=gamma_gamma.params_,
        gamma_gamma_converged=gamma_gamma.converged_,
        population_mean_spend=gamma_gamma.population_mean_spend_,
        total_clv=float(predicted["clv"].sum()),
        tiers=summarize_tiers(predicted["clv"], predicted["value_tier"]),
        top_customers=top_customers,
        holdout=holdout,
        predictions_file=str(predictions) if predictions else None,
    )
    emit(report, as_json, _render)


def _render(report: ClvFitReport) -> None:
    console.print(
        f"[bold]{report.transactions_file}[/]: {report.transactions:,} transactions, "
        f"{report.customers:,} customers ({report.repeat_buyers:,} repeat buyers) "
        f"to {report.calibration_end}, time in {report.time_unit}"
    )
    bg, gg = report.bgnbd, report.gamma_gamma
    params = Table(title="Fitted parameters", title_justify="left")
    for name in ("model", "parameters", "log-likelihood", "customers", "converged"):
        params.add_column(name)
    params.add_row(
        "BG/NBD",
        f"r={bg.r:.4f} α={bg.alpha:.4f} a={bg.a:.4f} b={bg.b:.4f}",
        f"{bg.log_likelihood:,.2f}",
        f"{bg.n_customers:,}",
        "yes" if report.bgnbd_converged else "NO",
    )
    params.add_row(
        "Gamma-Gamma",
        f"p={gg.p:.4f} q={gg.q:.4f} γ={gg.gamma:.4f}",
        f"{gg.log_likelihood:,.2f}",
        f"{gg.n_customers:,}",
        "yes" if report.gamma_gamma_converged else "NO",
    )
    console.print(params)
    for name, ok in (
        ("BG/NBD", report.bgnbd_converged),
        ("Gamma-Gamma", report.gamma_gamma_converged),
    ):
        if not ok:
            console.print(f"[bold yellow]warning:[/] the {name} fit did not converge cleanly")
    console.print(
        f"CLV over {report.horizon_months} months, {report.annual_discount_rate:.1%} a year "
        f"discount, margin {report.margin:.0%}; population mean spend "
        f"{report.population_mean_spend:,.2f}; total {report.total_clv:,.2f}"
    )
    tiers = Table(title="Value tiers 价值分层", title_justify="left")
    for name in ("tier", "customers", "total CLV", "mean CLV", "min CLV", "share of CLV"):
        tiers.add_column(name, justify="left" if name == "tier" else "right")
    for t in report.tiers:
        tiers.add_row(
            f"{t.en} {t.zh}",
            f"{t.customers:,}",
            f"{t.total_value:,.2f}",
            f"{t.mean_value:,.2f}",
            f"{t.min_value:,.2f}",
            f"{t.share_of_value:.1%}",
        )
    console.print(tiers)
    if report.top_customers:
        best = Table(title="Highest CLV", title_justify="left")
        for name in (
            "customer",
            "x",
            "t_x",
            "T",
            "P(alive)",
            "exp. purchases",
            "exp. spend",
            "CLV",
        ):
            best.add_column(name, justify="left" if name == "customer" else "right")
        for c in report.top_customers:
            best.add_row(
                c.customer,
                f"{c.frequency:g}",
                f"{c.recency:.2f}",
                f"{c.T:.2f}",
                f"{c.probability_alive:.3f}",
                f"{c.expected_purchases:.2f}",
                f"{c.expected_spend:,.2f}",
                f"{c.clv:,.2f}",
            )
        console.print(best)
    if report.holdout is not None:
        h = report.holdout
        console.print(
            f"hold-out to {h.observation_end} ({h.duration:g} {report.time_unit}): predicted "
            f"{h.predicted_purchases:,.1f} repeat purchase days, actual {h.actual_purchases:,.0f}"
        )
    if report.predictions_file:
        console.print(f"per-customer predictions written to {report.predictions_file}")


def register(app: typer.Typer) -> None:
    """Add ``nextbest clv`` to the application."""
    app.add_typer(clv_app, name="clv")
