"""Simulated responses to marketing contacts, drawn from a generated bank's ground truth.

``World.load(out).respond(contacts, seed)`` says what each contacted customer does within the
response horizon (30 days by default): open, click, convert (and how much), complain, churn.
Rows with ``treated = False`` are the control group: not contacted, they convert and churn
at their baseline rates only. Treatment effects are heterogeneous (per customer and
channel, some negative) and known: ``World.expected(contacts)`` gives the true
probabilities with and without contact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from nextbest.demo.world.params import WorldParams, load_world_params
from nextbest.errors import NextbestError

__all__ = ["ContactError", "World"]

_STATE_ADOPTION = {"prospect": 0.0, "new": 3.0, "active": 1.0, "mature": 0.8, "dormant": 0.1}


class ContactError(NextbestError):
    """The contacts table cannot be simulated (unknown customer, channel or offer)."""


def _parts(folder: Path, stem: str) -> pa.Table:
    files = sorted(folder.glob(f"{stem}_*.parquet"))
    if not files:
        raise NextbestError(f"{folder}: no {stem}_*.parquet files; is this a generated bank?")
    return ds.dataset(files, format="parquet").to_table()


@dataclass(frozen=True)
class World:
    """The ground truth of one generated bank, as arrays indexed by customer position."""

    params: WorldParams
    customer_ids: pd.Index  # source customer numbers (KHH)
    segment: np.ndarray
    income: np.ndarray
    live: np.ndarray  # bool: a customer (onboarded, not churned) in the last month
    adoption_factor: np.ndarray  # state multiplier of adoption in the last month
    hazard: np.ndarray  # monthly churn hazard in the last month
    products: list[str]
    propensity: np.ndarray  # (n, products) monthly adoption probability
    open_p: np.ndarray  # (n, channels)
    click_p: np.ndarray
    complaint_p: np.ndarray
    conversion_effect: np.ndarray
    churn_effect: np.ndarray
    customer_keys: pd.Index | None = None  # pseudonymous keys, when a key function was given

    @classmethod
    def load(cls, out: Path, key_of: Callable[[pa.Array], pa.Array] | None = None) -> World:
        """Read the truth files of the bank generated under ``out``.

        ``key_of`` turns source customer numbers into the warehouse's pseudonymous keys
        (e.g. ``lambda ids: customer_keys(keyring, "demo_core", ids)``); contacts may then
        name customers by ``customer_key`` instead of ``customer_id``.
        """
        info = json.loads((out / "generation.json").read_text(encoding="utf-8"))
        world_file = info.get("world_file", "world.yaml")
        params = load_world_params(Path(world_file) if Path(world_file).is_absolute() else None)
        truth = out / "truth"
        cust = _parts(truth, "customers")
        life = _parts(truth, "lifecycle")
        last = pc.max(life["month"])
        at_end = life.filter(pc.equal(life["month"], last))
        state = at_end["state"].to_numpy(zero_copy_only=False)
        adoption = _parts(truth, "adoption")
        response = _parts(truth, "response")
        k = len(params.response.channels)
        n = cust.num_rows

        def per_channel(name: str) -> np.ndarray:
            return response[name].to_numpy().reshape(n, k).astype(np.float64)

        products = [c for c in adoption.column_names if c != "KHH"]
        return cls(
            params=params,
            customer_ids=pd.Index(cust["KHH"].to_numpy(zero_copy_only=False)),
            segment=cust["segment_id"].to_numpy(),
            income=cust["income"].to_numpy(),
            live=state != "churned",
            adoption_factor=pd.Series(state).map(_STATE_ADOPTION).fillna(0.0).to_numpy(float),
            hazard=at_end["churn_hazard"].to_numpy().astype(np.float64),
            products=products,
            propensity=np.column_stack([adoption[p].to_numpy() for p in products]),
            open_p=per_channel("open_prob"),
            click_p=per_channel("click_prob"),
            complaint_p=per_channel("complaint_prob"),
            conversion_effect=per_channel("conversion_effect"),
            churn_effect=per_channel("churn_effect"),
            customer_keys=None
            if key_of is None
            else pd.Index(key_of(cust["KHH"].combine_chunks()).to_numpy(zero_copy_only=False)),
        )

    def _locate(self, contacts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        by_key = "customer_id" not in contacts and "customer_key" in contacts
        id_column = "customer_key" if by_key else "customer_id"
        for column in (id_column, "channel"):
            if column not in contacts:
                raise ContactError(f"contacts: missing column {column!r}")
        if by_key and self.customer_keys is None:
            raise ContactError("contacts name customer_key: load the World with key_of=...")
        index = (
            self.customer_keys if by_key and self.customer_keys is not None else self.customer_ids
        )
        ids = contacts[id_column].astype(str).to_numpy()
        pos = index.get_indexer(ids)
        if (pos < 0).any():
            row = int(np.flatnonzero(pos < 0)[0])
            raise ContactError(f"contacts row {row + 1}: unknown {id_column} {ids[row]!r}")
        channels = self.params.response.channels
        ch = pd.Index(channels).get_indexer(contacts["channel"].astype(str).to_numpy())
        if (ch < 0).any():
            row = int(np.flatnonzero(ch < 0)[0])
            raise ContactError(
                f"contacts row {row + 1}: channel {contacts['channel'].iloc[row]!r} "
                f"is not one of {channels}"
            )
        offers = contacts["offer"] if "offer" in contacts else pd.Series([None] * len(contacts))
        offer = pd.Index(self.products).get_indexer(offers.fillna("").astype(str).to_numpy())
        unknown = (offer < 0) & offers.notna().to_numpy()
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise ContactError(f"contacts row {row + 1}: unknown offer {offers.iloc[row]!r}")
        return pos, ch, offer

    def expected(self, contacts: pd.DataFrame) -> pd.DataFrame:
        """True probabilities per contact: conversion and churn with and without contact."""
        pos, ch, offer = self._locate(contacts)
        months = self.params.response.horizon_days / 30.44
        monthly = np.where(offer >= 0, self.propensity[pos, np.maximum(offer, 0)], 0.0)
        monthly = np.clip(monthly * self.adoption_factor[pos], 0, 0.999)
        p_control = np.where(self.live[pos], 1 - (1 - monthly) ** months, 0.0)
        logit = np.log(np.clip(p_control, 1e-9, 1) / np.clip(1 - p_control, 1e-9, 1))
        p_treated = np.where(
            (offer >= 0) & self.live[pos],
            1 / (1 + np.exp(-(logit + self.conversion_effect[pos, ch]))),
            0.0,
        )
        churn_control = np.where(self.live[pos], 1 - (1 - self.hazard[pos]) ** months, 0.0)
        churn_treated = np.clip(churn_control * np.exp(self.churn_effect[pos, ch]), 0, 0.99)
        return pd.DataFrame(
            {
                "conversion_control": p_control,
                "conversion_treated": p_treated,
                "churn_control": churn_control,
                "churn_treated": churn_treated,
            },
            index=contacts.index,
        )

    def respond(self, contacts: pd.DataFrame | pa.Table, seed: int) -> pd.DataFrame:
        """What each contact leads to within the horizon.

        Parameters
        ----------
        contacts:
            Columns ``customer_id`` (source customer number, 客户号; or ``customer_key`` when
            the World was loaded with ``key_of``), ``channel`` (one of the
            world's response channels: sms, email, phone, app_push, in_app, branch, wechat),
            optional ``offer`` (a product code) and ``treated`` (default true; false marks a
            control-group member who is not contacted).
        seed:
            Seed of the draws; the same contacts and seed give the same responses.

        Returns
        -------
        pandas.DataFrame
            The contacts plus ``opened``, ``clicked``, ``converted``, ``conversion_amount``
            (CNY), ``complained`` and ``churned`` (bool columns except the amount).
        """
        frame = contacts.to_pandas() if isinstance(contacts, pa.Table) else contacts.copy()
        frame = frame.reset_index(drop=True)
        pos, ch, offer = self._locate(frame)
        treated = (
            frame["treated"].astype(bool).to_numpy()
            if "treated" in frame
            else np.ones(len(frame), bool)
        )
        reach = treated & self.live[pos]
        p = self.expected(frame)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 7])))
        u = rng.random((len(frame), 5))
        opened = reach & (u[:, 0] < self.open_p[pos, ch])
        clicked = opened & (u[:, 1] < self.click_p[pos, ch])
        p_conv = np.where(treated, p["conversion_treated"], p["conversion_control"])
        converted = u[:, 2] < p_conv
        by_code = {pr.code: pr.min_amount for pr in self.params.products}
        floor_by_offer = np.array([by_code.get(code, 0.0) for code in self.products] + [0.0])
        floor = floor_by_offer[offer]  # offer -1 (none) picks the trailing 0
        amount = (
            self.income[pos] / 12
            * self.params.response.conversion_amount_months_income
            * np.exp(rng.normal(-0.125, 0.5, len(frame)))
        )  # fmt: skip
        frame["opened"] = opened
        frame["clicked"] = clicked
        frame["converted"] = converted
        frame["conversion_amount"] = np.where(
            converted, np.round(np.maximum(amount, floor), 2), 0.0
        )
        frame["complained"] = reach & (u[:, 3] < self.complaint_p[pos, ch])
        p_churn = np.where(treated, p["churn_treated"], p["churn_control"])
        frame["churned"] = u[:, 4] < p_churn
        return frame
