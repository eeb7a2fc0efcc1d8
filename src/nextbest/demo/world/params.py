"""The world file: one versioned YAML holding every parameter of the demo bank.

The pydantic models below validate the file strictly (unknown keys are errors) and expose
the parameters as numpy arrays where the generator needs them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from nextbest.domain.enums import ProductFamily, ProductRisk
from nextbest.errors import NextbestError

__all__ = ["DEFAULT_WORLD_FILE", "WorldFileError", "WorldParams", "load_world_params"]

DEFAULT_WORLD_FILE = Path(__file__).with_name("world.yaml")


class WorldFileError(NextbestError):
    """The world file is missing, unreadable or inconsistent."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _probabilities(rows: list[list[float]], what: str) -> list[list[float]]:
    for i, row in enumerate(rows):
        if abs(sum(row) - 1.0) > 1e-6:
            raise ValueError(f"{what}[{i}] sums to {sum(row):.4f}, expected 1")
    return rows


class Calendar(_Strict):
    end_month: str
    spring_festival: dict[int, date]

    @field_validator("end_month")
    @classmethod
    def _month(cls, value: str) -> str:
        date.fromisoformat(value + "-01")
        return value


class Occupations(_Strict):
    names: list[str]
    by_age_band: list[list[float]]

    @model_validator(mode="after")
    def _sums(self) -> Occupations:
        _probabilities(self.by_age_band, "by_age_band")
        return self


class Income(_Strict):
    median_by_occupation: dict[str, float]
    log_effect_by_tier: list[float]
    log_effect_by_education: dict[str, float]
    age_curve: list[tuple[float, float]]
    log_sigma: float
    business_owner_extra_sigma: float
    missing_share: float
    round_to: int


class Tenure(_Strict):
    mean_years: float
    new_in_window_share: float


class Population(_Strict):
    gender: dict[str, float]
    age_bands: list[tuple[int, int, float]]
    city_tier: dict[int, float]
    occupation: Occupations
    farmer_by_tier: list[float]
    education: Occupations
    income: Income
    tenure: Tenure
    email_share: float
    id_type_other_share: float


class Behaviour(_Strict):
    spend_rate: list[float]
    transfer_rate: list[float]
    digital_rate: list[float]
    wealth_months: list[float]
    app_share: list[float]
    web_share: list[float]
    spend_scale: list[float]
    risk_tolerance_mean: list[float]
    activity_sigma: float
    category_names: list[str]
    category_weights: list[list[float]]
    category_median: list[float]


class Segments(_Strict):
    names: list[str]
    zh: list[str]
    logit: dict[str, dict[str, float]]
    behaviour: Behaviour


class Lifecycle(_Strict):
    states: list[str]
    new_months: int
    new_churn: list[float]
    to_mature: float
    mature_share_at_start: float
    to_dormant: list[float]
    mature_dormant_factor: float
    sudden_churn: list[float]
    dormant_churn: float
    reactivate: float
    frailty_sigma: float
    season: dict[int, float]
    activity_by_state: list[float]
    dormant_balance_decay: float
    close_all_share: float


class Product(_Strict):
    code: str
    zh: str
    en: str
    family: ProductFamily
    risk: ProductRisk
    min_age: int
    max_age: int
    min_amount: float
    margin: float
    fee: float
    base: float
    seg: list[float]
    income: float
    age: float
    hazard: float
    share: float


class RiskAssessment(_Strict):
    valid_days: int
    renew_share: float
    relapse_days: tuple[int, int]
    drift_sd: float


class Kyc(_Strict):
    pending_share: float
    expire_share_per_year: float
    rejected_share: float


class Credit(_Strict):
    pd_logit: dict[str, float]
    pd_by_segment: list[float]
    late_share: float
    late_days: tuple[int, int]
    loan_term_months: dict[str, tuple[int, int]]
    loan_income_multiple: dict[str, float]
    card_limit_income_multiple: float


class Digital(_Strict):
    event_type_weights: dict[str, float]
    targets: list[str]


class Consent(_Strict):
    grant: dict[str, float]
    marketing_channels: list[str]
    withdraw_per_month: float
    withdraw_dormant_factor: float


class Response(_Strict):
    channels: list[str]
    open_rate: list[float]
    click_given_open: list[float]
    complaint_rate: list[float]
    horizon_days: int
    conversion_effect: list[list[float]]
    effect_sigma: float
    churn_effect: list[list[float]]
    conversion_amount_months_income: float


class Faults(_Strict):
    weights: dict[str, float]


class WorldParams(_Strict):
    """Every parameter of the demo bank's world (see world.yaml for their meaning)."""

    version: str
    calendar: Calendar
    block_size: int
    population: Population
    segments: Segments
    lifecycle: Lifecycle
    products: list[Product]
    risk_assessment: RiskAssessment
    kyc: Kyc
    credit: Credit
    digital: Digital
    consent: Consent
    response: Response
    faults: Faults

    @model_validator(mode="after")
    def _shapes(self) -> WorldParams:
        k = len(self.segments.names)
        seg_lists = {
            "lifecycle.new_churn": self.lifecycle.new_churn,
            "lifecycle.to_dormant": self.lifecycle.to_dormant,
            "lifecycle.sudden_churn": self.lifecycle.sudden_churn,
            "credit.pd_by_segment": self.credit.pd_by_segment,
            **{
                f"segments.behaviour.{n}": v
                for n, v in self.segments.behaviour
                if isinstance(v, list) and n not in {"category_names", "category_median"}
            },
            **{f"products[{p.code}].seg": p.seg for p in self.products},
            "response.conversion_effect": self.response.conversion_effect,
            "response.churn_effect": self.response.churn_effect,
        }
        for name, values in seg_lists.items():
            if len(values) != k:
                raise ValueError(
                    f"{name} has {len(values)} entries, expected one per segment ({k})"
                )
        if set(self.segments.logit) != set(self.segments.names):
            raise ValueError("segments.logit must have one entry per segment name")
        _probabilities(self.segments.behaviour.category_weights, "category_weights")
        n_ch = len(self.response.channels)
        for row in (*self.response.conversion_effect, *self.response.churn_effect):
            if len(row) != n_ch:
                raise ValueError("response effects need one column per channel")
        if self.products[0].family is not ProductFamily.DEMAND_DEPOSIT:
            raise ValueError("the first product must be the basic demand deposit account")
        return self

    @property
    def end_month(self) -> date:
        return date.fromisoformat(self.calendar.end_month + "-01")

    def segment_array(self, name: str) -> np.ndarray:
        """A behaviour parameter as a float array indexed by segment."""
        return np.asarray(getattr(self.segments.behaviour, name), dtype=np.float64)


def load_world_params(path: Path | None = None) -> WorldParams:
    """Read and validate the world file (the shipped ``world.yaml`` by default)."""
    file = path or DEFAULT_WORLD_FILE
    try:
        data: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorldFileError(f"{file}: cannot read the world file ({exc})") from exc
    try:
        return WorldParams.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WorldFileError(f"{file}: {where}: {first['msg']}") from exc
