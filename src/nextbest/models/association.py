"""Cross-sell association rules on a holdings matrix: "holders of X also hold Y".

Items are product families; a transaction is one customer's set of held families. For an
antecedent set A (one family, or a pair) and a consequent family Y:

* support(A → Y) = share of customers holding A and Y;
* confidence(A → Y) = support(A ∪ Y) / support(A) — among holders of A, the share holding Y;
* lift(A → Y) = confidence / support(Y) — above 1, holding A makes Y more likely.

Everything is computed at once with matrix products over the boolean holdings matrix (no
candidate generation loop: with a dozen families every single and pair antecedent fits in
memory). As a propensity scorer, a customer's score for a family they do not hold is the
highest confidence of a rule whose antecedent they hold (the family's overall support when
no rule applies) — the "customers like you hold Y" rate a cross-sell campaign would quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from nextbest.errors import NextbestError

__all__ = ["AssociationError", "AssociationRules", "holdings_matrix"]


class AssociationError(NextbestError):
    """Association rules cannot be mined or applied with these inputs."""


def holdings_matrix(frame: pd.DataFrame, families: Sequence[str]) -> NDArray[np.bool_]:
    """Boolean (customers × families) matrix from a snapshot's ``holds_<family>`` columns."""
    missing = [f for f in families if f"holds_{f}" not in frame.columns]
    if missing:
        raise AssociationError(f"no holds_ column for famil(ies) {', '.join(missing)}")
    cols = [frame[f"holds_{f}"].fillna(False).astype(bool).to_numpy() for f in families]
    return np.column_stack(cols) if cols else np.zeros((len(frame), 0), dtype=bool)


@dataclass
class AssociationRules:
    """Single and pair antecedent rules mined from holdings.

    Parameters
    ----------
    min_support:
        Rules whose antecedent-and-consequent support is below this are dropped.
    max_antecedent:
        1 (single families) or 2 (single families and pairs).

    Attributes (after :meth:`fit`)
    ------------------------------
    families_ : tuple of str
    support_ : array (families,)
        Share of customers holding each family.
    rules_ : DataFrame
        ``antecedent, consequent, support, confidence, lift, count`` sorted by lift.
    """

    min_support: float = 0.002
    max_antecedent: int = 2
    families_: tuple[str, ...] = field(default=(), init=False)
    support_: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), init=False)
    rules_: pd.DataFrame = field(default_factory=pd.DataFrame, init=False, repr=False)
    _antecedents: list[tuple[int, ...]] = field(default_factory=list, init=False, repr=False)
    _confidence: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)),
                                             init=False, repr=False)  # fmt: skip
    _usable: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), bool),
                                       init=False, repr=False)  # fmt: skip

    def _antecedent_matrix(self, H: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Customers × antecedents: whether each customer holds every family of each."""
        cols = [H[:, a[0]] if len(a) == 1 else H[:, a[0]] & H[:, a[1]] for a in self._antecedents]
        return np.column_stack(cols) if cols else np.zeros((H.shape[0], 0), dtype=bool)

    def fit(self, holdings: NDArray[np.bool_], families: Sequence[str]) -> AssociationRules:
        """Mine the rules from a boolean (customers × families) matrix; returns ``self``."""
        H = np.asarray(holdings, dtype=bool)
        if H.ndim != 2 or H.shape[1] != len(families):
            raise AssociationError(
                f"holdings must be customers × {len(families)} families, got {H.shape}"
            )
        if H.shape[0] == 0:
            raise AssociationError("no customers to mine rules from")
        if self.max_antecedent not in (1, 2):
            raise AssociationError(f"max_antecedent must be 1 or 2, got {self.max_antecedent}")
        n, k = H.shape
        self.families_ = tuple(families)
        self._antecedents = [(i,) for i in range(k)]
        if self.max_antecedent == 2:
            self._antecedents += list(combinations(range(k), 2))
        A = self._antecedent_matrix(H).astype(np.float64)
        Hf = H.astype(np.float64)
        both = A.T @ Hf  # antecedents × families: customers holding A and Y
        count_a = A.sum(axis=0)
        self.support_ = Hf.mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            conf = np.where(count_a[:, None] > 0, both / count_a[:, None], 0.0)
            lift = np.where(self.support_[None, :] > 0, conf / self.support_[None, :], 0.0)
        # a rule's consequent may not be part of its antecedent
        inside = np.array([[j in a for j in range(k)] for a in self._antecedents])
        usable = (~inside) & (both / n >= self.min_support) & (count_a[:, None] > 0)
        self._confidence = conf
        self._usable = usable
        ai, cj = np.nonzero(usable)
        names = [" + ".join(self.families_[i] for i in a) for a in self._antecedents]
        self.rules_ = (
            pd.DataFrame(
                {
                    "antecedent": [names[i] for i in ai],
                    "consequent": [self.families_[j] for j in cj],
                    "support": both[ai, cj] / n,
                    "confidence": conf[ai, cj],
                    "lift": lift[ai, cj],
                    "count": both[ai, cj].astype(np.int64),
                }
            )
            .sort_values(["lift", "support"], ascending=False, kind="stable")
            .reset_index(drop=True)
        )
        return self

    def score(self, holdings: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Customers × families: best confidence of an applicable rule (else the support).

        A rule applies when the customer holds its antecedent. Scores of families the
        customer already holds are returned too (callers mask them as needed).
        """
        if not self.families_:
            raise AssociationError("the association rules are not fitted yet")
        H = np.asarray(holdings, dtype=bool)
        if H.ndim != 2 or H.shape[1] != len(self.families_):
            raise AssociationError(
                f"holdings must be customers × {len(self.families_)} families, got {H.shape}"
            )
        A = self._antecedent_matrix(H)
        out = np.broadcast_to(self.support_, H.shape).copy()
        conf = np.where(self._usable, self._confidence, -np.inf)
        # max over the held antecedents, one family at a time (antecedents ≤ 66)
        for j in range(H.shape[1]):
            c = conf[:, j]
            applicable = np.isfinite(c)
            if not applicable.any():
                continue
            best = np.where(A[:, applicable], c[applicable][None, :], -np.inf).max(axis=1)
            out[:, j] = np.where(np.isfinite(best), np.maximum(best, 0.0), out[:, j])
        return out

    def top_rules(self, consequent: str | None = None, n: int = 10) -> pd.DataFrame:
        """The ``n`` rules of highest lift (for one consequent family if given)."""
        rules = self.rules_
        if consequent is not None:
            rules = rules[rules["consequent"] == consequent]
        return rules.head(n).reset_index(drop=True)
