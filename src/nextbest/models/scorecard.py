"""Points scorecard: WOE binning, IV-based selection, logistic regression, points scaling.

Scaling follows the usual convention on the odds of a non-event ("good") to an event
("bad"): a record at ``base_odds`` (e.g. 50:1) scores ``base_score`` (e.g. 600) and every
doubling of the odds adds ``pdo`` points::

    factor = pdo / ln 2
    offset = base_score - factor * ln(base_odds)
    score  = offset + factor * ln(odds_good) = offset - factor * logit(PD)

With the model ``logit(PD) = b0 + sum_j b_j * WOE_j`` the score splits exactly into base
points ``offset - factor * b0`` plus, per feature, ``-factor * b_j * WOE(bin)``: the
exported table is the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from nextbest.models.binning import BINNING_METHODS, BinningMethod, FeatureBinning, fit_binning

__all__ = ["Scorecard", "ScorecardRow"]

BASE_ROW = "(base points)"


@dataclass(frozen=True)
class ScorecardRow:
    """One line of the exported scorecard."""

    feature: str
    bin: str
    count: int
    event_rate: float
    woe: float
    points: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Scorecard(ClassifierMixin, BaseEstimator):
    """Credit scorecard on a DataFrame; ``y = 1`` is the bad outcome (e.g. 90+ DPD in 12m).

    Parameters
    ----------
    min_iv:
        Features with information value below this are dropped (0.02 = "useless" cut).
    max_features:
        Keep at most this many features by IV (``None``: all above ``min_iv``).
    binning:
        ``optimal`` (optbinning's solver) or ``pav`` (the pool-adjacent-violators heuristic).
    n_prebins, min_bin_share:
        Binning settings (see :func:`nextbest.models.binning.fit_binning`).
    C:
        Inverse L2 strength of the logistic regression.
    base_score, base_odds, pdo:
        Points scaling: ``base_score`` at good:bad odds ``base_odds``, ``pdo`` points to
        double the odds.

    Attributes
    ----------
    binnings_ : dict[str, FeatureBinning]
        Binning of every candidate feature (selected or not), for the IV report.
    selected_ : list[str]
        Features in the model.
    model_ : LogisticRegression
    factor_, offset_ : float
    classes_ : ndarray
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "min_iv": [Interval(Real, 0, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "binning": [StrOptions(set(BINNING_METHODS))],
        "n_prebins": [Interval(Integral, 2, None, closed="left")],
        "min_bin_share": [Interval(Real, 0, 0.5, closed="both")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "base_score": [Real],
        "base_odds": [Interval(Real, 0, None, closed="neither")],
        "pdo": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        min_iv: float = 0.02,
        max_features: int | None = None,
        binning: BinningMethod = "optimal",
        n_prebins: int = 20,
        min_bin_share: float = 0.05,
        C: float = 1.0,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
    ) -> None:
        self.min_iv = min_iv
        self.max_features = max_features
        self.binning = binning
        self.n_prebins = n_prebins
        self.min_bin_share = min_bin_share
        self.C = C
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo

    def __setstate__(self, state: dict[str, Any]) -> None:
        # scorecards saved before the ``binning`` parameter existed were binned by PAV
        state.setdefault("binning", "pav")
        super().__setstate__(state)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: pd.DataFrame, y: Any) -> Scorecard:
        """Bin every column, select by IV, fit the regression, derive the points."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError("Scorecard.fit needs a DataFrame (column names become features)")
        y_arr = np.asarray(y)
        self.classes_ = np.unique(y_arr)
        if self.classes_.size != 2:
            raise ValueError(f"Scorecard needs a binary target, got classes {self.classes_}")
        target = (y_arr == self.classes_[1]).astype(float)
        self.binnings_: dict[str, FeatureBinning] = {
            str(c): fit_binning(
                X[c],
                target,
                feature=str(c),
                method=self.binning,
                n_prebins=self.n_prebins,
                min_bin_share=self.min_bin_share,
            )
            for c in X.columns
        }
        ranked = sorted(self.binnings_.values(), key=lambda b: (-b.iv, b.feature))
        chosen = [b.feature for b in ranked if b.iv >= self.min_iv]
        if self.max_features is not None:
            chosen = chosen[: self.max_features]
        if not chosen:
            raise ValueError(f"no feature reaches min_iv={self.min_iv}")
        self.selected_ = chosen
        self.feature_names_in_ = np.array([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(self._woe(X), target)
        self.factor_ = self.pdo / np.log(2.0)
        self.offset_ = self.base_score - self.factor_ * np.log(self.base_odds)
        return self

    def _woe(self, X: pd.DataFrame) -> NDArray[np.float64]:
        missing = [c for c in self.selected_ if c not in X.columns]
        if missing:
            raise ValueError(f"column(s) missing from X: {', '.join(missing)}")
        return np.column_stack([self.binnings_[c].transform(X[c]) for c in self.selected_])

    def decision_function(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Log-odds of the bad outcome."""
        check_is_fitted(self)
        return np.asarray(self.model_.decision_function(self._woe(X)), dtype=np.float64)

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Columns: probability of ``classes_[0]`` (good) and ``classes_[1]`` (bad = PD)."""
        logit = self.decision_function(X)
        pd_ = 1.0 / (1.0 + np.exp(-logit))
        return np.column_stack([1.0 - pd_, pd_])

    def predict(self, X: pd.DataFrame) -> NDArray[Any]:
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]

    def probability_of_default(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """PD per record (probability of the bad outcome)."""
        return self.predict_proba(X)[:, 1]

    @property
    def base_points_(self) -> float:
        check_is_fitted(self)
        return float(self.offset_ - self.factor_ * self.model_.intercept_[0])

    def table(self) -> tuple[ScorecardRow, ...]:
        """The scorecard: base points, then every bin of every selected feature."""
        check_is_fitted(self)
        rows = [ScorecardRow(BASE_ROW, "", 0, float("nan"), 0.0, self.base_points_)]
        for coef, feature in zip(self.model_.coef_[0], self.selected_, strict=True):
            for b in self.binnings_[feature].bins:
                points = float(-self.factor_ * coef * b.woe)
                rows.append(ScorecardRow(feature, b.label, b.count, b.event_rate, b.woe, points))
            # Values with no bin (unseen level) have WOE 0 and so 0 points.
        return tuple(rows)

    def table_frame(self) -> pd.DataFrame:
        """:meth:`table` as a DataFrame, ready for CSV/Excel export."""
        return pd.DataFrame([r.to_dict() for r in self.table()])

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points per selected feature per record, looked up in :meth:`table`."""
        check_is_fitted(self)
        rows = self.table()
        out = {}
        for feature in self.selected_:
            values = np.array([r.points for r in rows if r.feature == feature] + [0.0])
            idx = self.binnings_[feature].bin_index(X[feature])
            out[feature] = values[np.where(idx < 0, len(values) - 1, idx)]
        return pd.DataFrame(out, index=X.index)

    def credit_score(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Scorecard points per record: base points plus the points of each feature's bin.

        (``score`` keeps scikit-learn's meaning, accuracy on ``X, y``.)
        """
        return self.base_points_ + self.points(X).sum(axis=1).to_numpy()
