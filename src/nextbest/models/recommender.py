"""Collaborative filtering on holdings: implicit-feedback alternating least squares.

The model of Hu, Koren and Volinsky (2008) for implicit data: preference p_ui = 1 when
customer u holds item i (a product family), else 0, with confidence c_ui = 1 + α·p_ui;
customer factors x_u and item factors y_i minimise

    Σ_ui c_ui (p_ui − x_u·y_i)² + λ (Σ_u |x_u|² + Σ_i |y_i|²)

by alternating exact least-squares solves. The score of an item a customer does not hold
is x_u·y_i.

With a dozen items a customer's factor depends only on *which* items they hold, so both
steps run over the distinct holding patterns weighted by their number of customers
(at most 2^items, a few hundred in practice) — exact ALS whose cost does not grow with the
number of customers, written with numpy only. New customers are folded in by the same
customer step (no refit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from nextbest.errors import NextbestError

__all__ = ["ImplicitALS", "RecommenderError"]


class RecommenderError(NextbestError):
    """The recommender cannot be fitted or applied with these inputs."""


def _patterns(H: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Distinct rows of ``H`` and, per row of ``H``, the index of its pattern."""
    if H.shape[1] > 62:
        raise RecommenderError(f"at most 62 items are supported, got {H.shape[1]}")
    code = H.astype(np.int64) @ (np.int64(1) << np.arange(H.shape[1], dtype=np.int64))
    uniq, inverse = np.unique(code, return_inverse=True)
    bits = ((uniq[:, None] >> np.arange(H.shape[1])) & 1).astype(bool)
    return bits, inverse.astype(np.int64)


@dataclass
class ImplicitALS:
    """Implicit ALS on a boolean customers × items holdings matrix.

    Parameters
    ----------
    factors:
        Latent dimensions.
    alpha:
        Confidence of a held item: c = 1 + α.
    regularization:
        λ, per customer (the item step scales it by the number of customers so that its
        strength does not depend on the population size).
    iterations:
        Alternating sweeps.
    seed:
        Seed of the item-factor initialisation.
    """

    factors: int = 6
    alpha: float = 10.0
    regularization: float = 0.1
    iterations: int = 15
    seed: int = 0
    items_: tuple[str, ...] = field(default=(), init=False)
    item_factors_: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)),
                                               init=False, repr=False)  # fmt: skip
    loss_: list[float] = field(default_factory=list, init=False, repr=False)

    def _user_factors(self, P: NDArray[np.bool_], Y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Exact customer step for each pattern row of ``P`` given item factors ``Y``."""
        f = Y.shape[1]
        YtY = Y.T @ Y
        outer = Y[:, :, None] * Y[:, None, :]  # items × f × f
        Pf = P.astype(np.float64)
        A = YtY[None] + self.alpha * np.einsum("pi,ijk->pjk", Pf, outer)
        A += self.regularization * np.eye(f)[None]
        b = (1 + self.alpha) * (Pf @ Y)
        return np.linalg.solve(A, b[:, :, None])[:, :, 0]

    def _item_factors(
        self, P: NDArray[np.bool_], w: NDArray[np.float64], X: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Exact item step: patterns ``P`` with customer counts ``w`` and factors ``X``."""
        f = X.shape[1]
        Xw = X * w[:, None]
        XtX = Xw.T @ X
        outer = Xw[:, :, None] * X[:, None, :]  # patterns × f × f (weighted)
        Pf = P.astype(np.float64)
        A = XtX[None] + self.alpha * np.einsum("pi,pjk->ijk", Pf, outer)
        A += self.regularization * w.sum() * np.eye(f)[None]
        b = (1 + self.alpha) * (Pf.T @ Xw)
        return np.linalg.solve(A, b[:, :, None])[:, :, 0]

    def _loss(
        self, P: NDArray[np.bool_], w: NDArray[np.float64], X: NDArray[np.float64],
        Y: NDArray[np.float64],
    ) -> float:  # fmt: skip
        pred = X @ Y.T
        c = 1 + self.alpha * P
        err = (w[:, None] * c * (P - pred) ** 2).sum()
        reg = self.regularization * ((w[:, None] * X**2).sum() + w.sum() * (Y**2).sum())
        return float((err + reg) / w.sum())

    def fit(self, holdings: NDArray[np.bool_], items: Sequence[str]) -> ImplicitALS:
        """Fit on a boolean (customers × items) matrix; returns ``self``."""
        H = np.asarray(holdings, dtype=bool)
        if H.ndim != 2 or H.shape[1] != len(items):
            raise RecommenderError(
                f"holdings must be customers × {len(items)} items, got {H.shape}"
            )
        if H.shape[0] == 0:
            raise RecommenderError("no customers to fit on")
        if not self.factors >= 1:
            raise RecommenderError(f"factors must be at least 1, got {self.factors}")
        P, inverse = _patterns(H)
        w = np.bincount(inverse, minlength=len(P)).astype(np.float64)
        rng = np.random.default_rng(self.seed)
        Y = rng.normal(0, 0.1, (H.shape[1], self.factors))
        self.loss_ = []
        for _ in range(self.iterations):
            X = self._user_factors(P, Y)
            Y = self._item_factors(P, w, X)
            self.loss_.append(self._loss(P, w, self._user_factors(P, Y), Y))
        self.items_ = tuple(items)
        self.item_factors_ = Y
        return self

    def score(self, holdings: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Customers × items: x_u·y_i with x_u folded in from the customer's holdings."""
        if not self.items_:
            raise RecommenderError("the recommender is not fitted yet")
        H = np.asarray(holdings, dtype=bool)
        if H.ndim != 2 or H.shape[1] != len(self.items_):
            raise RecommenderError(
                f"holdings must be customers × {len(self.items_)} items, got {H.shape}"
            )
        if H.shape[0] == 0:
            return np.zeros((0, len(self.items_)))
        P, inverse = _patterns(H)
        X = self._user_factors(P, self.item_factors_)
        return (X @ self.item_factors_.T)[inverse]
