"""A small, deterministic sample bank export in a bank-specific source schema.

It stands in for a real bank's files until the demo-bank generator replaces it, and it
exercises every reader and most mapping features: a GBK, ``;``-separated customer file with
Chinese headers and ``yyMMdd`` dates, an Excel product catalogue, a UTF-8 accounts file whose
owner is found through a separate owner (link) file, amounts in fen and a Parquet
transaction file with signed amounts. A handful of rows carry deliberate faults; their
expected rule and outcome are listed in :data:`FAULTS`.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["FAULTS", "MAPPING", "Fault", "SampleBank", "write_sample_bank"]

MAPPING = Path(__file__).parent / "mappings" / "sample_bank.yaml"

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
_REGIONS = (
    ("110101", "北京", "北京", 1),
    ("310104", "上海", "上海", 1),
    ("440106", "广东", "广州", 1),
    ("440305", "广东", "深圳", 1),
    ("330106", "浙江", "杭州", 2),
    ("320102", "江苏", "南京", 2),
    ("510104", "四川", "成都", 2),
    ("420102", "湖北", "武汉", 2),
    ("370102", "山东", "济南", 3),
    ("430104", "湖南", "长沙", 3),
)
_OCCUPATIONS = ("01", "02", "03", "04", "05", "07", "08", "99")
_EDUCATION = ("1", "2", "3", "4", "5")
_PRODUCTS = (
    # code, zh, en, family code, risk, min amount
    ("HQ001", "活期储蓄", "Demand savings", "A1", "R1", 0),
    ("DQ012", "一年期定期存款", "1-year time deposit", "A2", "R1", 50),
    ("DE020", "大额存单", "Large certificate of deposit", "A3", "R1", 200000),
    ("LC101", "稳健理财1号", "Steady wealth 1", "B1", "R2", 10000),
    ("LC205", "进取理财5号", "Growth wealth 5", "B1", "R4", 10000),
    ("JJ300", "沪深300指数基金", "CSI 300 index fund", "B2", "R4", 10),
    ("XYK01", "金卡信用卡", "Gold credit card", "C1", "R1", 0),
    ("XD010", "消费贷", "Consumer loan", "C2", "R2", 0),
)


def _with_check(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


@dataclass(frozen=True)
class Fault:
    """A deliberate fault: where it is and what ingestion must say about it."""

    file: str
    row: int  # source row number as ingestion reports it
    field: str
    rule: str
    outcome: str


@dataclass(frozen=True)
class SampleBank:
    """What was written: the folder, its files and the deliberate faults."""

    folder: Path
    files: tuple[str, ...]
    customers: int
    accounts: int
    transactions: int
    faults: tuple[Fault, ...]


# Row numbers: CSV/Excel data rows start at 2 (header is row 1), Parquet rows at 1.
FAULTS: tuple[Fault, ...] = (
    Fault("customers.csv", 6, "id_number", "resident_id", "reject"),
    Fault("customers.csv", 9, "mobile", "mobile", "flag"),
    Fault("customers.csv", 13, "gender", "code", "reject"),
    Fault("customers.csv", 16, "onboarding_date", "type", "reject"),
    Fault("customers.csv", 21, "customer_key", "duplicate_key", "reject"),
    Fault("customers.csv", 25, "mobile", "near_duplicate", "match"),
    Fault("customers.csv", 30, "annual_income", "range", "flag"),
    Fault("accounts.csv", 4, "customer_key", "reference", "reject"),
    Fault("transactions.parquet", 7, "account_key", "reference", "reject"),
    Fault("transactions.parquet", 7, "customer_key", "reference", "reject"),  # no owner either
    Fault("transactions.parquet", 11, "channel", "code", "reject"),
)


FAULT_ROWS = {f.rule: f.row for f in FAULTS if f.file == "customers.csv"}


def write_sample_bank(folder: Path, customers: int = 300, seed: int = 20240601) -> SampleBank:
    """Write the sample bank's export files into ``folder`` (created if missing)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    cust_rows = _customers(rng, customers)
    _write_csv(
        folder / "customers.csv",
        [
            "客户号",
            "姓名",
            "性别",
            "出生日期",
            "证件类型",
            "证件号码",
            "手机号",
            "电子邮箱",
            "省份",
            "城市",
            "城市等级",
            "职业",
            "学历",
            "年收入万元",
            "开户日期",
            "归属网点",
        ],
        cust_rows,
        encoding="gbk",
        delimiter=";",
    )
    _write_products(folder / "products.xlsx")
    # Customers rejected on purpose get no accounts, so that each fault is reported once.
    rejected = {FAULT_ROWS[f] for f in ("resident_id", "code", "type")}
    accounts, owners = _accounts(
        rng, [r[0] for i, r in enumerate(cust_rows) if i + 2 not in rejected]
    )
    _write_csv(
        folder / "accounts.csv",
        ["acct_no", "prod_cd", "open_dt", "close_dt", "stat_cd", "limit_fen", "ccy"],
        accounts,
    )
    _write_csv(folder / "owners.csv", ["acct_no", "cust_no", "role"], owners)
    orphan = accounts[2][0]  # the account without an owner is rejected; no transactions on it
    txns = _transactions(rng, [a[0] for a in accounts if a[0] != orphan])
    pq.write_table(txns, folder / "transactions.parquet")
    files = ("customers.csv", "products.xlsx", "accounts.csv", "owners.csv", "transactions.parquet")
    return SampleBank(folder, files, len(cust_rows), len(accounts), txns.num_rows, FAULTS)


def _customers(rng: random.Random, n: int) -> list[list[str]]:
    rows: list[list[str]] = []
    for i in range(n):
        cust_no = f"C{100000 + i}"
        region, province, city, tier = rng.choice(_REGIONS)
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 50))
        sex = rng.choice("12")
        seq = f"{rng.randrange(100):02d}{rng.choice('13579' if sex == '1' else '02468')}"
        id_number = _with_check(f"{region}{born:%Y%m%d}{seq}")
        # Mobile numbers avoid 4-digit runs shared with other values, for the identifier scan.
        mobile = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        if rng.random() < 0.3:
            mobile = "+86 " + mobile
        name = rng.choice(_SURNAMES) + "".join(
            rng.choice(_GIVEN) for _ in range(rng.choice((1, 2)))
        )
        email = f"user{rng.randrange(10**4)}@example.cn" if rng.random() < 0.5 else ""
        onboard = date(2005, 1, 1) + timedelta(days=rng.randrange(0, 365 * 19))
        rows.append(
            [
                cust_no,
                name,
                sex,
                f"{born:%Y%m%d}",
                "01",
                id_number,
                mobile,
                email,
                province,
                city,
                str(tier),
                rng.choice(_OCCUPATIONS),
                rng.choice(_EDUCATION),
                f"{rng.uniform(3, 80):.1f}",
                f"{onboard:%y%m%d}",
                f"BR{rng.randrange(10, 60)}",
            ]
        )
    # Deliberate faults (row number = list index + 2).
    rows[4][5] = rows[4][5][:17] + ("0" if rows[4][5][17] != "0" else "1")  # bad check char
    rows[7][6] = "1381234"  # too short a mobile: flagged, not stored
    rows[11][2] = "3"  # unknown gender code
    rows[14][14] = "231341"  # 41 Dec 2023 does not exist
    rows[19] = [rows[18][0], *rows[19][1:]]  # a second row for the same customer number
    rows[23][6] = rows[2][6]  # a second customer with the same mobile: match candidate
    rows[28][13] = "-5.0"  # negative income: flagged
    return rows


def _write_csv(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _write_products(path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "产品目录"
    ws.append(["产品代码", "产品名称", "英文名称", "大类", "风险等级", "起购金额"])
    for row in _PRODUCTS:
        ws.append(list(row))
    wb.save(path)


def _accounts(rng: random.Random, customers: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    accounts: list[list[str]] = []
    owners: list[list[str]] = []
    codes = [p[0] for p in _PRODUCTS]
    distinct = list(dict.fromkeys(customers))
    for i, cust in enumerate(distinct):
        for j in range(rng.choice((1, 2, 2, 3))):
            acct = f"62{i:05d}{j}"
            product = codes[0] if j == 0 else rng.choice(codes)
            opened = date(2010, 1, 1) + timedelta(days=rng.randrange(0, 365 * 14))
            limit = str(rng.randrange(1, 50) * 100000) if product.startswith("XYK") else ""
            status = rng.choice("0000001")
            accounts.append([acct, product, f"{opened:%Y-%m-%d}", "", status, limit, "CNY"])
            owners.append([acct, cust, "主"])
            if rng.random() < 0.1:
                owners.append([acct, rng.choice(distinct), "附"])  # joint holder, not the owner
    owners = [o for o in owners if o[0] != accounts[2][0]]  # fault: account without an owner
    return accounts, owners


def _transactions(rng: random.Random, accounts: list[str]) -> pa.Table:
    n = len(accounts) * 4
    start = datetime(2024, 1, 1)
    txn_no, acct, ts, amount, channel, mcc = [], [], [], [], [], []
    for i in range(n):
        txn_no.append(f"T{i:07d}")
        acct.append(rng.choice(accounts))
        ts.append(
            (start + timedelta(seconds=rng.randrange(0, 86400 * 180))).strftime("%Y-%m-%d %H:%M:%S")
        )
        amount.append(rng.choice((-1, -1, 1)) * rng.randrange(100, 500000))
        channel.append(rng.choice(("01", "02", "03", "04", "05")))
        mcc.append(rng.choice(("", "5411", "5812", "4111", "5311")))
    acct[6] = "6299999990"  # fault: an account that does not exist
    channel[10] = "77"  # fault: unknown channel code
    return pa.table(
        {
            "txn_no": txn_no,
            "acct_no": acct,
            "txn_ts": ts,
            "amount_fen": pa.array(amount, pa.int64()),
            "channel_cd": channel,
            "mcc": mcc,
        }
    )
