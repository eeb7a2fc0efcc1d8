"""Product propensity: who will adopt which product family next, three ways, compared.

For every product family the bank sells, three scorers estimate the probability that a live
customer who does not hold the family at T opens an account of it in (T, T + h]:

* ``model`` — one :class:`~nextbest.models.tabular.TabularClassifier` per family, trained on
  point-in-time adoption sets (features and history as of T, label in (T, T + h]);
* ``rules`` — cross-sell association rules mined from the holdings at the latest training
  as-of date (:class:`~nextbest.models.association.AssociationRules`);
* ``als`` — implicit-ALS collaborative filtering on the same holdings
  (:class:`~nextbest.models.recommender.ImplicitALS`).

Each raw score is turned into a probability by a one-variable logistic fit on the training
rows of its family (Platt scaling), so scores are comparable across families and scorers.
:func:`compare_scorers` evaluates all three on the same later validation point (AUC per
family against the baselines and, on the demo bank, the oracle; precision@k across
families) and :func:`choose_scorers` picks per family the scorer the decision engine
should use. :class:`PropensitySuite` keeps everything and scores a snapshot with the chosen
scorer per family (:meth:`PropensitySuite.predict`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from nextbest.domain.enums import ProductFamily
from nextbest.errors import NextbestError
from nextbest.models.association import AssociationRules, holdings_matrix
from nextbest.models.evaluation import roc_auc
from nextbest.models.recommender import ImplicitALS
from nextbest.models.report import ModelReport, build_report
from nextbest.models.tabular import TabularClassifier
from nextbest.models.training_sets import (
    HISTORY_LAGS,
    LIVE_STAGES,
    MODEL_FEATURES,
    SnapshotFrames,
    TrainingSpec,
    adoptions,
    history_columns,
    model_frame,
)

__all__ = [
    "FAMILIES",
    "SCORERS",
    "AdoptionPanel",
    "FamilyComparison",
    "PropensityError",
    "PropensitySuite",
    "build_adoption_panel",
    "choose_scorers",
    "compare_scorers",
    "family_reports",
    "precision_at_k",
    "validation_scores",
]

#: Every product family, in the enum's order.
FAMILIES: tuple[str, ...] = tuple(f.value for f in ProductFamily)
Scorer = Literal["model", "rules", "als"]
SCORERS: tuple[Scorer, ...] = ("model", "rules", "als")
#: Validation adoptions a family needs before its comparison counts as evidence.
MIN_EVIDENCE = 200


class PropensityError(NextbestError):
    """Propensity models cannot be built, fitted or applied with these inputs."""


@dataclass(frozen=True)
class AdoptionPanel:
    """Live customers per as-of date with model inputs, holdings and adoptions per family.

    ``frame`` holds ``as_of_date, customer_key, role`` and the features; ``held`` and
    ``adopted`` are boolean (rows × families) matrices: holding at T, and opening an
    account of the family in (T, T + h].
    """

    frame: pd.DataFrame = field(repr=False)
    held: NDArray[np.bool_] = field(repr=False)
    adopted: NDArray[np.bool_] = field(repr=False)
    features: tuple[str, ...]
    families: tuple[str, ...]
    spec: TrainingSpec

    def rows(self, role: str) -> NDArray[np.bool_]:
        return (self.frame["role"] == role).to_numpy()

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"spec": self.spec.to_dict(), "families": {}}
        for j, fam in enumerate(self.families):
            per = {}
            for role in ("train", "validation"):
                r = self.rows(role)
                eligible = r & ~self.held[:, j]
                per[role] = {
                    "eligible": int(eligible.sum()),
                    "adoptions": int((eligible & self.adopted[:, j]).sum()),
                }
            out["families"][fam] = per
        return out


def build_adoption_panel(
    frames: SnapshotFrames,
    spec: TrainingSpec,
    *,
    features: Sequence[str] = MODEL_FEATURES,
    history_lags: Sequence[int] = HISTORY_LAGS,
    families: Sequence[str] = FAMILIES,
    label_frames: SnapshotFrames | None = None,
    on_point: Callable[[date], None] | None = None,
) -> AdoptionPanel:
    """Adoption labels of every family for the live customers at each point of ``spec``.

    Features come from :func:`~nextbest.models.training_sets.model_frame` of T (snapshot of
    T and its history), holdings from the snapshot's ``holds_<family>`` columns, labels from
    accounts opened in (T, T + h] (:func:`~nextbest.models.training_sets.adoptions`, read
    with the label load cut-off). Eligibility per family (live, not holding) is applied by
    the consumers of the panel.
    """
    if frames.load_cutoff != spec.feature_cutoff:
        raise PropensityError("frames use a different load cut-off than the spec")
    labels_from = label_frames or (
        frames if spec.effective_label_cutoff == spec.feature_cutoff
        else SnapshotFrames(frames.source, spec.effective_label_cutoff, spec.timezone)
    )  # fmt: skip
    cols = (*features, *history_columns(history_lags))
    points = [(t, "train") for t in sorted(spec.train_as_of)]
    points.append((spec.validation_as_of, "validation"))
    parts, held, adopted = [], [], []
    for as_of, role in points:
        snap = model_frame(frames, as_of, history_lags)
        snap = snap[snap["stage"].isin(LIVE_STAGES).to_numpy()].reset_index(drop=True)
        opened = adoptions(labels_from, as_of, spec.horizon_end(as_of))
        fam_index = {f: j for j, f in enumerate(families)}
        row_of = pd.Series(np.arange(len(snap)), index=snap["customer_key"].to_numpy())
        A = np.zeros((len(snap), len(families)), dtype=bool)
        hit = opened[opened["customer_key"].isin(row_of.index) & opened["family"].isin(fam_index)]
        A[row_of.loc[hit["customer_key"]].to_numpy(), hit["family"].map(fam_index).to_numpy()] = (
            True
        )
        part = snap[["customer_key", *cols]].copy()
        part.insert(0, "as_of_date", as_of)
        part.insert(2, "role", role)
        parts.append(part)
        held.append(holdings_matrix(snap, families))
        adopted.append(A)
        if on_point is not None:
            on_point(as_of)
    return AdoptionPanel(
        frame=pd.concat(parts, ignore_index=True),
        held=np.vstack(held),
        adopted=np.vstack(adopted),
        features=cols,
        families=tuple(families),
        spec=spec,
    )


@dataclass
class _Platt:
    """p = sigmoid(a·g(s) + b) with g = logit for probabilities, identity otherwise."""

    a: float = 1.0
    b: float = 0.0
    logit_input: bool = False

    @staticmethod
    def _g(s: NDArray[np.float64], logit_input: bool) -> NDArray[np.float64]:
        if logit_input:
            s = np.clip(s, 1e-6, 1 - 1e-6)
            return np.log(s / (1 - s))
        return s

    def fit(self, s: NDArray[np.float64], y: NDArray[np.int64], logit_input: bool) -> _Platt:
        from sklearn.linear_model import LogisticRegression

        self.logit_input = logit_input
        x = self._g(np.asarray(s, dtype=np.float64), logit_input)
        scale = float(np.std(x)) or 1.0
        lr = LogisticRegression(C=1e4).fit((x / scale)[:, None], y)
        self.a, self.b = float(lr.coef_[0, 0]) / scale, float(lr.intercept_[0])
        return self

    def __call__(self, s: NDArray[np.float64]) -> NDArray[np.float64]:
        z = self.a * self._g(np.asarray(s, dtype=np.float64), self.logit_input) + self.b
        return 1.0 / (1.0 + np.exp(-z))


def _default_classifier(seed: int) -> TabularClassifier:
    return TabularClassifier(random_state=seed)


class PropensitySuite:
    """Per-family models, association rules and ALS on holdings, with the chosen scorer.

    Parameters
    ----------
    seed:
        Seed of the classifiers and the ALS initialisation.
    classifier:
        Unfitted template for the per-family models (default: ``TabularClassifier``
        defaults, no calibration — Platt scaling on the training rows is applied after).
    min_train_events:
        A family needs this many training adoptions for its own model; below, only the
        rules and ALS score it.
    max_rows:
        A family's classifier is fitted on at most this many rows: every adopter and a
        seeded random sample of the non-adopters (negatives are plentiful; this bounds the
        fit time on large banks). Its Platt scaling is then fitted on *all* eligible
        training rows, so probabilities keep the population's base rate. None: no cap.

    Attributes
    ----------
    families_ : tuple of str
        Families with at least one eligible training row.
    models_ : dict
        Family -> fitted classifier.
    rules_ : AssociationRules
    als_ : ImplicitALS
    calibrators_ : dict
        (scorer, family) -> Platt scaling of the raw score.
    choice_ : dict
        Family -> chosen scorer (``model`` until :func:`choose_scorers` sets it).
    """

    def __init__(
        self,
        seed: int = 0,
        classifier: TabularClassifier | None = None,
        min_train_events: int = 20,
        max_rows: int | None = 150_000,
        als: ImplicitALS | None = None,
        rules: AssociationRules | None = None,
    ) -> None:
        self.seed = seed
        self.classifier = classifier
        self.min_train_events = min_train_events
        self.max_rows = max_rows
        self.als = als
        self.rules = rules

    # -- fitting -------------------------------------------------------------------------
    def fit(
        self, panel: AdoptionPanel, on_family: Callable[[str], None] | None = None
    ) -> PropensitySuite:
        """Fit every scorer on the ``train`` rows of ``panel``; returns ``self``."""
        train = panel.rows("train")
        X = panel.frame.loc[train, list(panel.features)].reset_index(drop=True)
        held, adopted = panel.held[train], panel.adopted[train]
        latest = (panel.frame.loc[train, "as_of_date"] == max(panel.spec.train_as_of)).to_numpy()
        self.features_ = panel.features
        self.all_families_ = panel.families
        self.rules_ = (self.rules or AssociationRules()).fit(held[latest], panel.families)
        self.als_ = (self.als or ImplicitALS(seed=self.seed)).fit(held[latest], panel.families)
        rule_scores = self.rules_.score(held)
        als_scores = self.als_.score(held)
        template = self.classifier or _default_classifier(self.seed)
        params = {**template.get_params(), "random_state": self.seed}
        self.models_: dict[str, TabularClassifier] = {}
        self.calibrators_: dict[tuple[str, str], _Platt] = {}
        self.training_: dict[str, dict[str, int]] = {}
        families = []
        for j, fam in enumerate(panel.families):
            eligible = ~held[:, j]
            y = adopted[eligible, j].astype(np.int64)
            self.training_[fam] = {"eligible": int(eligible.sum()), "adoptions": int(y.sum())}
            if y.sum() < 2 or (y.size - y.sum()) < 2:
                continue
            families.append(fam)
            if y.sum() >= self.min_train_events:
                Xf = X[eligible].reset_index(drop=True)
                fit_rows = self._fit_rows(y, j)
                clf = TabularClassifier(**params).fit(Xf.iloc[fit_rows], y[fit_rows])
                self.models_[fam] = clf
                raw = clf.predict_proba(Xf)[:, 1]
                self.calibrators_[("model", fam)] = _Platt().fit(raw, y, logit_input=True)
            self.calibrators_[("rules", fam)] = _Platt().fit(
                rule_scores[eligible, j], y, logit_input=True
            )
            self.calibrators_[("als", fam)] = _Platt().fit(
                als_scores[eligible, j], y, logit_input=False
            )
            if on_family is not None:
                on_family(fam)
        self.families_ = tuple(families)
        self.choice_: dict[str, Scorer] = {
            f: ("model" if f in self.models_ else "rules") for f in self.families_
        }
        return self

    def _fit_rows(self, y: NDArray[np.int64], j: int) -> NDArray[np.int64]:
        """Rows a family's classifier is fitted on: all adopters plus sampled non-adopters."""
        if self.max_rows is None or y.size <= self.max_rows:
            return np.arange(y.size)
        pos = np.flatnonzero(y == 1)
        neg = np.flatnonzero(y == 0)
        take = max(self.max_rows - pos.size, min(neg.size, pos.size))
        rng = np.random.default_rng([self.seed, j])
        return np.sort(np.concatenate([pos, rng.choice(neg, size=take, replace=False)]))

    def _check(self) -> None:
        if not hasattr(self, "families_"):
            raise PropensityError("the propensity suite is not fitted yet")

    # -- scoring -------------------------------------------------------------------------
    def available(self, family: str) -> tuple[Scorer, ...]:
        """Scorers fitted for ``family``."""
        self._check()
        return tuple(s for s in SCORERS if (s, family) in self.calibrators_)

    def scores(self, frame: pd.DataFrame, scorer: Scorer) -> pd.DataFrame:
        """Probability of adoption per family (columns) with ``scorer``, one row per input row.

        Families the customer already holds, and families ``scorer`` has no fit for, are
        missing (NaN). ``frame`` is a :func:`~nextbest.models.training_sets.model_frame`
        (the ``model`` scorer needs the history columns; the others only ``holds_*``).
        """
        self._check()
        if scorer not in SCORERS:
            raise PropensityError(f"unknown scorer {scorer!r}; scorers are {', '.join(SCORERS)}")
        held = holdings_matrix(frame, self.all_families_)
        if scorer == "rules":
            raw = self.rules_.score(held)
        elif scorer == "als":
            raw = self.als_.score(held)
        else:
            missing = [f for f in self.features_ if f not in frame.columns]
            if missing:
                raise PropensityError(
                    f"feature column(s) missing for scoring: {', '.join(missing)}"
                )
            raw = np.full(held.shape, np.nan)
            X = frame[list(self.features_)]
            for j, fam in enumerate(self.all_families_):
                if fam in self.models_:
                    raw[:, j] = self.models_[fam].predict_proba(X)[:, 1]
        out = np.full(held.shape, np.nan)
        for j, fam in enumerate(self.all_families_):
            cal = self.calibrators_.get((scorer, fam))
            if cal is not None:
                out[:, j] = np.where(held[:, j], np.nan, cal(raw[:, j]))
        return pd.DataFrame(out, columns=list(self.all_families_), index=frame.index)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``customer_key`` and, per family, the chosen scorer's adoption probability.

        This is what the decision engine calls: NaN where the customer holds the family
        already or no scorer is fitted for it.
        """
        self._check()
        out = pd.DataFrame(index=frame.index)
        if "customer_key" in frame.columns:
            out["customer_key"] = frame["customer_key"].to_numpy()
        by_scorer: dict[str, pd.DataFrame] = {}
        for fam in self.all_families_:
            scorer = self.choice_.get(fam)
            if scorer is None:
                out[fam] = np.nan
                continue
            if scorer not in by_scorer:
                by_scorer[scorer] = self.scores(frame, scorer)
            out[fam] = by_scorer[scorer][fam].to_numpy()
        return out.reset_index(drop=True)

    def scorer_for(self, family: str) -> Scorer | None:
        """The scorer chosen for ``family`` (None when the family has no fit)."""
        self._check()
        return self.choice_.get(family)


# -- comparison ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FamilyComparison:
    """Validation AUC of each scorer (and of extra scores such as the oracle) for a family."""

    family: str
    eligible: int
    adoptions: int
    auc: dict[str, float]
    chosen: str | None = None

    @property
    def evidence(self) -> bool:
        return self.adoptions >= MIN_EVIDENCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "eligible": self.eligible,
            "adoptions": self.adoptions,
            "auc": self.auc,
            "chosen": self.chosen,
            "evidence": self.evidence,
        }


def precision_at_k(
    scores: NDArray[np.float64], adopted: NDArray[np.bool_], k: int
) -> tuple[float, int]:
    """Mean precision of each customer's top-``k`` families, over customers who adopted one.

    ``scores`` is customers × families with NaN for families not to recommend (held).
    Returns the precision and the number of customers it is averaged over.
    """
    who = adopted.any(axis=1)
    if not who.any():
        return 0.0, 0
    s = np.where(np.isnan(scores[who]), -np.inf, scores[who])
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    valid = np.take_along_axis(np.isfinite(s), top, axis=1)
    hits = np.take_along_axis(adopted[who], top, axis=1) & valid
    return float(hits.sum() / (k * who.sum())), int(who.sum())


def baseline_scores(frame: pd.DataFrame, families: Sequence[str]) -> NDArray[np.float64]:
    """Popularity-free baseline: product count (customers with more products adopt more).

    One column per family (the same score), for the AUC table.
    """
    pc = frame["product_count"].astype("float64").fillna(0).to_numpy()
    return np.repeat(pc[:, None], len(families), axis=1)


#: Every scorer's (validation rows × families) scores by name, then the held and adopted flags.
ValidationScores = tuple[dict[str, NDArray[np.float64]], NDArray[np.bool_], NDArray[np.bool_]]


def compare_scorers(
    suite: PropensitySuite,
    panel: AdoptionPanel,
    extra: Mapping[str, NDArray[np.float64]] | None = None,
    ks: Sequence[int] = (1, 3),
    *,
    scores: ValidationScores | None = None,
) -> dict[str, Any]:
    """AUC per family of every scorer on the validation rows, and precision@k across families.

    ``extra`` maps a name to a (validation rows × families) score matrix in the panel's
    family order (e.g. the demo oracle); it is reported beside the scorers but never chosen.
    ``scores``: :func:`validation_scores` of the same arguments, when already computed.
    """
    by, held, adopted = scores or validation_scores(suite, panel, extra)
    families: list[FamilyComparison] = []
    for j, fam in enumerate(panel.families):
        eligible = ~held[:, j]
        y = adopted[eligible, j]
        aucs: dict[str, float] = {}
        if 0 < y.sum() < y.size:
            for name, s in by.items():
                col = s[eligible, j]
                if np.isnan(col).all():
                    continue
                aucs[name] = float(roc_auc(y.astype(np.int64), np.nan_to_num(col, nan=-1.0)))
        families.append(FamilyComparison(fam, int(eligible.sum()), int(y.sum()), aucs))
    target = adopted & ~held
    precision = {}
    for name in (*SCORERS, *(extra or {})):
        s = np.where(held, np.nan, by[name])
        precision[name] = {f"p@{k}": precision_at_k(s, target, k)[0] for k in ks}
    precision["customers"] = precision_at_k(by["model"], target, 1)[1]
    return {
        "validation_as_of": panel.spec.validation_as_of.isoformat(),
        "horizon_months": panel.spec.horizon_months,
        "families": [f.to_dict() for f in families],
        "precision_at_k": precision,
    }


def validation_scores(
    suite: PropensitySuite,
    panel: AdoptionPanel,
    extra: Mapping[str, NDArray[np.float64]] | None = None,
) -> ValidationScores:
    """Every scorer's (validation rows × families) scores, with held and adopted flags."""
    val = panel.rows("validation")
    frame = panel.frame[val].reset_index(drop=True)
    by = {s: suite.scores(frame, s).to_numpy() for s in SCORERS}
    by["product_count"] = baseline_scores(frame, panel.families)
    for name, values in (extra or {}).items():
        by[name] = np.asarray(values, dtype=np.float64)
    return by, panel.held[val], panel.adopted[val]


def family_reports(
    suite: PropensitySuite,
    panel: AdoptionPanel,
    extra: Mapping[str, NDArray[np.float64]] | None = None,
    *,
    scores: ValidationScores | None = None,
) -> dict[str, ModelReport]:
    """The evaluation report of the model per family with validation adoptions: the
    customers not holding the family, the other scorers as baselines. ``scores`` as in
    :func:`compare_scorers`."""
    by, held, adopted = scores or validation_scores(suite, panel, extra)
    reports: dict[str, ModelReport] = {}
    for j, fam in enumerate(panel.families):
        eligible = ~held[:, j]
        y = adopted[eligible, j].astype(np.int64)
        model = by["model"][eligible, j]
        if not 0 < y.sum() < y.size or np.isnan(model).all():
            continue
        baselines = {
            name: np.nan_to_num(s[eligible, j], nan=-1.0)
            for name, s in by.items()
            if name != "model" and not np.isnan(s[eligible, j]).all()
        }
        reports[fam] = build_report(
            f"Adoption of {fam} within {panel.spec.horizon_months} months", y,
            np.nan_to_num(model, nan=0.0), baselines=baselines,
            design={"validation_as_of": panel.spec.validation_as_of.isoformat(),
                    "eligible": int(y.size), "adoptions": int(y.sum())},
        )  # fmt: skip
    return reports


def choose_scorers(
    suite: PropensitySuite, comparison: Mapping[str, Any], *, margin: float = 0.0
) -> dict[str, Scorer]:
    """Per family, the fitted scorer with the highest validation AUC; sets ``suite.choice_``.

    A family whose comparison has no AUC (no validation adoptions) keeps the model when it
    has one, else the rules. ``margin``: a challenger must beat the model by more than this
    to replace it (the model is preferred on a tie).
    """
    choice: dict[str, Scorer] = {}
    rows = {r["family"]: r for r in comparison["families"]}
    for fam in suite.families_:
        available = suite.available(fam)
        aucs = {s: rows.get(fam, {}).get("auc", {}).get(s) for s in available}
        aucs = {s: a for s, a in aucs.items() if a is not None}
        if not aucs:
            choice[fam] = "model" if "model" in available else "rules"
            continue
        best = max(aucs, key=lambda s: (aucs[s], s == "model"))
        if "model" in aucs and aucs[best] <= aucs["model"] + margin:
            best = "model"
        choice[fam] = best
    suite.choice_ = choice
    for r in comparison["families"]:
        r["chosen"] = choice.get(r["family"])
    return choice
