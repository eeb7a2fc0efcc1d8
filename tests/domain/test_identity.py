from __future__ import annotations

import random
from datetime import date

import pyarrow as pa
import pytest

from nextbest.domain.identity import (
    email_problem,
    emails_valid,
    mobile_problem,
    mobiles_valid,
    normalise_mobile,
    normalise_mobiles,
    passport_problem,
    passports_valid,
    resident_id_problem,
    resident_ids_valid,
)

TODAY = date(2026, 1, 1)


def _with_check(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def test_known_resident_id() -> None:
    # The GB 11643 standard's worked example number.
    assert resident_id_problem("11010519491231002X", TODAY) is None
    assert resident_id_problem("11010519491231002x", TODAY) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1101051949123100", "18 characters"),
        ("11010519491231002A", "17 digits"),
        ("110105194912310021", "check character"),
        (_with_check("99010519491231002"), "region"),
        (_with_check("11010519490231002"), "impossible birth date"),
        (_with_check("11010518891231002"), "outside"),
        (_with_check("11010520991231002"), "outside"),
    ],
)
def test_resident_id_problems(value: str, reason: str) -> None:
    problem = resident_id_problem(value, TODAY)
    assert problem is not None and reason in problem
    assert value not in problem


def test_vectorised_resident_ids_agree_with_scalar() -> None:
    rng = random.Random(7)
    values: list[str | None] = [None, "", "11010519491231002X"]
    for _ in range(400):
        body = f"{rng.choice([11, 31, 44, 99])}{rng.randrange(10000):04d}"
        body += f"{rng.randrange(1890, 2030)}{rng.randrange(0, 14):02d}{rng.randrange(0, 32):02d}"
        body += f"{rng.randrange(1000):03d}"
        full = _with_check(body)
        if rng.random() < 0.3:
            full = full[:17] + rng.choice("0123456789X")
        values.append(full)
    got = resident_ids_valid(pa.array(values), TODAY).to_pylist()
    expected = [None if v is None else resident_id_problem(v, TODAY) is None for v in values]
    assert got == expected
    assert sum(bool(x) for x in got) > 50


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("13812341234", True),
        ("+8613812341234", True),
        ("86 138 1234 1234", True),
        ("0086-138-1234-1234", True),
        ("12812341234", False),
        ("1381234123", False),
        ("+1 2025550100", False),
    ],
)
def test_mobile(value: str, valid: bool) -> None:
    assert (mobile_problem(value) is None) is valid
    assert mobiles_valid(pa.array([value])).to_pylist() == [valid]


def test_normalise_mobile() -> None:
    assert normalise_mobile("+86 138-1234-1234") == "13812341234"
    values = ["+86 138-1234-1234", "8613812341234", None, "861381234"]
    assert normalise_mobiles(pa.array(values)).to_pylist() == [
        normalise_mobile(v) if v is not None else None for v in values
    ]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("zhangsan@example.com", True),
        ("a.b+c@mail.bank.cn", True),
        ("no-at.com", False),
        ("a@b", False),
        ("a b@c.com", False),
    ],
)
def test_email(value: str, valid: bool) -> None:
    assert (email_problem(value) is None) is valid
    assert emails_valid(pa.array([value])).to_pylist() == [valid]


@pytest.mark.parametrize(
    ("value", "valid"), [("E12345678", True), ("G1234", True), ("E-1234567", False), ("AB", False)]
)
def test_passport(value: str, valid: bool) -> None:
    assert (passport_problem(value) is None) is valid
    assert passports_valid(pa.array([value])).to_pylist() == [valid]
