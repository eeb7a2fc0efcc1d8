"""The keys a batch has accepted so far, in 8 bytes per key instead of a Python string.

A batch of a large bank holds hundreds of millions of keys; a ``set[str]`` costs about
130 bytes per key and grew ingestion memory without bound. Here each key is a 64-bit
digest (FNV-1a over the key's UTF-8 bytes, then a SplitMix64 finaliser), computed
vectorised over the Arrow string buffer, and kept in a few sorted NumPy runs merged like
a log-structured tree, so adding and probing a chunk stay O(chunk · log n).

Two different keys share a digest with probability about n² / 2⁶⁵ per table and batch
(≈ 2·10⁻⁴ at 80 million keys): the later row would then be rejected as a duplicate key
into quarantine, where it is visible, never silently lost.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["SeenKeys", "key_digests"]

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def key_digests(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """64-bit digests (``uint64``) of non-null UTF-8 ``keys``, deterministic across runs."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if keys.null_count:
        raise ValueError("key_digests: keys must not be null")
    strings = keys.cast(pa.large_string())
    n = len(strings)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)[
        strings.offset : strings.offset + n + 1
    ]
    data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    digests = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        # Byte position by byte position over all keys at once (keys are short).
        for pos in range(int(lengths.max(initial=0))):
            active = np.flatnonzero(lengths > pos)
            byte = data[starts[active] + pos].astype(np.uint64)
            digests[active] = (digests[active] ^ byte) * _FNV_PRIME
        # SplitMix64 finaliser: spreads FNV's weak low bits over the whole word.
        digests ^= digests >> np.uint64(30)
        digests *= np.uint64(0xBF58476D1CE4E5B9)
        digests ^= digests >> np.uint64(27)
        digests *= np.uint64(0x94D049BB133111EB)
        digests ^= digests >> np.uint64(31)
    return digests


class SeenKeys:
    """A set of key digests: ``contains`` then ``add`` per chunk."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []  # each sorted; sizes decreasing

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)

    def contains(self, digests: np.ndarray) -> np.ndarray:
        """True where a digest was added before."""
        found = np.zeros(len(digests), dtype=bool)
        for run in self._runs:
            idx = np.searchsorted(run, digests)
            idx[idx == len(run)] = 0
            found |= run[idx] == digests
        return found

    def add(self, digests: np.ndarray) -> None:
        """Add ``digests`` (duplicates allowed)."""
        if len(digests) == 0:
            return
        self._runs.append(np.unique(digests))
        # Merge while a run is at least half its predecessor: O(log n) runs, each key
        # re-sorted O(log n) times in all.
        while len(self._runs) > 1 and 2 * len(self._runs[-1]) >= len(self._runs[-2]):
            last = self._runs.pop()
            merged = np.concatenate([self._runs.pop(), last])
            merged.sort(kind="stable")
            self._runs.append(merged)
