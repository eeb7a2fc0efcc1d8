"""Masked forms of direct identifiers, as shown to people and kept in the warehouse.

The rules follow common practice of Chinese banks' customer-facing displays:

========== ======================== =========================
kind       example                  masked
========== ======================== =========================
name       张小三 / 张三 / 欧阳小明     张*三 / 张* / 欧**明
mobile     +86 138-1234-1234        138****1234
id_number  110101199003071234       110***********1234
email      zhangsan@example.com     z*******@example.com
========== ======================== =========================

Every scalar function has a vectorised twin in :func:`mask_array` (pyarrow.compute) that
returns exactly the same strings; nulls stay null.
"""

from __future__ import annotations

import re
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "MaskKind",
    "mask_array",
    "mask_email",
    "mask_id_number",
    "mask_mobile",
    "mask_name",
    "mask_value",
    "normalise_mobile_text",
]

MaskKind = Literal["name", "mobile", "id_number", "email"]

# Spelled out (not \s) so that Python's re and Arrow's RE2 agree on every character.
_MOBILE_NOISE = r"[ \t\-()]"
_MOBILE_PREFIX = r"^(?:\+86|0086|86)(1[0-9]{10})$"
_MOBILE_NOISE_RE = re.compile(_MOBILE_NOISE)
_MOBILE_PREFIX_RE = re.compile(_MOBILE_PREFIX)
# Head/tail kept for mobiles and identity numbers; shorter values are masked entirely.
_KEEP_HEAD = 3
_KEEP_TAIL = 4


def normalise_mobile_text(value: str) -> str:
    """Drop spaces, dashes and brackets and a ``+86``/``86``/``0086`` prefix of a mobile."""
    return _MOBILE_PREFIX_RE.sub(r"\1", _MOBILE_NOISE_RE.sub("", value))


def _keep_ends(text: str) -> str:
    n = len(text)
    if n < _KEEP_HEAD + _KEEP_TAIL + 1:
        return "*" * n
    return text[:_KEEP_HEAD] + "*" * (n - _KEEP_HEAD - _KEEP_TAIL) + text[-_KEEP_TAIL:]


def mask_name(value: str) -> str:
    """``张小三`` -> ``张*三``, ``张三`` -> ``张*``, ``欧阳小明`` -> ``欧**明``."""
    n = len(value)
    if n <= 1:
        return "*" * n
    if n == 2:
        return value[0] + "*"
    return value[0] + "*" * (n - 2) + value[-1]


def mask_mobile(value: str) -> str:
    """``13812341234`` (or ``+86 138 1234 1234``) -> ``138****1234``."""
    return _keep_ends(normalise_mobile_text(value))


def mask_id_number(value: str) -> str:
    """``110101199003071234`` -> ``110***********1234`` (first 3 and last 4 kept)."""
    return _keep_ends(value.upper())


def mask_email(value: str) -> str:
    """``zhangsan@example.com`` -> ``z*******@example.com`` (domain kept)."""
    local, at, domain = value.rpartition("@")
    if not at:
        local, domain = value, ""
    masked = local[:1] + "*" * max(len(local) - 1, 0)
    return f"{masked}{at}{domain}"


_SCALAR = {
    "name": mask_name,
    "mobile": mask_mobile,
    "id_number": mask_id_number,
    "email": mask_email,
}


def mask_value(kind: MaskKind, value: str | None) -> str | None:
    """Mask one value of ``kind``; ``None`` stays ``None``."""
    if value is None:
        return None
    try:
        return _SCALAR[kind](value)
    except KeyError:
        raise ValueError(f"unknown mask kind {kind!r}; expected one of {sorted(_SCALAR)}") from None


# --- vectorised -------------------------------------------------------------------------
def _stars(count: pa.Array) -> pa.Array:
    return pc.binary_repeat(pa.scalar("*"), pc.max_element_wise(count, 0))


def _join(*parts: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _keep_ends_array(text: pa.Array) -> pa.Array:
    n = pc.utf8_length(text)
    long_enough = pc.greater_equal(n, _KEEP_HEAD + _KEEP_TAIL + 1)
    head = pc.if_else(long_enough, pc.utf8_slice_codeunits(text, 0, _KEEP_HEAD), "")
    tail = pc.if_else(long_enough, pc.utf8_slice_codeunits(text, -_KEEP_TAIL), "")
    hidden = pc.if_else(long_enough, pc.subtract(n, _KEEP_HEAD + _KEEP_TAIL), n)
    return _join(head, _stars(hidden), tail)


def _mask_name_array(text: pa.Array) -> pa.Array:
    n = pc.utf8_length(text)
    head = pc.if_else(pc.greater_equal(n, 2), pc.utf8_slice_codeunits(text, 0, 1), "")
    tail = pc.if_else(pc.greater_equal(n, 3), pc.utf8_slice_codeunits(text, -1), "")
    hidden = pc.subtract(pc.subtract(n, pc.utf8_length(head)), pc.utf8_length(tail))
    return _join(head, _stars(hidden), tail)


def _mask_mobile_array(text: pa.Array) -> pa.Array:
    cleaned = pc.replace_substring_regex(text, _MOBILE_NOISE, "")
    return _keep_ends_array(pc.replace_substring_regex(cleaned, _MOBILE_PREFIX, r"\1"))


def _mask_id_number_array(text: pa.Array) -> pa.Array:
    return _keep_ends_array(pc.utf8_upper(text))


def _mask_email_array(text: pa.Array) -> pa.Array:
    # Greedy local part: the split is at the last "@", like str.rpartition.
    parts = pc.extract_regex(text, r"(?s)^(?P<local>.*)(?P<domain>@[^@]*)$")
    matched = pc.is_valid(parts)
    local = pc.if_else(matched, pc.struct_field(parts, "local"), text)
    domain = pc.if_else(matched, pc.struct_field(parts, "domain"), "")
    n = pc.utf8_length(local)
    return _join(pc.utf8_slice_codeunits(local, 0, 1), _stars(pc.subtract(n, 1)), domain)


_VECTOR = {
    "name": _mask_name_array,
    "mobile": _mask_mobile_array,
    "id_number": _mask_id_number_array,
    "email": _mask_email_array,
}


def mask_array(kind: MaskKind, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Vectorised masking of a string array; equal to :func:`mask_value` element-wise.

    Parameters
    ----------
    kind:
        ``name``, ``mobile``, ``id_number`` or ``email``.
    values:
        A pyarrow string array (chunked arrays are combined first).

    Returns
    -------
    pyarrow.Array
        ``string`` array of the same length; null where the input is null.
    """
    try:
        function = _VECTOR[kind]
    except KeyError:
        raise ValueError(f"unknown mask kind {kind!r}; expected one of {sorted(_VECTOR)}") from None
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    if len(values) == 0:
        return pa.array([], type=pa.string())
    result = function(values)
    # Keep nulls null even where a branch above produced a literal.
    return pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), result)
