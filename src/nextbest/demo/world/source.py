"""The core-banking export format: file names, pinyin-abbreviation columns and source codes.

The demo bank exports what a Chinese core-banking system would: customer numbers and account
numbers as text, dates as ``yyyyMMdd`` text, transaction times as ``yyyyMMddHHmmss``, money in
fen (分) as integers, and its own codes (``XB`` 1/2 for gender, ``ZJLX`` 01 for 居民身份证,
``QDDM`` channel codes, MCC merchant codes ...). ``mappings/generated_bank.yaml`` maps every
file onto the canonical model.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.demo.world.activity import Activity
from nextbest.demo.world.calendar import Window, days_to_yyyymmdd
from nextbest.demo.world.credit import Credit
from nextbest.demo.world.holdings import Holdings
from nextbest.demo.world.params import WorldParams
from nextbest.demo.world.population import Population
from nextbest.demo.world.records import CONSENT_SLOTS, CONSENT_SOURCES, Records
from nextbest.demo.world.reference import CITIES, city_arrays

__all__ = ["FILES", "customer_number", "export_block", "product_table"]

# source file stem per canonical table
FILES = {
    "customer": "KHXX",
    "kyc_status": "KYCLS",
    "risk_assessment": "FXPG",
    "product": "CPXX",
    "account": "ZHXX",
    "balance": "YEXX",
    "transaction": "JYLS",
    "credit_instalment": "HKJH",
    "default_event": "WYSJ",
    "digital_event": "SZXW",
    "consent": "SQJL",
}

GENDER_CODES = ("1", "2")  # GB/T 2261.1: 1 男, 2 女
OCCUPATION_CODES = ("10", "11", "12", "13", "20", "30", "40", "50", "60", "99")
EDUCATION_CODES = ("80", "60", "30", "20", "10")  # GB/T 4658-like: 小学 … 研究生
KYC_CODES = ("1", "2", "3", "4")  # 已核实, 待核实, 证件过期, 核实未通过
CHANNEL_CODES = ("01", "02", "03", "04", "05", "06", "09")  # 柜面 ATM 手机 网银 POS 第三方 批量
MCC_CODES = (
    "",
    "5411",
    "5812",
    "4722",
    "5399",
    "8299",
    "8062",
    "5712",
    "5511",
    "7832",
    "4900",
    "5944",
    "5999",
)
COUNTERPARTY_CODES = ("00", "01", "02", "03", "04", "05", "06")
EVENT_TYPE_CODES = ("LOGIN", "VIEW", "SEARCH", "CLICK")
EVENT_CHANNEL_CODES = ("APP", "WEB")
CONSENT_PURPOSE_CODES = {
    "marketing": "MKT",
    "service": "SVC",
    "profiling": "PRF",
    "third_party_sharing": "3RD",
}
CONSENT_CHANNEL_CODES = {
    "sms": "SMS",
    "email": "EMAIL",
    "phone": "CALL",
    "app_push": "PUSH",
    "in_app": "INAPP",
    "wechat": "WECHAT",
    "branch": "BRANCH",
}
FAMILY_CODES = {
    "demand_deposit": "0101",
    "time_deposit": "0102",
    "certificate_of_deposit": "0103",
    "wealth_management": "0201",
    "fund": "0202",
    "insurance": "0203",
    "precious_metal": "0204",
    "credit_card": "0301",
    "consumer_loan": "0302",
    "mortgage": "0303",
    "car_loan": "0304",
}
CURRENCY_CNY = "156"  # ISO 4217 numeric


def customer_number(index: np.ndarray) -> pa.Array:
    """Customer numbers (客户号): ten digits, starting with 1."""
    return pc.cast(pa.array(1_000_000_000 + np.asarray(index, dtype=np.int64)), pa.string())


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def _coded(codes: tuple[str, ...] | list[str], index: np.ndarray) -> pa.Array:
    """Codes by index via a dictionary take (cheap for millions of rows)."""
    return pa.array(list(codes)).take(pa.array(np.asarray(index, dtype=np.int64)))


def _dates(days: np.ndarray, iso: bool = False, nullable: bool = True) -> pa.Array:
    """Day numbers as ``yyyyMMdd`` (or ``yyyy-MM-dd``) text.

    With ``nullable`` the day number -1 (the generator's "none") is empty (null); birth dates
    before 1970 are negative day numbers and are passed with ``nullable=False``.
    """
    days = np.asarray(days, dtype=np.int64)
    valid = days != -1 if nullable else np.ones(len(days), dtype=bool)
    if not valid.any():
        return pa.nulls(len(days), pa.string())
    lo, hi = int(days[valid].min()), int(days[valid].max())
    dictionary = _text(days_to_yyyymmdd(np.arange(lo, hi + 1)))
    if iso:
        dictionary = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(dictionary, 0, 4),
            pc.utf8_slice_codeunits(dictionary, 4, 6),
            pc.utf8_slice_codeunits(dictionary, 6, 8),
            "-",
        )
    idx = pa.array(np.where(valid, days - lo, 0), mask=~valid)
    return dictionary.take(idx)


_CLOCK: dict[str, pa.Array] = {}


def _clock(fmt: str) -> pa.Array:
    """All 86,400 times of day as text, ``HHmmss`` or ``HH:mm:ss``."""
    if fmt not in _CLOCK:
        sec = np.arange(86400)
        hms = (sec // 3600) * 10000 + (sec // 60 % 60) * 100 + sec % 60
        text = pc.utf8_lpad(_text(hms), 6, "0")
        if fmt == "HH:mm:ss":
            text = pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(text, 0, 2),
                pc.utf8_slice_codeunits(text, 2, 4),
                pc.utf8_slice_codeunits(text, 4, 6),
                ":",
            )
        _CLOCK[fmt] = text
    return _CLOCK[fmt]


def _timestamps(days: np.ndarray, seconds: np.ndarray, iso: bool) -> pa.Array:
    """``yyyyMMddHHmmss`` (core system) or ``yyyy-MM-dd HH:mm:ss`` (channel systems) text."""
    date_text = _dates(days, iso)
    clock = _clock("HH:mm:ss" if iso else "HHmmss").take(pa.array(np.asarray(seconds, np.int64)))
    return pc.binary_join_element_wise(date_text, clock, " " if iso else "")


def _fen(amounts: np.ndarray) -> pa.Array:
    return pa.array(np.rint(np.asarray(amounts) * 100).astype(np.int64))


def product_table(params: WorldParams) -> pa.Table:
    ps = params.products
    return pa.table(
        {
            "CPDM": [p.code for p in ps],
            "CPMC": [p.zh for p in ps],
            "CPYWMC": [p.en for p in ps],
            "CPDL": [FAMILY_CODES[p.family.value] for p in ps],
            "FXDJ": [p.risk.value for p in ps],
            "ZDNL": pa.array([p.min_age for p in ps], pa.int64()),
            "ZGNL": pa.array([p.max_age for p in ps], pa.int64()),
            "QGJE": pa.array([p.min_amount for p in ps], pa.float64()),
            "NHLC": pa.array([p.margin for p in ps], pa.float64()),
            "NF": pa.array([p.fee for p in ps], pa.float64()),
        }
    )


def export_block(
    params: WorldParams,
    window: Window,
    pop: Population,
    hold: Holdings,
    credit: Credit,
    act: Activity,
    rec: Records,
    txn_id_base: int,
) -> dict[str, pa.Table]:
    """The block's rows of every source file (customers in block order)."""
    khh = customer_number(pop.index)
    cities = np.array([c[0] for c in CITIES])
    ca = city_arrays()
    income = pa.array(pop.income_declared, mask=np.isnan(pop.income_declared))
    out: dict[str, pa.Table] = {}
    out["customer"] = pa.table(
        {
            "KHH": khh,
            "KHMC": pop.name,
            "XB": _coded(GENDER_CODES, pop.gender),
            "CSRQ": _dates(pop.birth_day, nullable=False),
            "ZJLX": pc.if_else(pa.array(pop.resident), "01", "03"),
            "ZJHM": pop.id_number,
            "SJHM": pop.mobile,
            "DZYX": pop.email,
            "SSSF": pa.array(ca["province"][pop.city]),
            "SSCS": pa.array(cities[pop.city]),
            "CSDJ": pa.array(pop.tier.astype(np.int64)),
            "ZYDM": _coded(OCCUPATION_CODES, pop.occupation),
            "XLDM": _coded(EDUCATION_CODES, pop.education),
            "NSR": income,
            "KHRQ": _dates(pop.onboarding_day, nullable=False),
            "GSWD": _text(pop.branch),
        }
    )
    kc = khh.take(pa.array(rec.kyc_customer))
    out["kyc_status"] = pa.table(
        {
            "KHH": kc,
            "KYCZT": _coded(KYC_CODES, rec.kyc_status),
            "QSRQ": _dates(rec.kyc_from),
            "ZZRQ": _dates(rec.kyc_to),
        }
    )
    out["risk_assessment"] = pa.table(
        {
            "KHH": khh.take(pa.array(rec.risk_customer)),
            "FXDJ": _text(rec.risk_level),
            "PGRQ": _dates(rec.risk_on),
            "YXQZ": _dates(rec.risk_expires),
        }
    )

    prod = hold.products
    zh = _text(hold.acc_number)
    defaulted = np.zeros(len(hold.acc_number), dtype=bool)
    defaulted[credit.def_account] = True
    status = np.where(hold.closed_day >= 0, 3, np.where(defaulted, 2, 0))
    limit = hold.credit_limit
    out["account"] = pa.table(
        {
            "ZH": zh,
            "KHH": khh.take(pa.array(hold.acc_customer)),
            "CPDM": _coded(list(prod.code), hold.acc_product),
            "KHRQ": _dates(hold.opened_day),
            "XHRQ": _dates(hold.closed_day),
            "ZHZT": _coded(("0", "1", "2", "9"), status),
            "SXED": pa.array(limit, mask=np.isnan(limit)),
            "BZ": pa.array(np.full(len(limit), CURRENCY_CNY)),
        }
    )
    month_end = window.starts[hold.bal_month + 1] - 1
    out["balance"] = pa.table(
        {
            "ZH": zh.take(pa.array(hold.bal_account)),
            "YMRQ": _dates(month_end),
            "YMYE": _fen(hold.bal_month_end),
            "RJYE": _fen(hold.bal_avg_daily),
        }
    )
    n_txn = len(act.txn_day)
    out["transaction"] = pa.table(
        {
            "LSH": _text(txn_id_base + np.arange(n_txn, dtype=np.int64)),
            "ZH": _text(act.txn_account),
            "KHH": khh.take(pa.array(act.txn_customer)),
            "JYSJ": _timestamps(act.txn_day, act.txn_second, iso=False),
            "JYJE": _fen(act.txn_amount),
            "BZ": pa.array(np.full(n_txn, CURRENCY_CNY)),
            "JDBZ": _coded(("D", "C"), act.txn_credit.astype(np.int64)),
            "QDDM": _coded(CHANNEL_CODES, act.txn_channel),
            "MCC": pc.if_else(
                pa.array(act.txn_category == 0),
                pa.scalar(None, pa.string()),
                _coded(MCC_CODES, act.txn_category),
            ),
            "DSLX": _coded(COUNTERPARTY_CODES, act.txn_counterparty),
        }
    )
    inst_acc = pa.array(credit.inst_account)
    out["credit_instalment"] = pa.table(
        {
            "ZH": zh.take(inst_acc),
            "KHH": khh.take(pa.array(hold.acc_customer[credit.inst_account])),
            "YHRQ": _dates(credit.due_day),
            "YHJE": _fen(credit.amount_due),
            "SHJE": _fen(credit.amount_paid),
            "SHRQ": _dates(credit.paid_day),
            "YQTS": pa.array(credit.days_past_due.astype(np.int64)),
        }
    )
    out["default_event"] = pa.table(
        {
            "ZH": zh.take(pa.array(credit.def_account)),
            "KHH": khh.take(pa.array(hold.acc_customer[credit.def_account])),
            "WYRQ": _dates(credit.def_day),
            "WYYY": pa.array(np.full(len(credit.def_account), "01")),
        }
    )
    n_ev = len(act.ev_day)
    out["digital_event"] = pa.table(
        {
            "SJBH": _text(txn_id_base + np.arange(n_ev, dtype=np.int64)),
            "KHH": khh.take(pa.array(act.ev_customer)),
            "SJSJ": _timestamps(act.ev_day, act.ev_second, iso=True),
            "SJLX": _coded(EVENT_TYPE_CODES, act.ev_type),
            "QD": _coded(EVENT_CHANNEL_CODES, act.ev_channel),
            "MB": _coded(params.digital.targets, act.ev_target),
        }
    )
    purposes = [CONSENT_PURPOSE_CODES[p.value] for p, _ in CONSENT_SLOTS]
    channels = [CONSENT_CHANNEL_CODES[c.value] for _, c in CONSENT_SLOTS]
    out["consent"] = pa.table(
        {
            "KHH": khh.take(pa.array(rec.consent_customer)),
            "SQYT": _coded(purposes, rec.consent_slot),
            "QD": _coded(channels, rec.consent_slot),
            "ZT": _coded(("N", "Y"), rec.consent_granted.astype(np.int64)),
            "SQSJ": _timestamps(rec.consent_day, rec.consent_second, iso=True),
            "LY": _coded(CONSENT_SOURCES, rec.consent_source),
        }
    )
    return out
