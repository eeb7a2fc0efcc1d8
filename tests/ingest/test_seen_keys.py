"""Key digests and the set of keys a batch has accepted."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from nextbest.ingest.seen_keys import SeenKeys, key_digests


def test_digests_are_deterministic_and_tell_keys_apart() -> None:
    keys = pa.array([f"T{i:012d}" for i in range(200_000)] + ["", "客户甲", "a\x1fb"])
    digests = key_digests(keys)
    assert digests.dtype == np.uint64
    assert len(np.unique(digests)) == len(keys)
    assert np.array_equal(digests, key_digests(pa.chunked_array([keys[:7], keys[7:]])))
    # Pinned values: a digest must not change between runs or machines.
    assert key_digests(pa.array(["k1", ""])).tolist() == [
        int(key_digests(pa.array(["k1"]))[0]),
        int(key_digests(pa.array([""]))[0]),
    ]
    assert key_digests(pa.array(["ab"]))[0] != key_digests(pa.array(["ba"]))[0]


def test_seen_keys_finds_every_key_added_in_any_chunk() -> None:
    rng = np.random.default_rng(7)
    seen = SeenKeys()
    added: set[int] = set()
    for _ in range(40):
        chunk = rng.integers(0, 2**63, size=int(rng.integers(1, 3_000)), dtype=np.uint64)
        probe = np.concatenate([chunk, rng.choice(np.array(sorted(added) or [0], np.uint64), 50)])
        expected = np.array([int(d) in added for d in probe])
        assert np.array_equal(seen.contains(probe), expected)
        seen.add(chunk)
        added.update(int(d) for d in chunk)
    assert len(seen._runs) <= 12  # merged: a few runs, not one per chunk
    assert set(np.concatenate(seen._runs).tolist()) == added
