"""Streaming readers for source files: Arrow record batches that keep source row numbers.

Every reader first *checks* its file (readable, decodable in the declared encoding, the
mapped columns present under the declared delimiter) so that a wrong delimiter, encoding or
column name stops the ingest before anything is written, with a message naming the file and
the problem. CSV is read with every column as text: the mapping's casts decide types.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from nextbest.errors import NextbestError
from nextbest.ingest.mapping import FileSpec, LinkSpec, Mapping

__all__ = [
    "ROW_NUMBER",
    "SourceChunk",
    "SourceError",
    "SourceFile",
    "check_source",
    "read_chunks",
    "read_link",
    "resolve_sources",
]

ROW_NUMBER = "_row_number"
_HEADER_PROBE_BYTES = 1 << 16


class SourceError(NextbestError):
    """A source file cannot be read as the mapping declares; the message names the file."""


@dataclass(frozen=True)
class SourceFile:
    """One file on disk matched by one mapping entry (a file or a link)."""

    spec: FileSpec | LinkSpec
    path: Path
    display: str  # path relative to SOURCE, as reported in quarantine rows and lineage


@dataclass(frozen=True)
class SourceChunk:
    """A slice of a source file: its columns plus ``_row_number`` (1-based, as in the file)."""

    source: SourceFile
    data: pa.Table


def resolve_sources(source: Path, mapping: Mapping) -> tuple[list[SourceFile], list[str]]:
    """Match files under ``source`` to the mapping's links and files.

    Returns
    -------
    (matched, ignored)
        Links first (in mapping order), then files; ignored lists files no entry matched.

    Raises
    ------
    SourceError
        If ``source`` does not exist, a required entry matches no file, or one file is matched
        by two entries.
    """
    if not source.exists():
        raise SourceError(f"{source}: no such file or directory")
    root = source if source.is_dir() else source.parent
    candidates = (
        sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
    )
    matched: list[SourceFile] = []
    claimed: dict[Path, str] = {}
    for spec in [*mapping.links, *mapping.files]:
        hits = [p for p in candidates if p.relative_to(root).match(spec.path)]
        if not hits and spec.required:
            raise SourceError(
                f"{source}: no file matches {spec.path!r} (mapping entry {spec.name!r})"
            )
        for path in hits:
            if path in claimed:
                raise SourceError(
                    f"{path.relative_to(root)}: matched by both {claimed[path]!r} and "
                    f"{spec.name!r}; make the path globs exclusive"
                )
            claimed[path] = spec.name
            matched.append(SourceFile(spec, path, str(path.relative_to(root))))
    ignored = [str(p.relative_to(root)) for p in candidates if p not in claimed]
    return matched, ignored


def _needed_columns(spec: FileSpec | LinkSpec) -> frozenset[str]:
    return spec.source_columns


def _csv_header(src: SourceFile) -> list[str]:
    spec = src.spec
    with src.path.open("rb") as fh:
        head = fh.read(_HEADER_PROBE_BYTES)
    # Cut at the last complete line so that a multi-byte character is never split.
    cut = head.rfind(b"\n")
    if cut >= 0 and len(head) == _HEADER_PROBE_BYTES:
        head = head[: cut + 1]
    try:
        text = head.decode(spec.encoding)
    except UnicodeDecodeError as exc:
        hint = ""
        if spec.encoding.startswith("utf"):
            hint = " (is it GBK? set encoding: gbk)"
        raise SourceError(
            f"{src.display}: cannot be decoded as {spec.encoding} at byte {exc.start}"
            f" — wrong encoding?{hint}"
        ) from None
    text = text.removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=spec.delimiter))
    if len(rows) < spec.header_row:
        raise SourceError(f"{src.display}: has no header row {spec.header_row} (file too short)")
    return [c.strip() for c in rows[spec.header_row - 1]]


def _require_columns(src: SourceFile, header: list[str]) -> None:
    missing = sorted(_needed_columns(src.spec) - set(header))
    if not missing:
        return
    spec = src.spec
    message = (
        f"{src.display}: mapped column(s) {', '.join(repr(m) for m in missing)} not found "
        f"(mapping entry {spec.name!r}); the file has {len(header)} column(s)"
    )
    if spec.format == "csv" and len(header) == 1:
        seen = header[0] if header else ""
        guess = next((d for d in ";,|\t" if d in seen and d != spec.delimiter), None)
        message += f" — wrong delimiter? the mapping says {spec.delimiter!r}"
        if guess:
            message += f" but the header looks {guess!r}-separated"
    elif spec.format == "csv" and spec.encoding != "utf-8":
        message += f" — wrong encoding? the mapping says {spec.encoding}"
    raise SourceError(message)


def check_source(src: SourceFile) -> list[str]:
    """Check that ``src`` can be read as declared; return its header.

    Raises
    ------
    SourceError
        Naming the file and the problem: unreadable, wrong encoding, wrong delimiter, missing
        mapped column, or (for CSV) a first block that does not decode or parse.
    """
    spec = src.spec
    try:
        if spec.format == "csv":
            header = _csv_header(src)
            _require_columns(src, header)
            # Parse a first block for real: catches ragged rows from a wrong delimiter.
            reader = _open_csv(src, header, block_size=_HEADER_PROBE_BYTES)
            reader.read_next_batch()
            return header
        if spec.format == "parquet":
            header = pq.ParquetFile(src.path).schema_arrow.names
        else:
            header = [str(h) for h in _excel_header(src)]
    except StopIteration:
        return header
    except (OSError, pa.ArrowInvalid) as exc:
        raise SourceError(f"{src.display}: cannot read as {spec.format}: {_clean(exc)}") from None
    _require_columns(src, header)
    return header


def _clean(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "invalid UTF8" in text or "decode" in text.lower():
        text += " — wrong encoding?"
    if "Expected" in text and "columns" in text:
        text += " — wrong delimiter?"
    return text


def _open_csv(src: SourceFile, header: list[str], block_size: int) -> pacsv.CSVStreamingReader:
    spec = src.spec
    needed = sorted(_needed_columns(spec))
    return pacsv.open_csv(
        src.path,
        read_options=pacsv.ReadOptions(
            encoding=spec.encoding,
            skip_rows=spec.header_row,
            column_names=header,
            block_size=block_size,
        ),
        parse_options=pacsv.ParseOptions(delimiter=spec.delimiter),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            include_columns=needed,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def read_chunks(src: SourceFile, chunk_rows: int) -> Iterator[SourceChunk]:
    """Stream ``src`` as chunks of about ``chunk_rows`` rows with ``_row_number``.

    Call :func:`check_source` first; errors met while streaming (a bad byte deep in the file)
    raise :class:`SourceError` naming the file and the first row of the failing chunk.
    """
    spec = src.spec
    first_row = spec.header_row + 1 if spec.format in ("csv", "excel") else 1
    offset = 0
    try:
        for batch in _batches(src, chunk_rows):
            n = batch.num_rows
            if n == 0:
                continue
            numbers = pa.array(range(first_row + offset, first_row + offset + n), pa.int64())
            table = pa.Table.from_batches([batch]).append_column(ROW_NUMBER, numbers)
            offset += n
            yield SourceChunk(src, table)
    except (OSError, pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise SourceError(
            f"{src.display}: read failed after row {first_row + offset - 1}: {_clean(exc)}"
        ) from None


def _batches(src: SourceFile, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    spec = src.spec
    if spec.format == "csv":
        header = _csv_header(src)
        # Roughly 100 bytes a row; the reader's blocks are then sliced to ``chunk_rows``.
        reader = _open_csv(src, header, block_size=max(1 << 20, chunk_rows * 100))
        for batch in reader:
            yield from _slices(batch, chunk_rows)
    elif spec.format == "parquet":
        pf = pq.ParquetFile(src.path)
        yield from pf.iter_batches(batch_size=chunk_rows, columns=sorted(_needed_columns(spec)))
    else:
        yield from _excel_batches(src, chunk_rows)


def _slices(batch: pa.RecordBatch, size: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, size):
        yield batch.slice(start, size)


# --- Excel -------------------------------------------------------------------------------------


def _excel_sheet(src: SourceFile):  # type: ignore[no-untyped-def]
    import openpyxl

    wb = openpyxl.load_workbook(src.path, read_only=True, data_only=True)
    sheet = src.spec.sheet
    if sheet is not None and sheet not in wb.sheetnames:
        wb.close()
        raise SourceError(f"{src.display}: no sheet {sheet!r}; sheets: {wb.sheetnames}")
    return wb, (wb[sheet] if sheet is not None else wb.worksheets[0])


def _excel_header(src: SourceFile) -> list[object]:
    wb, ws = _excel_sheet(src)
    try:
        for i, row in enumerate(ws.iter_rows(values_only=True), start=1):
            if i == src.spec.header_row:
                return [("" if v is None else str(v).strip()) for v in row]
        raise SourceError(f"{src.display}: has no header row {src.spec.header_row}")
    finally:
        wb.close()


def _excel_text(value: object) -> str | None:
    # Excel holds numbers and dates natively; render them as the text a CSV export would
    # hold, so that one set of casts serves every format.
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _excel_batches(src: SourceFile, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    wb, ws = _excel_sheet(src)
    try:
        rows = ws.iter_rows(values_only=True)
        header: list[str] = []
        for i, row in enumerate(rows, start=1):
            if i == src.spec.header_row:
                header = [("" if v is None else str(v).strip()) for v in row]
                break
        needed = sorted(_needed_columns(src.spec))
        positions = [header.index(c) for c in needed]
        buffer: list[list[str | None]] = [[] for _ in needed]
        for row in rows:
            for out, pos in zip(buffer, positions, strict=True):
                out.append(_excel_text(row[pos]) if pos < len(row) else None)
            if len(buffer[0]) >= chunk_rows:
                yield _excel_record_batch(needed, buffer)
                buffer = [[] for _ in needed]
        if buffer and buffer[0]:
            yield _excel_record_batch(needed, buffer)
    finally:
        wb.close()


def _excel_record_batch(names: list[str], columns: list[list[str | None]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in columns], names=names)


def read_link(src: SourceFile, chunk_rows: int) -> dict[str, str]:
    """Read a link file into a lookup ``key -> value`` (``where`` filters applied).

    Raises
    ------
    SourceError
        If a key has two different values (the link would be ambiguous), naming the rows.
    """
    spec = src.spec
    assert isinstance(spec, LinkSpec)
    lookup: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for chunk in read_chunks(src, chunk_rows):
        cols = {name: chunk.data.column(name).to_pylist() for name in chunk.data.column_names}
        numbers = cols[ROW_NUMBER]
        for i, row_number in enumerate(numbers):
            if any(str(cols[c][i]).strip() != v for c, v in spec.where.items()):
                continue
            key, value = cols[spec.key][i], cols[spec.value][i]
            if key is None or value is None:
                continue
            k, v = str(key).strip(), str(value).strip()
            if k in lookup and lookup[k] != v:
                raise SourceError(
                    f"{src.display}: link {spec.name!r} is ambiguous: key in column "
                    f"{spec.key!r} on rows {first_row[k]} and {row_number} has two values"
                )
            lookup[k] = v
            first_row.setdefault(k, row_number)
    return lookup
