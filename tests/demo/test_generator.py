import hashlib
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from nextbest.demo.world import GenerationSummary, generate
from nextbest.demo.world.generator import GenerationError
from nextbest.demo.world.params import DEFAULT_WORLD_FILE
from nextbest.domain.identity import mobiles_valid, resident_ids_valid
from nextbest.ingest.mapping import load_mapping
from tests.demo.conftest import read_parts


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", 600, 6, seed=3, faults=0.03)
    b = generate(tmp_path / "b", 600, 6, seed=3, faults=0.03)
    c = generate(tmp_path / "c", 600, 6, seed=4, faults=0.03)
    da, db, dc = _digest(a.out), _digest(b.out), _digest(c.out)
    assert da == db
    assert da.keys() == dc.keys()
    assert da["export/JYLS_0001.parquet"] != dc["export/JYLS_0001.parquet"]


def test_blocks_do_not_depend_on_worker_count(tmp_path: Path) -> None:
    world = tmp_path / "world.yaml"
    text = DEFAULT_WORLD_FILE.read_text(encoding="utf-8")
    world.write_text(text.replace("block_size: 25000", "block_size: 300"), encoding="utf-8")
    one = generate(tmp_path / "one", 700, 4, seed=9, world_file=world, workers=1)
    two = generate(tmp_path / "two", 700, 4, seed=9, world_file=world, workers=2)
    assert len(list((one.out / "export").glob("KHXX_*.parquet"))) == 3
    assert _digest(one.out / "export") == _digest(two.out / "export")


def test_identities_are_valid_and_consistent(golden_bank: GenerationSummary) -> None:
    cust = read_parts(golden_bank.out / "export", "KHXX")
    resident = pc.equal(cust["ZJLX"], "01")
    ids = cust.filter(resident)
    assert pc.all(resident_ids_valid(ids["ZJHM"])).as_py()
    # the birth date in the ID number is the customer's birth date
    assert pc.all(pc.equal(pc.utf8_slice_codeunits(ids["ZJHM"], 6, 14), ids["CSRQ"])).as_py()
    # region prefix matches the province of residence (first two digits of GB/T 2260)
    from nextbest.demo.world.reference import PROVINCES

    prefix = pc.cast(pc.utf8_slice_codeunits(ids["ZJHM"], 0, 2), pa.int64()).to_pylist()
    assert [PROVINCES[p] for p in prefix] == ids["SSSF"].to_pylist()
    # odd 17th digit for men
    seventeenth = pc.cast(pc.utf8_slice_codeunits(ids["ZJHM"], 16, 17), pa.int64())
    male = pc.equal(ids["XB"], "1")
    assert pc.all(pc.equal(pc.equal(pc.bit_wise_and(seventeenth, 1), 1), male)).as_py()
    assert pc.all(mobiles_valid(cust["SJHM"])).as_py()
    assert pc.count_distinct(cust["SJHM"]).as_py() == cust.num_rows
    assert pc.count_distinct(cust["ZJHM"]).as_py() == cust.num_rows
    assert 0.25 < pc.mean(pc.is_valid(cust["DZYX"]).cast(pa.int8())).as_py() < 0.45


def test_references_hold_between_files(golden_bank: GenerationSummary) -> None:
    export = golden_bank.out / "export"
    customers = set(read_parts(export, "KHXX")["KHH"].to_pylist())
    accounts = read_parts(export, "ZHXX")
    account_numbers = set(accounts["ZH"].to_pylist())
    assert len(account_numbers) == accounts.num_rows
    assert set(accounts["KHH"].to_pylist()) <= customers
    products = set(read_parts(export, "CPXX")["CPDM"].to_pylist())
    assert set(accounts["CPDM"].to_pylist()) <= products
    for stem in ("YEXX", "JYLS", "HKJH", "WYSJ"):
        assert set(read_parts(export, stem)["ZH"].to_pylist()) <= account_numbers, stem
    txn = read_parts(export, "JYLS")
    assert pc.count_distinct(txn["LSH"]).as_py() == txn.num_rows
    assert pc.all(pc.greater(txn["JYJE"], 0)).as_py()
    # every customer has the basic demand deposit account
    basic = accounts.filter(pc.equal(accounts["CPDM"], "DD001"))
    assert set(basic["KHH"].to_pylist()) == customers


def test_transactions_volume_and_seasonality(golden_bank: GenerationSummary) -> None:
    txn = read_parts(golden_bank.out / "export", "JYLS")
    per_customer_year = txn.num_rows / golden_bank.customers / 2
    assert per_customer_year > 30
    month = pc.utf8_slice_codeunits(txn["JYSJ"], 0, 6).to_numpy(zero_copy_only=False)
    day = pc.utf8_slice_codeunits(txn["JYSJ"], 6, 8).to_numpy(zero_copy_only=False)
    online = txn["MCC"].to_numpy(zero_copy_only=False) == "5399"
    nov = np.char.endswith(month.astype(str), "11")
    # 11.11: November 11 holds far more online shopping than an average day
    per_day_nov11 = (online & nov & (day == "11")).sum() / 2
    per_day_other = (online & ~nov).sum() / (24 * 30.4 - 60)
    assert per_day_nov11 > 8 * per_day_other


def test_churners_close_or_leave_dust(golden_bank: GenerationSummary) -> None:
    truth = read_parts(golden_bank.out / "truth", "customers").to_pandas()
    balances = read_parts(golden_bank.out / "export", "YEXX").to_pandas()
    accounts = read_parts(golden_bank.out / "export", "ZHXX").to_pandas()
    churned = truth[truth["churn_date"].notna()]
    assert 0.05 < len(churned) / len(truth) < 0.35
    acc = accounts[accounts["KHH"].isin(churned["KHH"])]
    still_open = acc[acc["XHRQ"].isna()]
    # only the basic account may stay open, and then with under 100 CNY at the last month end
    assert set(still_open["CPDM"]) <= {"DD001"}
    last = balances[balances["ZH"].isin(still_open["ZH"])].sort_values("YMRQ").groupby("ZH").last()
    assert (last["YMYE"] < 100_00).all()
    closers = churned[churned["closes_all_accounts"]]
    assert not acc[acc["KHH"].isin(closers["KHH"]) & acc["XHRQ"].isna()].shape[0]


def test_csv_export_is_gbk_and_follows_the_mapping(tmp_path: Path) -> None:
    summary = generate(tmp_path / "csv", 400, 6, seed=2, fmt="csv", faults=0.05)
    export = summary.out / "export"
    raw = (export / "KHXX_0001.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    table = pacsv.read_csv(
        io.BytesIO(raw.decode("gbk", errors="replace").encode("utf-8")),
        convert_options=pacsv.ConvertOptions(column_types={"KHH": pa.string()}),
    )
    assert table.num_rows == summary.rows["KHXX"]
    names = table["KHMC"].to_pylist()
    assert sum(1 for n in names if "\ufffd" not in n) > 0.9 * len(names)
    mapping, _ = load_mapping(summary.out / "mapping.yaml")
    assert {f.format for f in mapping.files} == {"csv"}
    assert all(f.encoding == "gbk" for f in mapping.files)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="faults"):
        generate(tmp_path, 10, 3, faults=0.9)
    with pytest.raises(GenerationError, match="months"):
        generate(tmp_path, 10, 0)
