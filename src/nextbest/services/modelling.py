"""Model workflows over the installation: churn training, scoring, early warning, registry.

Each function opens what it needs (warehouse, keys), calls the pure model code and returns a
frozen result; the CLI renders it. The demo-bank oracle lives here because it reads the
generator's ground truth and the installation's pseudonymisation key.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from numpy.typing import NDArray

from nextbest.errors import NextbestError
from nextbest.privacy.keys import KeyRing
from nextbest.privacy.pseudonym import customer_keys

__all__ = ["ModellingError", "demo_churn_oracle"]

DEMO_SOURCE_SYSTEM = "demo_core"


class ModellingError(NextbestError):
    """A modelling workflow cannot run with these inputs."""


def _truth(bank: Path, stem: str) -> pd.DataFrame:
    files = sorted((bank / "truth").glob(f"{stem}_*.parquet"))
    if not files:
        raise ModellingError(f"{bank / 'truth'}: no {stem}_*.parquet ground-truth files")
    return ds.dataset(files, format="parquet").to_table().to_pandas()


def demo_churn_oracle(
    bank: Path, keyring: KeyRing, as_of: date, keys: pd.Series
) -> NDArray[np.float64]:
    """The generated world's true probability of churning in the 3 months after ``as_of``.

    For each customer key: ``churn_prob_3m`` of the latent chain in the month of ``as_of``
    (``truth/lifecycle``), or 1 when the latent churn date is on or before ``as_of`` (such a
    customer is not yet churned by the observable definition, but will be). Customers the
    truth does not know score 0.
    """
    life = _truth(bank, "lifecycle")
    cust = _truth(bank, "customers")
    month = pd.Timestamp(as_of.year, as_of.month, 1)
    at = life[pd.to_datetime(life["month"]) == month]
    if at.empty:
        raise ModellingError(f"{bank}: ground truth has no month {month.date()}")
    khh = pa.array(at["KHH"].astype(str).to_numpy())
    prob = pd.Series(at["churn_prob_3m"].to_numpy(np.float64), index=customer_keys(
        keyring, DEMO_SOURCE_SYSTEM, khh).to_pylist())  # fmt: skip
    churn = pd.to_datetime(cust["churn_date"])
    gone_keys = customer_keys(
        keyring,
        DEMO_SOURCE_SYSTEM,
        pa.array(cust.loc[churn <= pd.Timestamp(as_of), "KHH"].astype(str).to_numpy()),
    ).to_pylist()
    prob.loc[prob.index.intersection(gone_keys)] = 1.0
    return prob.reindex(keys.to_numpy()).fillna(0.0).to_numpy(np.float64)
