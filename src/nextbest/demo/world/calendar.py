"""The exported window: months as day numbers (days since 1970-01-01), seasonality helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from nextbest.demo.world.params import WorldParams

__all__ = ["EPOCH", "Window", "day_number", "days_to_yyyymmdd"]

EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def days_to_yyyymmdd(days: np.ndarray) -> np.ndarray:
    """Day numbers to integers yyyymmdd (vectorised through numpy datetime64)."""
    d = np.asarray(days, dtype="int64").astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y * 10000 + m * 100 + dd


@dataclass(frozen=True)
class Window:
    """``months`` consecutive calendar months ending with the world's end month.

    ``starts[m]`` is the first day of month ``m`` and ``starts[months]`` the day after the
    window, all as day numbers.
    """

    months: int
    starts: np.ndarray
    month_of_year: np.ndarray
    spring_festival_month: np.ndarray  # bool per month: the month holding Spring Festival
    spring_festival_day: np.ndarray  # day number of the festival in that month, else -1

    @classmethod
    def build(cls, params: WorldParams, months: int) -> Window:
        end = np.datetime64(params.calendar.end_month, "M")
        first = end - (months - 1)
        month_starts = np.arange(first, end + 2, dtype="datetime64[M]")
        starts = month_starts.astype("datetime64[D]").astype(np.int64)
        moy = month_starts[:-1].astype(np.int64) % 12 + 1
        festival = np.full(months, -1, dtype=np.int64)
        for d in params.calendar.spring_festival.values():
            day = day_number(d)
            m = int(np.searchsorted(starts, day, side="right")) - 1
            if 0 <= m < months:
                festival[m] = day
        return cls(months, starts, moy, festival >= 0, festival)

    @property
    def first_day(self) -> int:
        return int(self.starts[0])

    @property
    def end_day(self) -> int:
        """Last day of the window (the export date)."""
        return int(self.starts[-1]) - 1

    @property
    def month_length(self) -> np.ndarray:
        return np.diff(self.starts)

    def month_index(self, days: np.ndarray) -> np.ndarray:
        """Month of each day number: -1 before the window, ``months`` after it."""
        return np.searchsorted(self.starts, days, side="right") - 1
