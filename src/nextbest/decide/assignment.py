"""Deterministic, seeded assignment of customers to the holdout and to control groups.

A customer's draw is a uniform number in [0, 1) derived from BLAKE2b of the customer key
mixed with a salt (the group's seed): the same key and seed always give the same draw, on
any machine, in batch and in real time, and different seeds give independent draws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

__all__ = ["key_hashes", "unit_draws"]

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def key_hashes(keys: Sequence[str]) -> np.ndarray:
    """64-bit BLAKE2b digest of each customer key (``uint64``)."""
    digests = b"".join(hashlib.blake2b(k.encode(), digest_size=8).digest() for k in keys)
    return np.frombuffer(digests, dtype="<u8").copy()


def _salt(seed: str) -> np.uint64:
    return np.uint64(
        int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest(), "little")
    )


def unit_draws(hashes: np.ndarray, seed: str) -> np.ndarray:
    """Uniform draws in [0, 1) for ``hashes`` under ``seed`` (splitmix64 finaliser)."""
    with np.errstate(over="ignore"):
        z = hashes ^ _salt(seed)
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
