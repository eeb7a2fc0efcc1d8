"""The feature catalogue: every column of a point-in-time feature snapshot, documented once.

The snapshot builder (:mod:`nextbest.profile.features`) produces exactly these columns in
this order, the warehouse table ``feature_snapshot`` is laid out from them and
``docs/features.md`` is generated from them (a test keeps the three in sync).

This module is pure data: the warehouse layout imports it, so it must not import the
warehouse, Ibis or anything heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nextbest.domain.enums import Channel, MerchantCategory, ProductFamily

__all__ = [
    "CHANNEL_MIX",
    "FAMILY_GROUPS",
    "FEATURES",
    "SPEND_CATEGORIES",
    "TXN_WINDOWS",
    "Feature",
    "FeatureType",
    "feature",
    "render_markdown",
]

FeatureType = Literal["string", "int", "float", "date", "bool"]

#: Look-back windows (days) of the transaction recency/frequency/monetary features.
TXN_WINDOWS: tuple[int, ...] = (30, 90, 365)
#: Spending categories of the spending mix (``none`` is not spending).
SPEND_CATEGORIES: tuple[MerchantCategory, ...] = tuple(
    c for c in MerchantCategory if c is not MerchantCategory.NONE
)
#: Channels of the channel mix: the customer-initiated ones (``system`` is the bank's own).
CHANNEL_MIX: tuple[Channel, ...] = tuple(c for c in Channel if c is not Channel.SYSTEM)
#: How product families count in AUM: deposits and investments are the customer's financial
#: assets (AUM); credit balances are debt.
FAMILY_GROUPS: dict[str, str] = {
    "demand_deposit": "deposit",
    "time_deposit": "deposit",
    "certificate_of_deposit": "deposit",
    "wealth_management": "investment",
    "fund": "investment",
    "insurance": "investment",
    "precious_metal": "investment",
    "credit_card": "credit",
    "consumer_loan": "credit",
    "mortgage": "credit",
    "car_loan": "credit",
}


@dataclass(frozen=True)
class Feature:
    """One snapshot column.

    Attributes
    ----------
    name:
        Column name in ``feature_snapshot`` (usable in tag expressions).
    dtype:
        Stored type.
    group:
        Catalogue section (identity, holdings, balances, transactions, ...).
    en, zh:
        Definition in English and the Chinese business term.
    unit:
        Unit of the value, if any.
    source:
        Canonical tables it is computed from.
    """

    name: str
    dtype: FeatureType
    group: str
    en: str
    zh: str
    unit: str | None = None
    source: tuple[str, ...] = ()


def _f(
    name: str,
    dtype: FeatureType,
    group: str,
    en: str,
    zh: str,
    unit: str | None = None,
    *source: str,
) -> Feature:
    return Feature(name, dtype, group, en, zh, unit, tuple(source))


def _build() -> tuple[Feature, ...]:
    out: list[Feature] = [
        # --- identity and demographics (customer master as known at the cut-off) ---------
        _f(
            "age",
            "int",
            "identity",
            "Age in whole years on the as-of date",
            "年龄",
            "years",
            "customer",
        ),
        _f("gender", "string", "identity", "Gender code (M/F/U)", "性别", None, "customer"),
        _f(
            "city_tier",
            "int",
            "identity",
            "City tier of residence (1 = first-tier … 5)",
            "城市等级",
            None,
            "customer",
        ),
        _f("province", "string", "identity", "Province of residence", "省份", None, "customer"),
        _f("occupation", "string", "identity", "Occupation code", "职业", None, "customer"),
        _f("education", "string", "identity", "Highest education code", "学历", None, "customer"),
        _f(
            "annual_income",
            "float",
            "identity",
            "Declared annual income",
            "年收入",
            "CNY",
            "customer",
        ),
        _f(
            "onboarding_date",
            "date",
            "identity",
            "Date the relationship began",
            "开户日期",
            None,
            "customer",
        ),
        _f(
            "tenure_months",
            "int",
            "identity",
            "Whole months from onboarding to the as-of date (null before onboarding)",
            "客户关系月数",
            "months",
            "customer",
        ),
        # --- holdings ---------------------------------------------------------------------
        _f(
            "account_count",
            "int",
            "holdings",
            "Accounts open on the as-of date",
            "持有账户数",
            None,
            "account",
        ),
        _f(
            "product_count",
            "int",
            "holdings",
            "Distinct products held on the as-of date",
            "持有产品数",
            None,
            "account",
        ),
        _f(
            "family_count",
            "int",
            "holdings",
            "Distinct product families held on the as-of date",
            "持有产品大类数",
            None,
            "account",
            "product",
        ),
        _f(
            "ever_held",
            "bool",
            "holdings",
            "Has held any product on or before the as-of date",
            "曾持有产品",
            None,
            "account",
        ),
        _f(
            "first_product_date",
            "date",
            "holdings",
            "Opening date of the first product",
            "首个产品开立日期",
            None,
            "account",
        ),
        _f(
            "months_since_first_product",
            "int",
            "holdings",
            "Whole months since the first product was opened",
            "首个产品开立月数",
            "months",
            "account",
        ),
        _f(
            "last_closed_date",
            "date",
            "holdings",
            "Latest closing date of an account on or before the as-of date",
            "最近销户日期",
            None,
            "account",
        ),
    ]
    for fam in ProductFamily:
        out.append(
            _f(
                f"holds_{fam.value}",
                "bool",
                "holdings",
                f"Holds a {fam.value.replace('_', ' ')} product on the as-of date",
                f"持有{fam.zh}",
                None,
                "account",
                "product",
            )
        )
    out += [
        # --- balances (month-end rows of the last month ending on or before the as-of date)
        _f(
            "balance_month_end",
            "date",
            "balances",
            "Month end the balance features refer "
            "to (the last month end on or before the as-of date)",
            "余额所属月末",
            None,
        ),
        _f(
            "aum",
            "float",
            "balances",
            "Assets under management: month-end balances of deposits and investments",
            "金融资产(AUM)",
            "CNY",
            "balance",
            "account",
            "product",
        ),
        _f(
            "aum_adb",
            "float",
            "balances",
            "Month-average daily balance of deposits and investments",
            "金融资产月日均",
            "CNY",
            "balance",
            "account",
            "product",
        ),
        _f(
            "deposit_adb",
            "float",
            "balances",
            "Month-average daily balance of deposits",
            "存款月日均",
            "CNY",
            "balance",
            "account",
            "product",
        ),
        _f(
            "investment_adb",
            "float",
            "balances",
            "Month-average daily balance of investment products",
            "投资理财月日均",
            "CNY",
            "balance",
            "account",
            "product",
        ),
        _f(
            "loan_balance",
            "float",
            "balances",
            "Month-end outstanding of loans (consumer, mortgage, car)",
            "贷款余额",
            "CNY",
            "balance",
            "account",
            "product",
        ),
    ]
    for fam in ProductFamily:
        out.append(
            _f(
                f"adb_{fam.value}",
                "float",
                "balances",
                f"Month-average daily balance of {fam.value.replace('_', ' ')} products",
                f"{fam.zh}月日均",
                "CNY",
                "balance",
                "account",
                "product",
            )
        )
    out += [
        _f(
            "aum_3m_ago",
            "float",
            "trends",
            "AUM at the month end three months earlier",
            "三个月前金融资产",
            "CNY",
            "balance",
        ),
        _f(
            "aum_6m_ago",
            "float",
            "trends",
            "AUM at the month end six months earlier",
            "六个月前金融资产",
            "CNY",
            "balance",
        ),
        _f(
            "aum_trend_3m",
            "float",
            "trends",
            "Relative AUM change over three months (aum / aum_3m_ago − 1; null if aum_3m_ago ≤ 0)",
            "金融资产3个月变化率",
            "ratio",
            "balance",
        ),
        _f(
            "aum_change_6m",
            "float",
            "trends",
            "Relative AUM change over six months (aum / aum_6m_ago − 1; null if aum_6m_ago ≤ 0)",
            "金融资产6个月变化率",
            "ratio",
            "balance",
        ),
        _f(
            "annual_margin",
            "float",
            "balances",
            "Annual margin income at current balances: "
            "Σ month-average daily balance × product margin rate + annual fees",
            "年化综合收益",
            "CNY per year",
            "balance",
            "account",
            "product",
        ),
        # --- transactions (customer-initiated: every channel but ``system``) ---------------
        _f(
            "last_txn_date",
            "date",
            "transactions",
            "Date of the last customer-initiated transaction",
            "最近交易日期",
            None,
            "transaction",
        ),
        _f(
            "days_since_last_txn",
            "int",
            "transactions",
            "Days from the last customer-initiated transaction to the as-of date (null if none)",
            "距最近交易天数",
            "days",
            "transaction",
        ),
    ]
    for w in TXN_WINDOWS:
        out += [
            _f(
                f"txn_count_{w}d",
                "int",
                "transactions",
                f"Customer-initiated transactions in the last {w} days",
                f"近{w}天交易笔数",
                None,
                "transaction",
            ),
            _f(
                f"txn_amount_{w}d",
                "float",
                "transactions",
                f"Amount of customer-initiated transactions in the last {w} days (both directions)",
                f"近{w}天交易金额",
                "CNY",
                "transaction",
            ),
            _f(
                f"txn_days_{w}d",
                "int",
                "transactions",
                f"Days with a customer-initiated transaction in the last {w} days",
                f"近{w}天交易天数",
                "days",
                "transaction",
            ),
        ]
    out += [
        _f(
            "spend_amount_365d",
            "float",
            "transactions",
            "Card and payment spending (debits with a merchant category) in the last 365 days",
            "近一年消费金额",
            "CNY",
            "transaction",
        ),
        _f(
            "txn_count_trend_3m",
            "float",
            "trends",
            "Customer-initiated transactions in the "
            "last 90 days divided by those in the 90 days before (null if none before)",
            "交易笔数3个月趋势",
            "ratio",
            "transaction",
        ),
    ]
    for cat in SPEND_CATEGORIES:
        out.append(
            _f(
                f"spend_share_{cat.value}",
                "float",
                "spending mix",
                f"Share of the last 365 "
                f"days' spending in category {cat.value} (null without spending)",
                f"{cat.zh}消费占比",
                "share",
                "transaction",
            )
        )
    for ch in CHANNEL_MIX:
        out.append(
            _f(
                f"channel_share_{ch.value}",
                "float",
                "channel mix",
                f"Share of the last 90 days' "
                f"customer-initiated transactions made through {ch.value} (null without any)",
                f"{ch.zh}交易占比",
                "share",
                "transaction",
            )
        )
    out += [
        _f("digital_txn_share_90d", "float", "channel mix", "Share of the last 90 days' "
           "customer-initiated transactions made in the mobile app or online banking",
           "数字渠道交易占比", "share", "transaction"),
        # --- salary ---------------------------------------------------------------------
        _f("salary_months_6m", "int", "salary", "Calendar months among the last six with a "
           "credit from an employer (payroll)", "近6个月代发工资月数", "months", "transaction"),
        _f("salary_avg_6m", "float", "salary", "Average monthly payroll credit over the months "
           "it was received (last six months)", "近6个月月均代发工资", "CNY", "transaction"),
        # --- digital --------------------------------------------------------------------
        _f("logins_30d", "int", "digital", "App and web logins in the last 30 days",
           "近30天登录次数", None, "digital_event"),
        _f("logins_90d", "int", "digital", "App and web logins in the last 90 days",
           "近90天登录次数", None, "digital_event"),
        _f("digital_events_90d", "int", "digital", "App and web events of any type in the last "
           "90 days", "近90天数字渠道行为数", None, "digital_event"),
        _f("days_since_last_login", "int", "digital", "Days from the last login to the as-of "
           "date (null if none)", "距最近登录天数", "days", "digital_event"),
        _f("days_since_last_activity", "int", "digital", "Days since the last "
           "customer-initiated transaction or login (null if neither)", "距最近活跃天数",
           "days", "transaction", "digital_event"),
        # --- credit ---------------------------------------------------------------------
        _f("credit_limit", "float", "credit", "Total credit limit of open credit cards",
           "信用卡总授信额度", "CNY", "account"),
        _f("card_balance", "float", "credit", "Month-end credit card balance", "信用卡余额",
           "CNY", "balance"),
        _f("credit_utilisation", "float", "credit", "Card balance / credit limit (null without "
           "a limit)", "信用卡额度使用率", "ratio", "balance", "account"),
        _f("days_past_due", "int", "credit", "Days the oldest instalment due on or before the "
           "as-of date and unpaid on it is overdue (0 if none)", "逾期天数", "days",
           "credit_instalment"),
        _f("defaulted_12m", "bool", "credit", "A default event in the last 365 days",
           "近一年违约", None, "default_event"),
        _f("defaulted_ever", "bool", "credit", "A default event on or before the as-of date",
           "曾违约", None, "default_event"),
        # --- risk tolerance -------------------------------------------------------------
        _f("risk_level", "string", "risk", "Risk tolerance (C1–C5) of the latest assessment "
           "made on or before the as-of date", "风险承受能力等级", None, "risk_assessment"),
        _f("risk_assessed_on", "date", "risk", "Date of that assessment", "风险评估日期", None,
           "risk_assessment"),
        _f("risk_expires_on", "date", "risk", "Its expiry date", "风险评估到期日", None,
           "risk_assessment"),
        _f("risk_valid", "bool", "risk", "The assessment has not expired on the as-of date "
           "(investment products need a valid one)", "风险评估有效", None, "risk_assessment"),
    ]  # fmt: skip
    return tuple(out)


#: Every feature, in snapshot column order (after ``as_of_date``, ``customer_key``).
FEATURES: tuple[Feature, ...] = _build()
_BY_NAME = {f.name: f for f in FEATURES}
assert len(_BY_NAME) == len(FEATURES), "duplicate feature names"


def feature(name: str) -> Feature:
    """The catalogue entry of ``name`` (``KeyError`` naming the feature if unknown)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no feature called {name!r} in the catalogue") from None


def render_markdown() -> str:
    """The feature catalogue as Markdown (the content of ``docs/features.md``)."""
    lines = [
        "# Feature catalogue",
        "",
        "<!-- Generated from nextbest.profile.catalogue; a test keeps this file in sync. -->",
        "",
        "One row per customer and as-of date in the warehouse table `feature_snapshot` "
        "(key `as_of_date`, `customer_key`; the snapshot's load cut-off is in "
        "`load_cutoff`). Every feature reads only rows whose event time is on or before the "
        "as-of date (in the bank's time zone) *and* whose load time is on or before the load "
        "cut-off, taking the newest version of each record loaded by then. Column names are "
        "usable in tag and segment expressions.",
        "",
    ]
    groups: dict[str, list[Feature]] = {}
    for f in FEATURES:
        groups.setdefault(f.group, []).append(f)
    for group, members in groups.items():
        lines += [f"## {group}", "", "| feature | type | unit | 中文 | definition | from |"]
        lines.append("|---|---|---|---|---|---|")
        for f in members:
            lines.append(
                f"| `{f.name}` | {f.dtype} | {f.unit or ''} | {f.zh} | {f.en} | "
                f"{', '.join(f.source)} |"
            )
        lines.append("")
    return "\n".join(lines)
