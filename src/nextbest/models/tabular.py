"""A gradient-boosted binary classifier for any table, following the scikit-learn contract.

``TabularClassifier`` wraps LightGBM so that a bank analyst can hand it a DataFrame as read
from a file: text, ``category`` and ``object`` columns become categoricals with the levels
seen in training, booleans and datetimes become numbers, missing values stay missing
(LightGBM routes them), and unseen levels at prediction time are treated as missing.

Training is reproducible: a fixed seed, LightGBM's ``deterministic`` mode with row-wise
histograms, and a fixed thread count. Probabilities can optionally be calibrated (isotonic
or Platt) on out-of-fold or held-out scores, so the calibrator never sees scores of records
the booster was trained on.

Scoring is exact and fast: a booster of small trees is compiled into lookup tables
(:mod:`nextbest.models.compiled`), and a deep booster can be distilled into small trees
(``distill_rounds``); otherwise LightGBM predicts from a float matrix on all cores.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from nextbest.models.compiled import CompiledBooster, NotCompilable, compile_booster

__all__ = ["FeatureImportance", "Reason", "TabularClassifier"]


@dataclass(frozen=True)
class FeatureImportance:
    """How much a feature contributed to the model's fit.

    ``gain`` is the total loss reduction of the splits on the feature, ``share`` that gain
    as a fraction of all features' gain, ``splits`` how many splits used it.
    """

    feature: str
    gain: float
    share: float
    splits: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Reason:
    """One feature's push on one record's score, in log-odds (positive raises the score)."""

    feature: str
    value: Any
    contribution: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_categorical(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or getattr(dtype, "kind", "") == "O"
    )


#: Training rows a distilled student sees at most (its target is smooth: fewer rows do).
_DISTIL_ROWS = 300_000
#: The student's trees: small enough to compile into lookup tables.
_STUDENT = {
    "objective": "regression",
    "num_leaves": 4,
    "learning_rate": 0.15,
    "min_data_in_leaf": 200,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "lambda_l2": 5.0,
}
#: Rows per block handed to LightGBM's predictor.
_PREDICT_BLOCK = 1 << 16


def _finite(name: str, values: NDArray[np.float64]) -> NDArray[np.float64]:
    if np.isinf(values).any():
        raise ValueError(f"Input X contains infinity in column {name!r}.")
    return values


def _level_codes(column: pd.Series, levels: list[Any]) -> NDArray[np.intp]:
    """Position of each value in ``levels``; -1 for missing or unseen values."""
    if getattr(column.dtype, "storage", None) == "pyarrow" and all(
        isinstance(v, str) for v in levels
    ):
        # Arrow-backed text: a hash lookup in C++, ten times faster than via objects.
        found = pc.index_in(pa.array(column), value_set=pa.array(levels, type=pa.string()))
        return np.asarray(found.fill_null(-1).to_numpy(), dtype=np.intp)
    values = column.astype("object").where(column.isin(levels), None)
    return np.asarray(pd.Categorical(values, categories=levels).codes, dtype=np.intp)


class TabularClassifier(ClassifierMixin, BaseEstimator):
    """Binary gradient-boosting classifier (LightGBM) with automatic categoricals.

    Parameters
    ----------
    n_estimators:
        Boosting rounds (the maximum when ``early_stopping_rounds`` is set).
    learning_rate, num_leaves, max_depth, min_child_samples:
        Tree shape and step size. The defaults are shallow and regularised: on small,
        noisy marketing tables they generalise better than LightGBM's own defaults.
    subsample, colsample_bytree:
        Row share per round and column share per tree.
    reg_lambda, reg_alpha:
        L2 and L1 penalties on leaf values.
    max_cat_to_onehot:
        Categoricals with at most this many levels are split one level against the rest;
        above it LightGBM's many-vs-many partition is used, which overfits small data.
    max_categories:
        Levels kept per categorical (most frequent first); rarer ones count as missing.
    early_stopping_rounds:
        If set, a stratified ``validation_fraction`` of the training data picks the number
        of rounds by log-loss; the model is then refitted on all training data.
    calibration:
        ``None``, ``"isotonic"`` or ``"sigmoid"`` (Platt), fitted on out-of-fold raw scores
        from ``calibration_folds`` folds (``calibration_folds`` + 1 boosters are trained).
    calibration_holdout:
        If set, the calibrator is fitted instead on this stratified share of the training
        rows, held out from the one booster trained on the rest: one fit instead of
        ``calibration_folds`` + 1, for large tables where a share is plenty.
    distill_rounds:
        If set, every booster is distilled after training: a student of
        ``distill_rounds`` four-leaf trees is fitted by least squares to the booster's raw
        scores on (up to 300,000 sampled) training rows and replaces it. Small trees compile
        into lookup tables (``compiled_``), so a deep model scores several times faster; the
        student's ranking tracks the teacher's closely (checked on the churn model).
    random_state:
        Seed for bagging, column sampling, the early-stopping split and calibration folds.
    n_jobs:
        LightGBM threads; fixed so results do not depend on the machine.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        Class labels; ``classes_[1]`` is the event.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Present when fitted on a DataFrame.
    categories_ : dict[str, list]
        Levels of each categorical column as seen in training.
    booster_ : lightgbm.Booster
    best_iteration_ : int
        Boosting rounds of the final model.
    calibrator_ : fitted IsotonicRegression or LogisticRegression, or None
    feature_importances_ : ndarray
        Gain share per feature (sums to 1 unless no split was made).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [25, 40, 33, 51] * 25, "segment": ["a", "b", "a", "c"] * 25})
    >>> y = [0, 1, 0, 1] * 25
    >>> model = TabularClassifier(n_estimators=20, min_child_samples=5).fit(X, y)
    >>> model.predict_proba(X).shape
    (100, 2)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "num_leaves": [Interval(Integral, 2, None, closed="left")],
        "max_depth": [Interval(Integral, -1, None, closed="left")],
        "min_child_samples": [Interval(Integral, 1, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "reg_alpha": [Interval(Real, 0, None, closed="left")],
        "max_cat_to_onehot": [Interval(Integral, 1, None, closed="left")],
        "max_categories": [Interval(Integral, 1, None, closed="left")],
        "early_stopping_rounds": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "calibration": [StrOptions({"isotonic", "sigmoid"}), None],
        "calibration_folds": [Interval(Integral, 2, None, closed="left")],
        "calibration_holdout": [Interval(Real, 0, 1, closed="neither"), None],
        "distill_rounds": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "n_jobs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 4,
        max_depth: int = -1,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.5,
        reg_lambda: float = 5.0,
        reg_alpha: float = 0.0,
        max_cat_to_onehot: int = 64,
        max_categories: int = 200,
        early_stopping_rounds: int | None = None,
        validation_fraction: float = 0.2,
        calibration: str | None = None,
        calibration_folds: int = 5,
        calibration_holdout: float | None = None,
        distill_rounds: int | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.max_cat_to_onehot = max_cat_to_onehot
        self.max_categories = max_categories
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.calibration_holdout = calibration_holdout
        self.distill_rounds = distill_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------------ preparation
    def _lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "lambda_l1": self.reg_alpha,
            "max_cat_to_onehot": self.max_cat_to_onehot,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "verbosity": -1,
        }

    def _learn_schema(self, X: pd.DataFrame) -> None:
        self.categories_: dict[str, list[Any]] = {}
        for name in X.columns:
            column = X[name]
            if _is_categorical(column):
                counts = column.astype("object").value_counts(dropna=True)
                kept = counts.iloc[: self.max_categories].index
                # Sorted levels make the codes independent of the order rows arrive in.
                self.categories_[str(name)] = sorted(kept, key=str)

    def _checked_frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """Validate ``X`` (names, shape) and return it as a frame with string column names."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
                    "is required."
                )
            frame = X.set_axis([str(c) for c in X.columns], axis=1)
        else:
            array = validate_data(
                self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan"
            )
            frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
        if reset:
            self._learn_schema(frame)
        return frame

    def _code_column(self, name: str, column: pd.Series) -> Any:
        """One column as LightGBM sees it: float64 values, or a Categorical of the levels."""
        if name in self.categories_:
            # Unseen (or capped-away) levels become missing.
            return pd.Categorical.from_codes(
                _level_codes(column, self.categories_[name]), self.categories_[name]
            )
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
            # NumPy-backed numbers: no copy for float64 (scoring only reads)
            return _finite(name, column.to_numpy().astype(np.float64, copy=False))
        if pd.api.types.is_bool_dtype(column.dtype):
            return column.to_numpy(dtype=np.float64, na_value=np.nan)
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            # Days since the epoch: trees only need the order.
            days = (column - pd.Timestamp(0, tz=column.dt.tz)).dt.days
            return days.to_numpy(dtype=np.float64, na_value=np.nan)
        try:
            values = pd.to_numeric(column).to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"column {name!r} was numeric when the model was fitted but holds "
                f"non-numeric values now ({exc})"
            ) from exc
        return _finite(name, values)

    def _to_frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """Validate ``X`` and return the frame LightGBM sees (categoricals coded)."""
        frame = self._checked_frame(X, reset=reset)
        out = {name: self._code_column(name, frame[name]) for name in frame.columns}
        return pd.DataFrame(out, index=frame.index)

    def _coded_values(
        self, X: Any, needed: set[int] | None = None
    ) -> tuple[dict[int, NDArray[np.float64]], int]:
        """Columns by position as float64 (categoricals as codes, missing as NaN), and rows.

        With ``needed``, categorical columns outside it are skipped (numeric ones are still
        checked: text or infinity in a numeric column is an error either way).
        """
        frame = self._checked_frame(X, reset=False)
        coded: dict[int, NDArray[np.float64]] = {}
        for i, name in enumerate(frame.columns):
            if needed is None or i in needed or name not in self.categories_:
                value = self._code_column(name, frame[name])
                if isinstance(value, pd.Categorical):
                    codes = value.codes
                    value = np.where(codes < 0, np.nan, codes.astype(np.float64))
                coded[i] = value
        return coded, len(frame)

    def _raw_score(self, X: Any) -> NDArray[np.float64]:
        """Raw scores: compiled tables when there are some, else LightGBM on a float matrix."""
        threads = min(os.cpu_count() or 1, 8)  # prediction does not depend on the threads
        compiled: CompiledBooster | None = getattr(self, "compiled_", None)
        if compiled is not None:
            coded, rows = self._coded_values(X, set(compiled.features))
            return compiled.raw_score(coded.__getitem__, rows, n_jobs=threads)
        coded, rows = self._coded_values(X)
        # blocks of a reused column-major matrix, which LightGBM reads without a copy
        block = min(rows, _PREDICT_BLOCK)
        matrix = np.empty((block, len(coded)), dtype=np.float64, order="F")
        raw = np.empty(rows, dtype=np.float64)
        for lo in range(0, rows, block):
            hi = min(lo + block, rows)
            part = matrix[: hi - lo]
            for i, values in coded.items():
                part[:, i] = values[lo:hi]
            raw[lo:hi] = self.booster_.predict(part, raw_score=True, num_threads=threads)
        return raw

    def _train(self, frame: pd.DataFrame, y: NDArray[np.float64], rounds: int) -> lgb.Booster:
        booster = lgb.train(self._lgb_params(), self._dataset(frame, y), num_boost_round=rounds)
        if self.distill_rounds is None:
            return booster
        return self._distil(frame, booster)

    def _distil(self, frame: pd.DataFrame, teacher: lgb.Booster) -> lgb.Booster:
        """Four-leaf trees fitted by least squares to ``teacher``'s raw scores."""
        assert self.distill_rounds is not None
        rows = np.arange(len(frame))
        if rows.size > _DISTIL_ROWS:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(rows.size, size=_DISTIL_ROWS, replace=False))
        sample = frame.iloc[rows]
        target = teacher.predict(sample, raw_score=True)
        params = {**self._lgb_params(), **_STUDENT}
        return lgb.train(params, self._dataset(sample, target), num_boost_round=self.distill_rounds)

    def _dataset(self, frame: pd.DataFrame, label: NDArray[np.float64]) -> lgb.Dataset:
        return lgb.Dataset(
            frame,
            label=label,
            categorical_feature=list(self.categories_) or "auto",
            free_raw_data=True,
            params={"max_cat_to_onehot": self.max_cat_to_onehot, "verbosity": -1},
        )

    def _rounds_by_early_stopping(self, frame: pd.DataFrame, y: NDArray[np.float64]) -> int:
        assert self.early_stopping_rounds is not None
        fit_idx, val_idx = train_test_split(
            np.arange(y.size),
            test_size=self.validation_fraction,
            stratify=y,
            random_state=self.random_state,
        )
        cats = list(self.categories_) or "auto"
        train_set = lgb.Dataset(frame.iloc[fit_idx], label=y[fit_idx], categorical_feature=cats)
        valid_set = lgb.Dataset(
            frame.iloc[val_idx], label=y[val_idx], categorical_feature=cats, reference=train_set
        )
        booster = lgb.train(
            {**self._lgb_params(), "metric": "binary_logloss"},
            train_set,
            num_boost_round=self.n_estimators,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        # Scale up for the larger refit sample, as is usual after a holdout search.
        best = booster.best_iteration or self.n_estimators
        return max(1, min(self.n_estimators, round(best / (1 - self.validation_fraction))))

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> TabularClassifier:
        """Fit on features ``X`` (DataFrame or array) and binary labels ``y``.

        Returns
        -------
        self
        """
        frame = self._to_frame(X, reset=True)
        y_arr = column_or_1d(y, warn=True)
        if y_arr.shape[0] != frame.shape[0]:
            raise ValueError(
                f"y must be 1-d with one label per row of X: got shape {y_arr.shape} "
                f"for {frame.shape[0]} rows"
            )
        check_classification_targets(y_arr)
        y_type = type_of_target(y_arr, input_name="y", raise_unknown=True)
        self.classes_ = np.unique(y_arr)
        if self.classes_.size == 1:
            raise ValueError(
                f"y holds 1 class only ({self.classes_[0]!r}); a binary model needs both"
            )
        if y_type != "binary" or self.classes_.size != 2:
            raise ValueError(
                "Only binary classification is supported. The type of the target is "
                f"{y_type}: exactly 2 classes are needed, got {self.classes_.size} "
                f"({self.classes_.tolist()[:5]})"
            )
        target = (y_arr == self.classes_[1]).astype(np.float64)

        rounds = self.n_estimators
        if self.early_stopping_rounds is not None:
            rounds = self._rounds_by_early_stopping(frame, target)
        self.best_iteration_ = int(rounds)
        self.calibrator_: IsotonicRegression | LogisticRegression | None = None
        if self.calibration is not None and self.calibration_holdout is not None:
            fit_idx, held_idx = train_test_split(
                np.arange(target.size),
                test_size=self.calibration_holdout,
                stratify=target,
                random_state=self.random_state,
            )
            fit_idx, held_idx = np.sort(fit_idx), np.sort(held_idx)
            self.booster_ = self._train(frame.iloc[fit_idx], target[fit_idx], rounds)
            raw = np.asarray(self.booster_.predict(frame.iloc[held_idx], raw_score=True))
            self.calibrator_ = self._calibrator(raw.astype(np.float64), target[held_idx])
        else:
            if self.calibration is not None:
                self.calibrator_ = self._fit_calibrator(frame, target, rounds)
            self.booster_ = self._train(frame, target, rounds)
        try:
            self.compiled_: CompiledBooster | None = compile_booster(self.booster_)
        except NotCompilable:
            self.compiled_ = None
        gain = self.booster_.feature_importance(importance_type="gain")
        total = gain.sum()
        self.feature_importances_ = gain / total if total > 0 else gain
        return self

    def _fit_calibrator(
        self, frame: pd.DataFrame, y: NDArray[np.float64], rounds: int
    ) -> IsotonicRegression | LogisticRegression:
        folds = StratifiedKFold(
            n_splits=self.calibration_folds, shuffle=True, random_state=self.random_state
        )
        raw = np.empty(y.size)
        for train_idx, held_idx in folds.split(frame, y):
            booster = self._train(frame.iloc[train_idx], y[train_idx], rounds)
            raw[held_idx] = booster.predict(frame.iloc[held_idx], raw_score=True)
        return self._calibrator(raw, y)

    def _calibrator(
        self, raw: NDArray[np.float64], y: NDArray[np.float64]
    ) -> IsotonicRegression | LogisticRegression:
        if self.calibration == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            return iso.fit(raw, y)
        return LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)

    # ------------------------------------------------------------------ prediction
    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """Uncalibrated score in log-odds (higher means more likely ``classes_[1]``)."""
        check_is_fitted(self)
        return self._raw_score(X)

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Probabilities of ``classes_[0]`` and ``classes_[1]`` (calibrated if configured)."""
        raw = self.decision_function(X)
        if self.calibrator_ is None:
            p1 = 1.0 / (1.0 + np.exp(-raw))
        elif isinstance(self.calibrator_, IsotonicRegression):
            p1 = self.calibrator_.predict(raw)
        else:
            p1 = self.calibrator_.predict_proba(raw.reshape(-1, 1))[:, 1]
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: Any) -> NDArray[Any]:
        """The more probable class label per row."""
        p1 = self.predict_proba(X)[:, 1]
        return self.classes_[(p1 > 0.5).astype(int)]

    # ------------------------------------------------------------------ explanations
    @property
    def feature_names_(self) -> list[str]:
        check_is_fitted(self)
        return list(self.booster_.feature_name())

    def importance(self) -> tuple[FeatureImportance, ...]:
        """Features by total split gain, largest first."""
        check_is_fitted(self)
        gain = self.booster_.feature_importance(importance_type="gain")
        splits = self.booster_.feature_importance(importance_type="split")
        total = float(gain.sum()) or 1.0
        rows = [
            FeatureImportance(name, float(g), float(g) / total, int(s))
            for name, g, s in zip(self.feature_names_, gain, splits, strict=True)
        ]
        return tuple(sorted(rows, key=lambda r: (-r.gain, r.feature)))

    def contributions(self, X: Any) -> pd.DataFrame:
        """Per-record contributions of each feature to the raw score (TreeSHAP values).

        Columns are the features plus ``bias`` (the expected raw score); each row sums to
        :meth:`decision_function`. Compute them for the records you explain, not for the
        whole population: they cost about as much as a prediction per feature.
        """
        check_is_fitted(self)
        frame = self._to_frame(X, reset=False)
        values = np.asarray(self.booster_.predict(frame, pred_contrib=True))
        return pd.DataFrame(values, columns=[*self.feature_names_, "bias"], index=frame.index)

    def top_reasons(self, X: Any, k: int = 3) -> list[tuple[Reason, ...]]:
        """The ``k`` features pushing each record's score up the most (positive only)."""
        contrib = self.contributions(X)
        original = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
        features = self.feature_names_
        values = contrib[features].to_numpy()
        result: list[tuple[Reason, ...]] = []
        for i in range(values.shape[0]):
            order = np.argsort(-values[i], kind="stable")[:k]
            reasons = tuple(
                Reason(features[j], original.iloc[i, j], float(values[i, j]))
                for j in order
                if values[i, j] > 0
            )
            result.append(reasons)
        return result
