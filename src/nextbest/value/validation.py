"""Data contracts checked at the door of every value model: columns, keys, finite numbers."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from nextbest.value.errors import ValueInputError

__all__ = [
    "as_float_array",
    "require_columns",
    "require_same_length",
    "require_unique_keys",
]


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`ValueInputError` naming every column of ``columns`` missing in ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueInputError(
            f"{what}: missing required column(s) {missing}; present: {list(frame.columns)}"
        )


def require_unique_keys(keys: np.ndarray | pd.Series, what: str, column: str) -> None:
    """Raise :class:`ValueInputError` if a key is null or occurs more than once."""
    series = pd.Series(keys)
    nulls = series.isna()
    if nulls.any():
        row = int(np.flatnonzero(nulls.to_numpy())[0])
        raise ValueInputError(f"{what}: column {column!r} is empty in row {row}")
    duplicated = series.duplicated(keep=False)
    if duplicated.any():
        rows = np.flatnonzero(duplicated.to_numpy())[:5].tolist()
        raise ValueInputError(
            f"{what}: column {column!r} must be unique; key {series.iloc[rows[0]]!r} repeats "
            f"(rows {rows})"
        )


def as_float_array(
    values: object,
    what: str,
    name: str,
    *,
    minimum: float | None = 0.0,
    maximum: float | None = None,
) -> np.ndarray:
    """Return ``values`` as a 1-D float array, rejecting NaN, infinities and out-of-range values.

    Parameters
    ----------
    values:
        Anything :func:`numpy.asarray` accepts (a pandas Series, a list, an array).
    what, name:
        The calling function and the argument or column, used in the error message.
    minimum, maximum:
        Inclusive bounds; ``None`` leaves that side open.
    """
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueInputError(f"{what}: {name!r} must be numeric ({exc})") from exc
    array = np.atleast_1d(array)
    if array.ndim != 1:
        raise ValueInputError(f"{what}: {name!r} must be one-dimensional, got shape {array.shape}")
    bad = ~np.isfinite(array)
    if minimum is not None:
        bad |= array < minimum
    if maximum is not None:
        bad |= array > maximum
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        bounds = f"[{minimum if minimum is not None else '-inf'}, "
        bounds += f"{maximum if maximum is not None else 'inf'}]"
        raise ValueInputError(
            f"{what}: {name!r} in row {row} is {array[row]!r}; must be finite and in {bounds}"
        )
    return array


def require_same_length(what: str, **arrays: np.ndarray) -> int:
    """Raise :class:`ValueInputError` unless all ``arrays`` have one length; return it."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueInputError(f"{what}: inputs differ in length {lengths}")
    return next(iter(lengths.values()), 0)
