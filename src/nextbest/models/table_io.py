"""Reading a user's table for modelling: CSV (delimiter and encoding detected), Parquet, Excel.

This is the I/O edge of the models package; everything downstream takes a DataFrame.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pandas as pd

from nextbest.errors import NextbestError

__all__ = ["TableReadError", "file_sha256", "read_table"]

# Tried in order; gb18030 is a superset of GBK/GB2312 and common in Chinese bank exports.
_ENCODINGS = ("utf-8-sig", "gb18030", "latin-1")
_DELIMITERS = ",;\t|"


class TableReadError(NextbestError):
    """The file cannot be read as a table; the message names the file and the problem."""


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _detect_encoding(sample: bytes) -> str:
    for encoding in _ENCODINGS:
        try:
            sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"  # decodes any byte sequence; reached only if the tuple changes


def _detect_delimiter(text: str, path: Path) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        raise TableReadError(f"{path}: the file is empty")
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        # The sniffer gives up on irregular quoting; the delimiter that occurs equally
        # often on the most lines is the next best guess.
        counts = {d: sum(line.count(d) for line in lines) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def read_table(
    path: Path | str,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | int = 0,
) -> pd.DataFrame:
    """Read a CSV/TXT, Parquet or Excel file into a DataFrame.

    Parameters
    ----------
    path:
        The file; the suffix chooses the reader (``.parquet``/``.pq``, ``.xlsx``/``.xls``,
        anything else is read as delimited text).
    delimiter, encoding:
        For delimited text; detected from the first 64 KiB when not given.
    sheet:
        Excel sheet name or index.

    Raises
    ------
    TableReadError
        The file is missing, empty, or cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise TableReadError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if suffix in {".xlsx", ".xlsm", ".xls"}:
            return pd.read_excel(path, sheet_name=sheet)
        with path.open("rb") as handle:
            sample = handle.read(1 << 16)
        encoding = encoding or _detect_encoding(sample)
        text = sample.decode(encoding, errors="ignore")
        delimiter = delimiter or _detect_delimiter(text, path)
        frame = pd.read_csv(path, sep=delimiter, encoding=encoding, low_memory=False)
    except TableReadError:
        raise
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise TableReadError(f"{path}: cannot read as a table ({exc})") from exc
    if frame.shape[1] < 2:
        raise TableReadError(
            f"{path}: found only one column with delimiter {delimiter!r}; "
            "pass --delimiter if the file uses another"
        )
    return frame
