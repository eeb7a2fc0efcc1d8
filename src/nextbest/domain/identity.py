"""Validators for identity documents and contact identifiers, per value and vectorised.

The per-value functions return ``None`` for a valid value and otherwise a short reason that
never repeats the value (messages end up in logs and quarantine rows, which must not hold
identifiers). The vectorised functions take a pyarrow string array and return a
``BooleanArray`` of validity; a null input gives a null result (absence is the ``required``
rule's business, not the format's).
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "PROVINCE_CODES",
    "email_problem",
    "emails_valid",
    "mobile_problem",
    "mobiles_valid",
    "normalise_mobile",
    "normalise_mobiles",
    "passport_problem",
    "passports_valid",
    "resident_id_problem",
    "resident_ids_valid",
]

# First two digits of a resident ID: the province-level division (GB/T 2260); 71 Taiwan,
# 81/82 Hong Kong/Macao and 83 the residence permits for Taiwan residents.
PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = "10X98765432"  # ISO 7064 MOD 11-2: check character for sum % 11
_RESIDENT_SHAPE = r"^[0-9]{17}[0-9X]$"
_MOBILE = r"^1[3-9][0-9]{9}$"
_MOBILE_NOISE = r"[\s\-()]"
_EMAIL = r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$"
_PASSPORT = r"^[A-Za-z0-9]{5,17}$"
_EARLIEST_BIRTH = date(1900, 1, 1)


def resident_id_problem(value: str, today: date | None = None) -> str | None:
    """Why ``value`` is not a valid mainland resident ID number, or ``None`` if it is.

    Checks: 18 characters (17 digits and a check character 0-9 or X), a known province
    prefix, a real birth date between 1900-01-01 and today, and the ISO 7064 MOD 11-2 check
    character.
    """
    v = value.strip().upper()
    if len(v) != 18:
        return f"resident ID must have 18 characters, got {len(v)}"
    if not re.fullmatch(_RESIDENT_SHAPE, v):
        return "resident ID must be 17 digits followed by a digit or X"
    if int(v[:2]) not in PROVINCE_CODES:
        return "resident ID has an unknown region prefix"
    try:
        born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "resident ID holds an impossible birth date"
    if not _EARLIEST_BIRTH <= born <= (today or date.today()):
        return "resident ID holds a birth date outside 1900..today"
    total = sum(int(d) * int(w) for d, w in zip(v[:17], _WEIGHTS, strict=True))
    if _CHECK_CHARS[total % 11] != v[17]:
        return "resident ID check character does not match (ISO 7064 MOD 11-2)"
    return None


def normalise_mobile(value: str) -> str:
    """Strip spaces, dashes, brackets and a +86 / 0086 / 86 prefix from a mobile number."""
    v = re.sub(_MOBILE_NOISE, "", value)
    for prefix in ("+86", "0086", "86"):
        if v.startswith(prefix) and len(v) == len(prefix) + 11:
            return v[len(prefix) :]
    return v


def mobile_problem(value: str) -> str | None:
    """Why ``value`` is not a mainland mobile number (``1[3-9]`` + 9 digits), or ``None``."""
    if not re.fullmatch(_MOBILE, normalise_mobile(value)):
        return "mobile must be 11 digits starting 13-19 (optionally +86)"
    return None


def email_problem(value: str) -> str | None:
    """Why ``value`` is not a plausible e-mail address, or ``None``."""
    if not re.fullmatch(_EMAIL, value.strip()):
        return "e-mail address is malformed"
    return None


def passport_problem(value: str) -> str | None:
    """Why ``value`` is not a plausible passport number (5-17 letters or digits), or ``None``."""
    if not re.fullmatch(_PASSPORT, value.strip()):
        return "passport number must be 5-17 letters or digits"
    return None


# ---------------------------------------------------------------------------------------------
# Vectorised forms


def _as_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pc.cast(values, pa.string())


def normalise_mobiles(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised :func:`normalise_mobile`."""
    v = pc.replace_substring_regex(_as_strings(values), _MOBILE_NOISE, "")
    length = pc.utf8_length(v)
    for prefix in ("+86", "0086", "86"):
        strip = pc.and_(pc.starts_with(v, prefix), pc.equal(length, len(prefix) + 11))
        v = pc.if_else(strip, pc.utf8_slice_codeunits(v, len(prefix)), v)
        length = pc.utf8_length(v)
    return v


def mobiles_valid(values: pa.Array | pa.ChunkedArray) -> pa.BooleanArray:
    """Vectorised :func:`mobile_problem`: true where the number is a valid mainland mobile."""
    return pc.match_substring_regex(normalise_mobiles(values), _MOBILE)


def emails_valid(values: pa.Array | pa.ChunkedArray) -> pa.BooleanArray:
    """Vectorised :func:`email_problem`."""
    return pc.match_substring_regex(pc.utf8_trim_whitespace(_as_strings(values)), _EMAIL)


def passports_valid(values: pa.Array | pa.ChunkedArray) -> pa.BooleanArray:
    """Vectorised :func:`passport_problem`."""
    return pc.match_substring_regex(pc.utf8_trim_whitespace(_as_strings(values)), _PASSPORT)


def resident_ids_valid(
    values: pa.Array | pa.ChunkedArray, today: date | None = None
) -> pa.BooleanArray:
    """Vectorised :func:`resident_id_problem`: true where the ID passes every check."""
    v = pc.utf8_upper(pc.utf8_trim_whitespace(_as_strings(values)))
    n = len(v)
    shaped = pc.fill_null(pc.match_substring_regex(v, _RESIDENT_SHAPE), False)
    ok = np.asarray(shaped.to_numpy(zero_copy_only=False), dtype=bool).copy()
    idx = np.flatnonzero(ok)
    if idx.size:
        picked = pc.take(v, pa.array(idx)).to_numpy(zero_copy_only=False).astype("S18")
        chars = picked.view(np.uint8).reshape(-1, 18)
        digits = chars[:, :17].astype(np.int64) - ord("0")
        check = chars[:, 17]
        expected = np.frombuffer(_CHECK_CHARS.encode(), dtype=np.uint8)[(digits @ _WEIGHTS) % 11]
        province = digits[:, 0] * 10 + digits[:, 1]
        good = (expected == check) & np.isin(province, list(PROVINCE_CODES))
        text = pc.utf8_slice_codeunits(pa.array(picked.astype(str)), 6, 14)
        births = pc.strptime(text, format="%Y%m%d", unit="s", error_is_null=True)
        # strptime rolls impossible days over (19490231 -> 1949-03-03): insist on a round trip.
        exact = pc.equal(pc.strftime(births, format="%Y%m%d"), text)
        born = pc.if_else(exact, pc.cast(births, pa.date32()), pa.scalar(None, pa.date32()))
        upper = pa.scalar(today or date.today(), pa.date32())
        in_range = pc.and_(
            pc.greater_equal(born, pa.scalar(_EARLIEST_BIRTH, pa.date32())),
            pc.less_equal(born, upper),
        )
        good &= np.asarray(pc.fill_null(in_range, False).to_numpy(zero_copy_only=False))
        ok[idx] = good
    result = pa.array(ok, pa.bool_())
    return pc.if_else(pc.is_null(v), pa.scalar(None, pa.bool_()), result) if n else result
