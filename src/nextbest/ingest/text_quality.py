"""Detecting text garbled between encodings (乱码), e.g. UTF-8 bytes read as GBK.

A mis-declared encoding leaves text that re-encodes, under the wrong codec, into bytes that
decode cleanly as UTF-8 into Chinese characters — or, when the bytes did not fit, the
replacement character U+FFFD. Genuine Chinese text almost never round-trips like that, because
GBK byte pairs rarely form valid three-byte UTF-8 sequences.
"""

from __future__ import annotations

import codecs

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["looks_mis_encoded", "mis_encoded"]

_WRONG_CODECS = ("gbk", "latin-1")


def _is_cjk_text(text: str) -> bool:
    has_cjk = False
    for ch in text:
        if "\u4e00" <= ch <= "\u9fff":
            has_cjk = True
        elif not (ch.isascii() or ch == "·"):
            return False
    return has_cjk


def looks_mis_encoded(text: str) -> bool:
    """True when ``text`` carries U+FFFD (or the '?' a lossy codec left in its place) or is
    Chinese text that was decoded with a wrong codec."""
    if "\ufffd" in text:
        return True
    if "?" in text.rstrip("?") and not text.isascii():
        # An ASCII '?' inside Chinese text is what a codec without U+FFFD writes for a
        # character it could not represent.
        return True
    # Written back out in a codec without U+FFFD, the last broken character may have become
    # '?' and a multi-byte sequence may be cut short: tolerate both at the end only.
    trimmed = text.rstrip("?")
    for codec in _WRONG_CODECS:
        try:
            raw = trimmed.encode(codec)
            repaired = codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if repaired != trimmed and _is_cjk_text(repaired):
            return True
    return False


def mis_encoded(values: pa.Array) -> np.ndarray:
    """Boolean mask over a string array: which values look garbled (nulls and ASCII never do)."""
    mask = np.zeros(len(values), dtype=bool)
    if len(values) == 0:
        return mask
    suspect = pc.fill_null(pc.invert(pc.string_is_ascii(values)), False)
    positions = np.flatnonzero(np.asarray(suspect.to_numpy(zero_copy_only=False), dtype=bool))
    if positions.size:
        texts = pc.take(values, pa.array(positions)).to_pylist()
        mask[positions] = [looks_mis_encoded(t) for t in texts]
    return mask
