from pathlib import Path

import pandas as pd
import pytest

from nextbest.models.table_io import TableReadError, file_sha256, read_table

FRAME = pd.DataFrame({"客户": ["张三", "李四"], "amount": [1.5, 2.0], "flag": ["yes", "no"]})


@pytest.mark.parametrize(("sep", "encoding"), [(";", "utf-8"), ("\t", "gb18030"), (",", "utf-8")])
def test_delimiter_and_encoding_are_detected(tmp_path: Path, sep: str, encoding: str) -> None:
    path = tmp_path / "t.csv"
    FRAME.to_csv(path, sep=sep, index=False, encoding=encoding)
    read = read_table(path)
    assert list(read.columns) == list(FRAME.columns)
    assert read["客户"].tolist() == ["张三", "李四"]


def test_parquet_and_excel(tmp_path: Path) -> None:
    FRAME.to_parquet(tmp_path / "t.parquet")
    FRAME.to_excel(tmp_path / "t.xlsx", index=False)
    for name in ("t.parquet", "t.xlsx"):
        assert read_table(tmp_path / name)["amount"].tolist() == [1.5, 2.0]


def test_missing_and_single_column_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(TableReadError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    one = tmp_path / "one.csv"
    one.write_text("a\n1\n2\n", encoding="utf-8")
    with pytest.raises(TableReadError, match="only one column"):
        read_table(one)


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
