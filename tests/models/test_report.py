import json
import re
import xml.etree.ElementTree as ET

import numpy as np

from nextbest.models.evaluation import summarise_folds
from nextbest.models.report import build_report, render_html
from nextbest.models.tabular import FeatureImportance


def _report():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 800)
    score = np.clip(0.35 * y + rng.uniform(0, 0.65, 800), 0, 1)
    recency = np.where(y == 1, 20, 60) + rng.integers(0, 80, 800)
    return build_report(
        "demo <churn>",
        y,
        score,
        baselines={"recency alone": -recency},
        cross_validation={"auc": summarise_folds([0.8, 0.82, 0.79])},
        design={"cross-validation": "3 x 5-fold, seed 42"},
        importance=[
            FeatureImportance("recency", 10.0, 0.8, 12),
            FeatureImportance("age", 2.5, 0.2, 4),
        ],
        notes=["Column 'duration' not used: excluded by the user."],
    )


def test_report_json_holds_model_and_baselines() -> None:
    report = _report()
    data = json.loads(report.to_json())
    assert set(data["baselines"]) == {"recency alone"}
    assert data["model"]["auc"] == report.model.auc
    assert data["cross_validation"]["auc"]["n"] == 3
    assert data["importance"][0]["feature"] == "recency"
    # The baseline is not a probability: its confusion cut-off is its median.
    assert data["baselines"]["recency alone"]["confusion"]["threshold"] < 0


def test_html_is_self_contained_with_well_formed_charts() -> None:
    page = render_html(_report())
    assert page.startswith("<!DOCTYPE html>")
    assert "demo &lt;churn&gt;" in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    titles = [ET.fromstring(s).get("aria-label") for s in svgs]
    assert titles == [
        "ROC curve",
        "Cumulative gains",
        "Lift by decile",
        "Reliability (model)",
        "feature importance",
    ]
    assert "recency alone" in page and "Gains table" in page
