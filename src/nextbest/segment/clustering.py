"""Data-driven segmentation: k-means or a Gaussian mixture on standardised snapshot features.

Follows the scikit-learn estimator contract: ``__init__`` stores hyper-parameters, ``fit``
returns ``self`` and learned attributes end in ``_``. The model is fitted on a seeded sample
of at most ``sample_size`` customers and applied to everyone with :meth:`predict` (also to
customers who arrive later: assignment only needs their features).

Number of segments: tried over ``k_range`` and chosen by a stated criterion that never looks
at any true segment — the mean silhouette on a seeded sub-sample for k-means (highest wins),
the Bayesian information criterion for the Gaussian mixture (lowest wins).

Each segment is described by its most distinguishing features: the features whose mean in
the segment differs most from the overall mean, in standard deviations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from nextbest.errors import NextbestError
from nextbest.profile.catalogue import feature

__all__ = ["DEFAULT_FEATURES", "SegmentDescription", "SegmentModel", "SegmentationError"]

Transform = Literal["log", "raw"]

#: Features and how they enter the model (``log``: log1p of the non-negative value).
DEFAULT_FEATURES: tuple[tuple[str, Transform], ...] = (
    ("age", "raw"),
    ("annual_income", "log"),
    ("aum", "log"),
    ("investment_adb", "log"),
    ("loan_balance", "log"),
    ("credit_limit", "log"),
    ("product_count", "raw"),
    ("txn_count_90d", "log"),
    ("spend_amount_365d", "log"),
    ("txn_amount_365d", "log"),
    ("digital_txn_share_90d", "raw"),
    ("logins_30d", "log"),
    ("salary_months_6m", "raw"),
    ("spend_share_travel", "raw"),
    ("spend_share_online_shopping", "raw"),
    ("spend_share_grocery", "raw"),
    ("holds_mortgage", "raw"),
    ("holds_credit_card", "raw"),
)


def _threads(rows: int) -> int | None:
    """One thread for small inputs: OpenMP start-up and spinning cost more than the work
    there, dramatically so on a busy machine (tens of seconds for a few thousand rows)."""
    return 1 if rows < 50_000 else None


def _zh(name: str) -> str:
    try:
        return feature(name).zh
    except KeyError:  # a derived input that is not a catalogue feature
        return name


class SegmentationError(NextbestError):
    """Segmentation cannot run on this input."""


@dataclass(frozen=True)
class SegmentDescription:
    """One data-driven segment: size and its most distinguishing features."""

    segment: str
    customers: int
    share: float
    top_features: tuple[tuple[str, float], ...]  # (feature, mean difference in SD)
    label_zh: str
    label_en: str

    @property
    def text(self) -> str:
        return "; ".join(f"{name} {z:+.2f} SD" for name, z in self.top_features)


class SegmentModel:
    """Cluster customers on standardised features.

    Parameters
    ----------
    method:
        ``"kmeans"`` (k by silhouette) or ``"gmm"`` (full-covariance Gaussian mixture, k by
        BIC).
    k_range:
        Candidate numbers of segments.
    features:
        ``(column, transform)`` pairs read from the snapshot.
    sample_size:
        At most this many customers are used to fit (a seeded random sample).
    silhouette_sample:
        Customers on which the silhouette is computed (it is quadratic in their number).
    random_state:
        Seed of sampling and of the clustering algorithm.
    """

    def __init__(
        self,
        method: Literal["kmeans", "gmm"] = "kmeans",
        k_range: Sequence[int] = tuple(range(3, 11)),
        features: Sequence[tuple[str, Transform]] = DEFAULT_FEATURES,
        sample_size: int = 200_000,
        silhouette_sample: int = 5_000,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.k_range = k_range
        self.features = features
        self.sample_size = sample_size
        self.silhouette_sample = silhouette_sample
        self.random_state = random_state

    # --- features --------------------------------------------------------------------
    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c, _ in self.features if c not in frame.columns]
        if missing:
            raise SegmentationError(f"segmentation: snapshot columns missing: {missing}")
        cols = []
        for name, how in self.features:
            x = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
            if how == "log":
                x = np.log1p(np.clip(x, 0, None))
            cols.append(x)
        return np.column_stack(cols)

    def _standardise(self, raw: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(raw), self.fill_[None, :], raw)
        return (filled - self.mean_[None, :]) / self.scale_[None, :]

    # --- fitting ---------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> SegmentModel:
        """Fit on (a sample of) ``frame``, one row per customer with the feature columns."""
        if len(frame) < max(self.k_range) * 2:
            raise SegmentationError(
                f"segmentation: {len(frame)} customers are too few for up to "
                f"{max(self.k_range)} segments"
            )
        rng = np.random.default_rng(self.random_state)
        n = min(self.sample_size, len(frame))
        rows = np.sort(rng.choice(len(frame), size=n, replace=False))
        raw = self._raw(frame.iloc[rows])
        self.fill_ = np.nan_to_num(np.nanmedian(raw, axis=0))
        filled = np.where(np.isnan(raw), self.fill_[None, :], raw)
        self.mean_ = filled.mean(axis=0)
        scale = filled.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        x = (filled - self.mean_) / self.scale_
        self.scores_: dict[int, float] = {}
        models = {}
        probe = rng.choice(n, size=min(self.silhouette_sample, n), replace=False)
        with threadpool_limits(_threads(n)):
            for k in self.k_range:
                model = self._model(k).fit(x)
                models[k] = model
                if self.method == "kmeans":
                    self.scores_[k] = float(
                        silhouette_score(x[probe], model.predict(x[probe]), random_state=0)
                    )
                else:
                    self.scores_[k] = float(model.bic(x))
        if self.method == "kmeans":
            self.criterion_ = "silhouette (highest)"
            self.k_ = max(self.scores_, key=lambda k: (self.scores_[k], -k))
        else:
            self.criterion_ = "BIC (lowest)"
            self.k_ = min(self.scores_, key=lambda k: (self.scores_[k], k))
        self.model_ = models[self.k_]
        # Codes s1..sk by descending size in the fit sample, so they are stable across runs.
        labels = self.model_.predict(x)
        sizes = np.bincount(labels, minlength=self.k_)
        order = np.lexsort((np.arange(self.k_), -sizes))
        self.code_of_ = np.empty(self.k_, dtype=object)
        self.code_of_[order] = [f"s{i + 1}" for i in range(self.k_)]
        self.descriptions_ = self._describe(x, labels)
        return self

    def _model(self, k: int) -> KMeans | GaussianMixture:
        if self.method == "kmeans":
            return KMeans(n_clusters=k, n_init=4, random_state=self.random_state)
        if self.method == "gmm":
            return GaussianMixture(
                n_components=k,
                covariance_type="full",
                n_init=2,
                reg_covar=0.05,  # binary features would otherwise give singular components
                random_state=self.random_state,
            )
        raise SegmentationError(f"segmentation: unknown method {self.method!r}")

    def _check(self) -> None:
        if not hasattr(self, "model_"):
            raise SegmentationError("segmentation: the model is not fitted; call fit first")

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Segment code (``s1`` … ``sk``) of each customer of ``frame``."""
        self._check()
        with threadpool_limits(_threads(len(frame))):
            labels = self.model_.predict(self._standardise(self._raw(frame)))
        return self.code_of_[labels].astype(str)

    # --- description -----------------------------------------------------------------
    def _describe(
        self, x: np.ndarray, labels: np.ndarray, top: int = 3
    ) -> list[SegmentDescription]:
        out = []
        names = [name for name, _ in self.features]
        for cluster in range(self.k_):
            inside = labels == cluster
            z = x[inside].mean(axis=0)  # overall mean is 0 and SD 1 after standardising
            order = np.argsort(-np.abs(z), kind="stable")[:top]
            tops = tuple((names[i], round(float(z[i]), 3)) for i in order)
            out.append(
                SegmentDescription(
                    segment=str(self.code_of_[cluster]),
                    customers=int(inside.sum()),
                    share=float(inside.mean()),
                    top_features=tops,
                    label_zh="、".join(f"{_zh(n)}{'高' if v > 0 else '低'}" for n, v in tops),
                    label_en=", ".join(f"{'high' if v > 0 else 'low'} {n}" for n, v in tops),
                )
            )
        return sorted(out, key=lambda d: int(d.segment[1:]))
