"""Evaluation report of a model beside simple baselines, as JSON and as one HTML page.

The HTML page is self-contained: styles and charts (ROC, cumulative gains, lift by decile,
reliability curve, feature importance) are inline SVG drawn here, with no script and no
external resource, so it can be mailed or archived as one file.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from numpy.typing import ArrayLike

from nextbest.models.evaluation import BinaryEvaluation, FoldSummary, evaluate_binary
from nextbest.models.tabular import FeatureImportance

__all__ = ["ModelReport", "build_report", "render_html"]

_PALETTE = ("#1f5fa8", "#d9792b", "#2e9b57", "#b8405e", "#7a5cb0", "#6b6b6b")


@dataclass(frozen=True)
class ModelReport:
    """Everything the report shows.

    Attributes
    ----------
    title:
        Heading, e.g. the data file and target.
    model:
        Metrics of the model's scores (out-of-fold when cross-validated).
    baselines:
        Metrics of simple comparison scores, by name.
    cross_validation:
        Per metric, the spread over folds (absent when the scores come from one split).
    design:
        How the scores were obtained: folds, repeats, seed, threshold, rows, features.
    importance:
        Feature importance of the final model, largest first.
    notes:
        Sentences the reader must see (e.g. excluded leakage columns).
    """

    title: str
    model: BinaryEvaluation
    baselines: dict[str, BinaryEvaluation]
    cross_validation: dict[str, FoldSummary] | None = None
    design: dict[str, Any] = field(default_factory=dict)
    importance: tuple[FeatureImportance, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "design": self.design,
            "notes": list(self.notes),
            "model": self.model.to_dict(),
            "cross_validation": (
                {k: v.to_dict() for k, v in self.cross_validation.items()}
                if self.cross_validation
                else None
            ),
            "baselines": {k: v.to_dict() for k, v in self.baselines.items()},
            "importance": [r.to_dict() for r in self.importance],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str)


def build_report(
    title: str,
    y_true: ArrayLike,
    score: ArrayLike,
    *,
    baselines: Mapping[str, ArrayLike] | None = None,
    threshold: float = 0.5,
    cross_validation: Mapping[str, FoldSummary] | None = None,
    design: Mapping[str, Any] | None = None,
    importance: Sequence[FeatureImportance] = (),
    notes: Sequence[str] = (),
) -> ModelReport:
    """Evaluate ``score`` and each baseline score on the same outcomes ``y_true``.

    Baseline scores need not be probabilities (a recency in days, negated, will do); their
    ranking metrics are exact and their confusion table uses the median score as cut-off.
    """
    base: dict[str, BinaryEvaluation] = {}
    for name, values in (baselines or {}).items():
        import numpy as np

        arr = np.asarray(values, dtype=float)
        cut = threshold if arr.min() >= 0 and arr.max() <= 1 else float(np.median(arr))
        base[name] = evaluate_binary(y_true, arr, threshold=cut)
    return ModelReport(
        title=title,
        model=evaluate_binary(y_true, score, threshold=threshold),
        baselines=base,
        cross_validation=dict(cross_validation) if cross_validation else None,
        design=dict(design or {}),
        importance=tuple(importance),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------- drawing
_W, _H, _PAD = 420, 300, 48


def _sx(x: float, lo: float, hi: float) -> float:
    return _PAD + (x - lo) / ((hi - lo) or 1) * (_W - 1.5 * _PAD)


def _sy(y: float, lo: float, hi: float) -> float:
    return _H - _PAD - (y - lo) / ((hi - lo) or 1) * (_H - 1.6 * _PAD)


def _frame(
    title: str,
    xlabel: str,
    ylabel: str,
    xr: tuple[float, float],
    yr: tuple[float, float],
    xticks: Sequence[float] | None = None,
) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{_W / 2}" y="18" text-anchor="middle" class="t">{html.escape(title)}</text>',
        f'<rect x="{_PAD}" y="{0.6 * _PAD}" width="{_W - 1.5 * _PAD}" '
        f'height="{_H - 1.6 * _PAD}" class="plot"/>',
    ]
    ticks = xticks if xticks is not None else [xr[0] + (xr[1] - xr[0]) * i / 4 for i in range(5)]
    for fx in ticks:
        x = _sx(fx, *xr)
        parts.append(f'<text x="{x:.1f}" y="{_H - _PAD + 14}" text-anchor="middle">{fx:.2g}</text>')
    for i in range(5):
        fy = yr[0] + (yr[1] - yr[0]) * i / 4
        y = _sy(fy, *yr)
        parts.append(f'<text x="{_PAD - 4}" y="{y + 4:.1f}" text-anchor="end">{fy:.2g}</text>')
        parts.append(
            f'<line x1="{_PAD}" x2="{_W - _PAD / 2}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>'
        )
    parts.append(
        f'<text x="{_W / 2}" y="{_H - 8}" text-anchor="middle">{html.escape(xlabel)}</text>'
    )
    parts.append(
        f'<text x="12" y="{_H / 2}" text-anchor="middle" '
        f'transform="rotate(-90 12 {_H / 2})">{html.escape(ylabel)}</text>'
    )
    return parts


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    for i, name in enumerate(names):
        y = 0.6 * _PAD + 14 + 14 * i
        colour = _PALETTE[i % len(_PALETTE)]
        out.append(f'<rect x="{_PAD + 8}" y="{y - 8}" width="10" height="3" fill="{colour}"/>')
        out.append(f'<text x="{_PAD + 22}" y="{y}" class="l">{html.escape(name)}</text>')
    return out


def _polyline(
    xs: Sequence[float],
    ys: Sequence[float],
    xr: tuple[float, float],
    yr: tuple[float, float],
    colour: str,
    marker: bool = False,
) -> str:
    # ROC curves of large samples have thousands of points; every k-th keeps the file small
    # while the curve stays visually exact.
    step = max(1, len(xs) // 400)
    idx = [*range(0, len(xs), step), len(xs) - 1] if xs else []
    pts = " ".join(f"{_sx(xs[i], *xr):.1f},{_sy(ys[i], *yr):.1f}" for i in idx)
    line = f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>'
    if marker:
        line += "".join(
            f'<circle cx="{_sx(xs[i], *xr):.1f}" cy="{_sy(ys[i], *yr):.1f}" r="3" fill="{colour}"/>'
            for i in idx
        )
    return line


def _line_chart(
    title: str,
    xlabel: str,
    ylabel: str,
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    diagonal: bool,
    xr: tuple[float, float] = (0, 1),
    yr: tuple[float, float] = (0, 1),
    marker: bool = False,
) -> str:
    parts = _frame(title, xlabel, ylabel, xr, yr)
    if diagonal:
        parts.append(_polyline([xr[0], xr[1]], [yr[0], yr[1]], xr, yr, "#aaaaaa"))
    for i, (_, xs, ys) in enumerate(series):
        parts.append(_polyline(xs, ys, xr, yr, _PALETTE[i % len(_PALETTE)], marker))
    parts += _legend([name for name, _, _ in series])
    parts.append("</svg>")
    return "".join(parts)


def _lift_bars(title: str, series: Sequence[tuple[str, Sequence[float]]]) -> str:
    top = max([max(v) for _, v in series] + [1.0]) * 1.1
    n_bins = max(len(v) for _, v in series)
    parts = _frame(
        title,
        "decile (1 = highest scores)",
        "lift",
        (0.5, n_bins + 0.5),
        (0, top),
        xticks=list(range(1, n_bins + 1)),
    )
    width = (_W - 1.5 * _PAD) / n_bins / (len(series) + 1)
    for s, (_, values) in enumerate(series):
        colour = _PALETTE[s % len(_PALETTE)]
        for k, v in enumerate(values):
            x = _sx(k + 1, 0.5, n_bins + 0.5) - width * len(series) / 2 + s * width
            y = _sy(v, 0, top)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{_sy(0, 0, top) - y:.1f}" fill="{colour}"/>'
            )
    one = _sy(1, 0, top)
    parts.append(
        f'<line x1="{_PAD}" x2="{_W - _PAD / 2}" y1="{one:.1f}" y2="{one:.1f}" class="ref"/>'
    )
    parts += _legend([name for name, _ in series])
    parts.append("</svg>")
    return "".join(parts)


def _importance_bars(rows: Sequence[FeatureImportance], limit: int = 20) -> str:
    rows = list(rows[:limit])
    height = 40 + 18 * len(rows)
    top = max((r.share for r in rows), default=1.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W + 120}" height="{height}" '
        f'viewBox="0 0 {_W + 120} {height}" role="img" aria-label="feature importance">',
        f'<text x="{(_W + 120) / 2}" y="18" text-anchor="middle" class="t">'
        "Feature importance (share of split gain)</text>",
    ]
    for i, r in enumerate(rows):
        y = 30 + 18 * i
        w = r.share / top * (_W - 100)
        parts.append(
            f'<text x="155" y="{y + 12}" text-anchor="end">{html.escape(r.feature[:24])}</text>'
        )
        parts.append(
            f'<rect x="160" y="{y + 2}" width="{w:.1f}" height="13" fill="{_PALETTE[0]}"/>'
        )
        parts.append(f'<text x="{164 + w:.1f}" y="{y + 12}">{r.share:.1%}</text>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------- page
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#222}
body{max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f2f4f7}td:first-child,th:first-child{text-align:left}
svg{font-size:11px;margin:.4em .8em .4em 0}svg .t{font-size:13px;font-weight:600}
svg .plot{fill:#fafbfc;stroke:#999}svg .g{stroke:#e4e4e4}svg .ref{stroke:#888;stroke-dasharray:4 3}
.charts{display:flex;flex-wrap:wrap}
.note{background:#fff7e0;padding:.5em 1em;border-left:4px solid #e0a800}
"""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: ModelReport) -> str:
    """The report as one self-contained HTML page."""
    scored = {"model": report.model, **report.baselines}
    metric_rows = [
        [
            name,
            ev.auc,
            ev.gini,
            ev.ks,
            ev.top_decile_lift,
            ev.calibration.brier,
            ev.confusion.threshold,
            ev.confusion.precision,
            ev.confusion.recall,
            ev.confusion.f1,
        ]
        for name, ev in scored.items()
    ]
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
    ]
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in report.notes]
    if report.design:
        parts.append("<h2>Design</h2>")
        parts.append(_table(["item", "value"], [[k, v] for k, v in report.design.items()]))
    m = report.model
    parts.append(
        f"<h2>Metrics</h2><p>{m.n:,} records, {m.events:,} events "
        f"(rate {m.event_rate:.2%}). Baselines are scored on the same records.</p>"
    )
    parts.append(
        _table(
            [
                "score",
                "AUC",
                "Gini",
                "KS",
                "top-decile lift",
                "Brier",
                "threshold",
                "precision",
                "recall",
                "F1",
            ],
            metric_rows,
        )
    )
    if report.cross_validation:
        parts.append("<h2>Spread over cross-validation folds</h2>")
        parts.append(
            _table(
                ["metric", "mean", "sd", "min", "max", "95% interval of the mean"],
                [
                    [
                        k,
                        s.mean,
                        s.sd,
                        s.minimum,
                        s.maximum,
                        f"{s.interval.lower:.4f} – {s.interval.upper:.4f}",
                    ]
                    for k, s in report.cross_validation.items()
                ],
            )
        )
    roc = [(n, list(e.roc.fpr), list(e.roc.tpr)) for n, e in scored.items()]
    gains = [
        (
            n,
            [0.0] + [r.bin / len(e.gains) for r in e.gains],
            [0.0] + [r.cumulative_gain for r in e.gains],
        )
        for n, e in scored.items()
    ]
    cal = m.calibration
    top = max([*cal.mean_predicted, *cal.observed_rate, 0.01]) * 1.05
    parts.append('<h2>Charts</h2><div class="charts">')
    parts.append(
        _line_chart("ROC curve", "false-positive rate", "true-positive rate", roc, diagonal=True)
    )
    parts.append(
        _line_chart(
            "Cumulative gains",
            "share of records contacted",
            "share of events",
            gains,
            diagonal=True,
        )
    )
    parts.append(
        _lift_bars("Lift by decile", [(n, [r.lift for r in e.gains]) for n, e in scored.items()])
    )
    parts.append(
        _line_chart(
            "Reliability (model)",
            "mean predicted probability",
            "observed event rate",
            [("model", list(cal.mean_predicted), list(cal.observed_rate))],
            diagonal=True,
            xr=(0, top),
            yr=(0, top),
            marker=True,
        )
    )
    if report.importance:
        parts.append(_importance_bars(report.importance))
    parts.append("</div>")
    parts.append("<h2>Gains table (model)</h2>")
    parts.append(
        _table(
            [
                "decile",
                "records",
                "events",
                "event rate",
                "lift",
                "cumulative gain",
                "cumulative lift",
                "min score",
                "max score",
            ],
            [
                [
                    r.bin,
                    r.count,
                    r.events,
                    r.event_rate,
                    r.lift,
                    r.cumulative_gain,
                    r.cumulative_lift,
                    r.min_score,
                    r.max_score,
                ]
                for r in m.gains
            ],
        )
    )
    parts.append(
        f"<h2>Calibration (model)</h2><p>Brier score {cal.brier:.4f} against "
        f"{cal.brier_reference:.4f} for always predicting the event rate; expected "
        f"calibration error {cal.expected_calibration_error:.4f}.</p>"
    )
    parts.append(
        _table(
            ["bin", "records", "mean predicted", "observed rate"],
            [
                [i + 1, c, p, o]
                for i, (c, p, o) in enumerate(
                    zip(cal.counts, cal.mean_predicted, cal.observed_rate, strict=True)
                )
            ],
        )
    )
    c = m.confusion
    parts.append(f"<h2>Confusion at threshold {c.threshold:g} (model)</h2>")
    parts.append(
        _table(
            ["", "predicted event", "predicted non-event"],
            [
                ["actual event", c.true_positive, c.false_negative],
                ["actual non-event", c.false_positive, c.true_negative],
            ],
        )
    )
    if report.importance:
        parts.append("<h2>Feature importance</h2>")
        parts.append(
            _table(
                ["feature", "gain", "share", "splits"],
                [[r.feature, r.gain, r.share, r.splits] for r in report.importance],
            )
        )
    parts.append("</body></html>")
    return "\n".join(parts)
