"""The canonical bank data model, as data.

Every table the warehouse holds is declared here once: its columns with type, unit, PII
class, enumeration and Chinese business term, its key, and which store is its system of
record. Ingestion validates against it, the warehouse creates tables from it, masking and
identifier scans read the PII classes from it, and ``docs/data-model.md`` is generated from it
(a test keeps the two in sync).

Every warehouse row also carries the system columns ``_batch_id`` and ``_loaded_at``;
corrections arrive as new versions (a newer batch), never as in-place edits, and the
*current* view of a table keeps the newest version per key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from nextbest.domain import enums as E
from nextbest.domain.enums import LabelledEnum, PiiClass

__all__ = [
    "BATCH_ID",
    "LOADED_AT",
    "ROW_HASH",
    "SYSTEM_COLUMNS",
    "TABLES",
    "VAULT_FIELDS",
    "Column",
    "DType",
    "ForeignKey",
    "Table",
    "table",
]

DType = Literal["string", "int", "float", "decimal", "date", "timestamp", "bool"]
SystemOfRecord = Literal["bank", "opstore", "nextbest"]

BATCH_ID = "_batch_id"
LOADED_AT = "_loaded_at"
ROW_HASH = "_row_hash"
SYSTEM_COLUMNS = (BATCH_ID, LOADED_AT, ROW_HASH)


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str


@dataclass(frozen=True)
class Column:
    """One field of the canonical model.

    ``stored_in="vault"`` marks direct identifiers: they are validated on ingestion and then
    kept only, encrypted, in the operational store's PII vault; the warehouse keeps a masked
    form in ``<name>_masked``.
    """

    name: str
    dtype: DType
    en: str
    zh: str
    pii: PiiClass = PiiClass.NONE
    required: bool = False
    unit: str | None = None
    enum: type[LabelledEnum] | None = None
    min_value: float | None = None
    max_value: float | None = None
    references: ForeignKey | None = None
    stored_in: Literal["warehouse", "vault"] = "warehouse"

    @property
    def masked_name(self) -> str:
        return f"{self.name}_masked"


@dataclass(frozen=True)
class Table:
    name: str
    en: str
    zh: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    system_of_record: SystemOfRecord = "bank"
    effective_dated: bool = False
    notes: str = ""
    column_index: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {c.name: c for c in self.columns}
        if len(index) != len(self.columns):
            raise ValueError(f"table {self.name}: duplicate column names")
        missing = [k for k in self.key if k not in index]
        if missing:
            raise ValueError(f"table {self.name}: key columns {missing} are not columns")
        object.__setattr__(self, "column_index", index)

    def column(self, name: str) -> Column:
        try:
            return self.column_index[name]
        except KeyError:
            raise KeyError(f"table {self.name} has no column {name!r}") from None

    @property
    def vault_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.stored_in == "vault")

    @property
    def warehouse_columns(self) -> tuple[Column, ...]:
        """Columns as stored in the warehouse: vault fields replaced by their masked form."""
        out: list[Column] = []
        for c in self.columns:
            if c.stored_in == "vault":
                out.append(
                    Column(
                        c.masked_name,
                        "string",
                        f"{c.en}, masked",
                        f"{c.zh}（脱敏）",
                        pii=PiiClass.QUASI,
                    )
                )
            else:
                out.append(c)
        return tuple(out)


def _c(name: str, dtype: DType, en: str, zh: str, **kw: object) -> Column:
    return Column(name, dtype, en, zh, **kw)  # type: ignore[arg-type]


_CUSTOMER_KEY = _c(
    "customer_key",
    "string",
    "Pseudonymous customer key: keyed HMAC of source system + source customer number",
    "客户假名键",
    required=True,
)


def _customer_ref() -> Column:
    return _c(
        "customer_key",
        "string",
        "Customer (pseudonymous key)",
        "客户假名键",
        required=True,
        references=ForeignKey("customer", "customer_key"),
    )


_D, _Q, _S = PiiClass.DIRECT, PiiClass.QUASI, PiiClass.SENSITIVE

TABLES: tuple[Table, ...] = (
    Table(
        "customer",
        "Customer master data",
        "客户基本信息",
        key=("customer_key",),
        columns=(
            _CUSTOMER_KEY,
            _c(
                "source_system",
                "string",
                "System the customer came from",
                "来源系统",
                required=True,
            ),
            _c("name", "string", "Full name", "姓名", pii=_D, stored_in="vault"),
            _c("gender", "string", "Gender", "性别", pii=_Q, enum=E.Gender),
            _c("birth_date", "date", "Date of birth", "出生日期", pii=_Q),
            _c("id_type", "string", "Identity document type", "证件类型", enum=E.IdType),
            _c(
                "id_number",
                "string",
                "Identity document number (resident ID: 18 digits with "
                "ISO 7064 MOD 11-2 check character)",
                "证件号码",
                pii=_D,
                stored_in="vault",
            ),
            _c(
                "mobile",
                "string",
                "Mainland mobile number (11 digits, 1[3-9]x)",
                "手机号码",
                pii=_D,
                stored_in="vault",
            ),
            _c("email", "string", "E-mail address", "电子邮箱", pii=_D, stored_in="vault"),
            _c(
                "identity_fingerprint",
                "string",
                "Keyed digest of the direct identifiers held in "
                "the vault: a new value means they changed, so a new version is stored",
                "身份信息指纹",
            ),
            _c("province", "string", "Province of residence", "省份", pii=_Q),
            _c("city", "string", "City of residence", "城市", pii=_Q),
            _c(
                "city_tier",
                "int",
                "City tier (1 = first-tier … 5)",
                "城市等级",
                min_value=1,
                max_value=5,
            ),
            _c("occupation", "string", "Occupation", "职业", pii=_Q, enum=E.Occupation),
            _c("education", "string", "Highest education", "学历", pii=_Q, enum=E.Education),
            _c(
                "annual_income",
                "decimal",
                "Declared annual income",
                "年收入",
                pii=_S,
                unit="CNY",
                min_value=0,
            ),
            _c(
                "onboarding_date",
                "date",
                "Date the customer relationship began",
                "开户日期",
                required=True,
            ),
            _c("home_branch", "string", "Home branch code", "归属网点", pii=_Q),
        ),
    ),
    Table(
        "kyc_status",
        "Effective-dated KYC status history",
        "客户身份识别(KYC)状态历史",
        key=("customer_key", "valid_from"),
        effective_dated=True,
        columns=(
            _customer_ref(),
            _c("kyc_status", "string", "KYC status", "KYC状态", required=True, enum=E.KycStatus),
            _c("valid_from", "date", "First day the status applies", "生效日期", required=True),
            _c("valid_to", "date", "Day after the last day it applies (open if empty)", "失效日期"),
        ),
    ),
    Table(
        "risk_assessment",
        "Effective-dated risk-tolerance assessments",
        "风险承受能力评估",
        key=("customer_key", "assessed_on"),
        effective_dated=True,
        columns=(
            _customer_ref(),
            _c(
                "risk_level",
                "string",
                "Assessed risk tolerance C1–C5",
                "风险承受能力等级",
                pii=_S,
                required=True,
                enum=E.RiskTolerance,
            ),
            _c("assessed_on", "date", "Assessment date", "评估日期", required=True),
            _c(
                "expires_on",
                "date",
                "Expiry date; an expired assessment allows no investment product until reassessed",
                "到期日期",
                required=True,
            ),
        ),
    ),
    Table(
        "product",
        "Product catalogue",
        "产品目录",
        key=("product_code",),
        columns=(
            _c("product_code", "string", "Product code", "产品代码", required=True),
            _c("name_zh", "string", "Product name (Chinese)", "产品名称(中文)", required=True),
            _c("name_en", "string", "Product name (English)", "产品名称(英文)"),
            _c(
                "family",
                "string",
                "Product family",
                "产品大类",
                required=True,
                enum=E.ProductFamily,
            ),
            _c(
                "risk_level",
                "string",
                "Product risk level R1–R5",
                "产品风险等级",
                required=True,
                enum=E.ProductRisk,
            ),
            _c(
                "min_age",
                "int",
                "Minimum customer age",
                "最低年龄",
                unit="years",
                min_value=0,
                max_value=120,
            ),
            _c(
                "max_age",
                "int",
                "Maximum customer age",
                "最高年龄",
                unit="years",
                min_value=0,
                max_value=120,
            ),
            _c(
                "min_amount",
                "decimal",
                "Minimum subscription or balance",
                "起购金额",
                unit="CNY",
                min_value=0,
            ),
            _c(
                "margin_rate",
                "float",
                "Annual net interest or fee margin on balance",
                "年化净息差/费率",
                unit="fraction per year",
                min_value=-1,
                max_value=1,
            ),
            _c(
                "annual_fee",
                "decimal",
                "Fixed annual fee income per holding",
                "年费收入",
                unit="CNY",
                min_value=0,
            ),
        ),
    ),
    Table(
        "account",
        "Holdings and accounts",
        "账户与持有产品",
        key=("account_key",),
        columns=(
            _c(
                "account_key",
                "string",
                "Pseudonymous account key (HMAC of source account number)",
                "账户假名键",
                required=True,
            ),
            _customer_ref(),
            _c(
                "product_code",
                "string",
                "Product held",
                "产品代码",
                required=True,
                references=ForeignKey("product", "product_code"),
            ),
            _c("opened_on", "date", "Opening date", "开户日期", required=True),
            _c("closed_on", "date", "Closing date (empty while open)", "销户日期"),
            _c(
                "status",
                "string",
                "Account status",
                "账户状态",
                required=True,
                enum=E.AccountStatus,
            ),
            _c(
                "credit_limit",
                "decimal",
                "Credit limit (credit products)",
                "授信额度",
                pii=_S,
                unit="CNY",
                min_value=0,
            ),
            _c("currency", "string", "ISO 4217 currency", "币种", required=True),
        ),
    ),
    Table(
        "balance",
        "Monthly balance history per account",
        "账户月度余额",
        key=("account_key", "month_end"),
        columns=(
            _c(
                "account_key",
                "string",
                "Account",
                "账户假名键",
                required=True,
                references=ForeignKey("account", "account_key"),
            ),
            _c("month_end", "date", "Last day of the month", "月末日期", required=True),
            _c(
                "month_end_balance",
                "decimal",
                "Balance at month end (debt positive for credit products)",
                "月末余额",
                pii=_S,
                unit="account currency",
                required=True,
            ),
            _c(
                "avg_daily_balance",
                "decimal",
                "Month-average daily balance",
                "月日均余额",
                pii=_S,
                unit="account currency",
                required=True,
            ),
        ),
    ),
    Table(
        "transaction",
        "Transactions",
        "交易流水",
        key=("txn_id",),
        columns=(
            _c(
                "txn_id",
                "string",
                "Transaction id (pseudonymous if the source id is personal)",
                "交易流水号",
                required=True,
            ),
            _c(
                "account_key",
                "string",
                "Account",
                "账户假名键",
                required=True,
                references=ForeignKey("account", "account_key"),
            ),
            _customer_ref(),
            _c(
                "txn_time",
                "timestamp",
                "Time of the transaction, in the bank's time zone",
                "交易时间",
                required=True,
            ),
            _c(
                "amount",
                "decimal",
                "Amount, always positive; see direction",
                "交易金额",
                pii=_S,
                unit="currency",
                required=True,
                min_value=0,
            ),
            _c("currency", "string", "ISO 4217 currency", "币种", required=True),
            _c(
                "direction",
                "string",
                "Money in (credit) or out (debit)",
                "借贷方向",
                required=True,
                enum=E.Direction,
            ),
            _c("channel", "string", "Channel", "交易渠道", required=True, enum=E.Channel),
            _c(
                "merchant_category",
                "string",
                "Merchant category of spending",
                "商户类别",
                enum=E.MerchantCategory,
            ),
            _c(
                "counterparty_type",
                "string",
                "Kind of counterparty",
                "交易对手类型",
                enum=E.CounterpartyType,
            ),
        ),
    ),
    Table(
        "credit_instalment",
        "Loan and card instalments due and paid",
        "贷款还款计划与还款记录",
        key=("account_key", "due_date"),
        columns=(
            _c(
                "account_key",
                "string",
                "Credit account",
                "账户假名键",
                required=True,
                references=ForeignKey("account", "account_key"),
            ),
            _customer_ref(),
            _c("due_date", "date", "Instalment due date", "应还日期", required=True),
            _c(
                "amount_due",
                "decimal",
                "Amount due",
                "应还金额",
                pii=_S,
                unit="CNY",
                required=True,
                min_value=0,
            ),
            _c(
                "amount_paid", "decimal", "Amount paid", "实还金额", pii=_S, unit="CNY", min_value=0
            ),
            _c("paid_date", "date", "Date paid in full (empty if not yet)", "实还日期"),
            _c(
                "days_past_due",
                "int",
                "Days past due as of the export",
                "逾期天数",
                pii=_S,
                unit="days",
                min_value=0,
            ),
        ),
    ),
    Table(
        "default_event",
        "Credit default events",
        "违约事件",
        key=("account_key", "default_date"),
        columns=(
            _c(
                "account_key",
                "string",
                "Credit account",
                "账户假名键",
                required=True,
                references=ForeignKey("account", "account_key"),
            ),
            _customer_ref(),
            _c(
                "default_date",
                "date",
                "Date of default (90+ days past due or write-off)",
                "违约日期",
                pii=_S,
                required=True,
            ),
            _c("reason", "string", "Default reason code", "违约原因"),
        ),
    ),
    Table(
        "digital_event",
        "App and web behaviour events",
        "数字渠道行为事件",
        key=("event_id",),
        columns=(
            _c("event_id", "string", "Event id", "事件编号", required=True),
            _customer_ref(),
            _c(
                "event_time",
                "timestamp",
                "Event time, in the bank's time zone",
                "事件时间",
                required=True,
            ),
            _c("event_type", "string", "Event type", "事件类型", required=True, enum=E.EventType),
            _c("channel", "string", "Digital channel", "渠道", required=True, enum=E.EventChannel),
            _c("target", "string", "Page, search term category or element", "页面/目标"),
        ),
    ),
    Table(
        "consent",
        "Consent events (read copy; the operational store is the system of record)",
        "授权同意记录",
        key=("customer_key", "purpose", "channel", "event_time"),
        system_of_record="opstore",
        columns=(
            _customer_ref(),
            _c(
                "purpose",
                "string",
                "Purpose of processing",
                "授权用途",
                required=True,
                enum=E.ConsentPurpose,
            ),
            _c(
                "channel",
                "string",
                "Contact channel",
                "触达渠道",
                required=True,
                enum=E.ContactChannel,
            ),
            _c(
                "status",
                "string",
                "Granted or withdrawn",
                "授权状态",
                required=True,
                enum=E.ConsentStatus,
            ),
            _c(
                "event_time",
                "timestamp",
                "When it was given or withdrawn",
                "授权时间",
                required=True,
            ),
            _c("source", "string", "Where it was captured (app, branch form, call)", "授权来源"),
        ),
    ),
    Table(
        "contact_history",
        "Marketing and service contacts and responses (read copy; written by campaigns)",
        "营销触达与响应记录",
        key=("contact_id",),
        system_of_record="opstore",
        columns=(
            _c("contact_id", "string", "Contact id", "触达编号", required=True),
            _customer_ref(),
            _c("channel", "string", "Channel", "触达渠道", required=True, enum=E.ContactChannel),
            _c(
                "purpose",
                "string",
                "Marketing or service",
                "触达目的",
                required=True,
                enum=E.ConsentPurpose,
            ),
            _c("offer_code", "string", "Offer presented", "营销活动产品"),
            _c("campaign_code", "string", "Campaign", "营销活动"),
            _c("contact_time", "timestamp", "When the contact was made", "触达时间", required=True),
            _c(
                "response",
                "string",
                "Response (opened, clicked, converted, rejected, none)",
                "客户响应",
            ),
            _c("response_time", "timestamp", "When the response was seen", "响应时间"),
        ),
    ),
)

_BY_NAME = {t.name: t for t in TABLES}

VAULT_FIELDS: tuple[str, ...] = tuple(c.name for c in _BY_NAME["customer"].vault_columns)


def table(name: str) -> Table:
    """The canonical table called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no canonical table {name!r}; known: {sorted(_BY_NAME)}") from None
