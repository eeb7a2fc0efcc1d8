"""Streaming writers for the generated files: Parquet, or CSV in UTF-8 or GBK."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["FileFormat", "TableSink"]

FileFormat = Literal["parquet", "csv"]


class TableSink:
    """Append record blocks to one file; the first block fixes the schema."""

    def __init__(self, path: Path, fmt: FileFormat, encoding: str = "utf-8") -> None:
        self.path = path
        self.format = fmt
        self.encoding = encoding
        self.rows = 0
        self._schema: pa.Schema | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._csv: io.BufferedWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self._schema is None:
            self._schema = table.schema
            if self.format == "parquet":
                self._parquet = pq.ParquetWriter(self.path, self._schema, compression="zstd")
            else:
                self._csv = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        else:
            table = table.cast(self._schema)
        if self._parquet is not None:
            self._parquet.write_table(table, row_group_size=1 << 20)
        elif self._csv is not None:
            buf = io.BytesIO()
            options = pacsv.WriteOptions(include_header=self.rows == 0, quoting_style="needed")
            pacsv.write_csv(table, buf, write_options=options)
            data = buf.getvalue()
            if self.encoding.lower().replace("-", "") != "utf8":
                data = data.decode("utf-8").encode(self.encoding, errors="replace")
            self._csv.write(data)
        self.rows += table.num_rows

    def write_once(self, table: pa.Table) -> None:
        """Write ``table`` as the whole file."""
        self.write(table)
        self.close()

    def close(self) -> None:
        if self._schema is None:  # nothing written: still leave a valid (empty) file
            return
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()
