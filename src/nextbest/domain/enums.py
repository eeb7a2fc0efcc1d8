"""Canonical enumerations of the bank data model, each member with its Chinese term."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CREDIT_FAMILIES",
    "CUSTOMER_INITIATED_CHANNELS",
    "DEPOSIT_FAMILIES",
    "INVESTMENT_FAMILIES",
    "AccountStatus",
    "Channel",
    "ConsentPurpose",
    "ConsentStatus",
    "ContactChannel",
    "CounterpartyType",
    "Direction",
    "Education",
    "EventChannel",
    "EventType",
    "Gender",
    "IdType",
    "KycStatus",
    "LabelledEnum",
    "MerchantCategory",
    "Occupation",
    "PiiClass",
    "ProductFamily",
    "ProductRisk",
    "RiskTolerance",
]


class LabelledEnum(StrEnum):
    """A string enum whose members also carry their Chinese business term (``.zh``)."""

    zh: str

    def __new__(cls, value: str, zh: str = "") -> LabelledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member.zh = zh or value
        return member


class PiiClass(LabelledEnum):
    """How identifying a field is; drives vault storage, masking and identifier scans."""

    DIRECT = "direct", "直接标识符"  # names a person on its own: stored only in the vault
    QUASI = "quasi", "准标识符"  # identifies in combination (birth date, city, branch)
    SENSITIVE = "sensitive", "敏感个人信息"  # financial or risk data
    NONE = "none", "非个人信息"


class Gender(LabelledEnum):
    MALE = "M", "男"
    FEMALE = "F", "女"
    UNKNOWN = "U", "未知"


class IdType(LabelledEnum):
    RESIDENT_ID = "resident_id", "居民身份证"
    PASSPORT = "passport", "护照"
    HK_MACAO_PERMIT = "hk_macao_permit", "港澳居民来往内地通行证"
    TAIWAN_PERMIT = "taiwan_permit", "台湾居民来往大陆通行证"
    FOREIGN_PERMANENT = "foreign_permanent", "外国人永久居留身份证"
    OTHER = "other", "其他"


class Occupation(LabelledEnum):
    CIVIL_SERVANT = "civil_servant", "公务员"
    SOE_EMPLOYEE = "soe_employee", "国企员工"
    PRIVATE_EMPLOYEE = "private_employee", "私企员工"
    PROFESSIONAL = "professional", "专业人士"
    BUSINESS_OWNER = "business_owner", "企业主/个体户"
    FARMER = "farmer", "农民"
    STUDENT = "student", "学生"
    RETIRED = "retired", "退休"
    UNEMPLOYED = "unemployed", "无业"
    OTHER = "other", "其他"


class Education(LabelledEnum):
    PRIMARY = "primary", "小学及以下"
    SECONDARY = "secondary", "初中/高中"
    VOCATIONAL = "vocational", "大专"
    BACHELOR = "bachelor", "本科"
    POSTGRADUATE = "postgraduate", "研究生及以上"
    UNKNOWN = "unknown", "未知"


class KycStatus(LabelledEnum):
    VERIFIED = "verified", "已核实"
    PENDING = "pending", "待核实"
    EXPIRED = "expired", "证件过期"
    REJECTED = "rejected", "核实未通过"


class RiskTolerance(LabelledEnum):
    """Customer risk-tolerance level from the suitability questionnaire (风险承受能力)."""

    C1 = "C1", "保守型"
    C2 = "C2", "谨慎型"
    C3 = "C3", "稳健型"
    C4 = "C4", "积极型"
    C5 = "C5", "激进型"


class ProductRisk(LabelledEnum):
    """Product risk level (产品风险等级); Rm may be sold to Cn only if m <= n."""

    R1 = "R1", "低风险"
    R2 = "R2", "中低风险"
    R3 = "R3", "中风险"
    R4 = "R4", "中高风险"
    R5 = "R5", "高风险"


class ProductFamily(LabelledEnum):
    DEMAND_DEPOSIT = "demand_deposit", "活期存款"
    TIME_DEPOSIT = "time_deposit", "定期存款"
    CERTIFICATE_OF_DEPOSIT = "certificate_of_deposit", "大额存单"
    WEALTH_MANAGEMENT = "wealth_management", "理财产品"
    FUND = "fund", "基金"
    INSURANCE = "insurance", "保险"
    CREDIT_CARD = "credit_card", "信用卡"
    CONSUMER_LOAN = "consumer_loan", "消费贷款"
    MORTGAGE = "mortgage", "住房按揭贷款"
    CAR_LOAN = "car_loan", "汽车贷款"
    PRECIOUS_METAL = "precious_metal", "贵金属"


DEPOSIT_FAMILIES = frozenset(
    {ProductFamily.DEMAND_DEPOSIT, ProductFamily.TIME_DEPOSIT, ProductFamily.CERTIFICATE_OF_DEPOSIT}
)
INVESTMENT_FAMILIES = frozenset(
    {
        ProductFamily.WEALTH_MANAGEMENT,
        ProductFamily.FUND,
        ProductFamily.INSURANCE,
        ProductFamily.PRECIOUS_METAL,
    }
)
CREDIT_FAMILIES = frozenset(
    {
        ProductFamily.CREDIT_CARD,
        ProductFamily.CONSUMER_LOAN,
        ProductFamily.MORTGAGE,
        ProductFamily.CAR_LOAN,
    }
)


class AccountStatus(LabelledEnum):
    ACTIVE = "active", "正常"
    DORMANT = "dormant", "久悬/睡眠"
    FROZEN = "frozen", "冻结"
    CLOSED = "closed", "销户"


class Direction(LabelledEnum):
    CREDIT = "credit", "入账"
    DEBIT = "debit", "出账"


class Channel(LabelledEnum):
    """Channel a transaction was made through (交易渠道)."""

    COUNTER = "counter", "柜面"
    ATM = "atm", "自助设备"
    MOBILE_APP = "mobile_app", "手机银行"
    ONLINE_BANKING = "online_banking", "网上银行"
    POS = "pos", "POS刷卡"
    THIRD_PARTY = "third_party", "第三方支付"
    SYSTEM = "system", "系统批量"


CUSTOMER_INITIATED_CHANNELS = frozenset(set(Channel) - {Channel.SYSTEM})


class MerchantCategory(LabelledEnum):
    NONE = "none", "非消费"
    GROCERY = "grocery", "超市百货"
    DINING = "dining", "餐饮"
    TRAVEL = "travel", "旅游出行"
    ONLINE_SHOPPING = "online_shopping", "网购"
    EDUCATION = "education", "教育"
    HEALTHCARE = "healthcare", "医疗"
    HOUSING = "housing", "房产家居"
    AUTOMOTIVE = "automotive", "汽车"
    ENTERTAINMENT = "entertainment", "娱乐"
    UTILITIES = "utilities", "生活缴费"
    LUXURY = "luxury", "奢侈品"
    OTHER = "other", "其他"


class CounterpartyType(LabelledEnum):
    NONE = "none", "无"
    INDIVIDUAL = "individual", "个人"
    MERCHANT = "merchant", "商户"
    EMPLOYER = "employer", "代发工资单位"
    GOVERNMENT = "government", "政府/社保"
    FINANCIAL_INSTITUTION = "financial_institution", "金融机构"
    OWN_ACCOUNT = "own_account", "本人账户"


class EventType(LabelledEnum):
    LOGIN = "login", "登录"
    PAGE_VIEW = "page_view", "浏览"
    SEARCH = "search", "搜索"
    CLICK = "click", "点击"


class EventChannel(LabelledEnum):
    APP = "app", "手机银行App"
    WEB = "web", "网银/网页"


class ConsentPurpose(LabelledEnum):
    MARKETING = "marketing", "营销推广"
    SERVICE = "service", "服务通知"
    PROFILING = "profiling", "用户画像"
    THIRD_PARTY_SHARING = "third_party_sharing", "向第三方提供"


class ContactChannel(LabelledEnum):
    SMS = "sms", "短信"
    EMAIL = "email", "电子邮件"
    PHONE = "phone", "电话外呼"
    APP_PUSH = "app_push", "App推送"
    IN_APP = "in_app", "App内展示"
    BRANCH = "branch", "网点"
    WECHAT = "wechat", "微信"


class ConsentStatus(LabelledEnum):
    GRANTED = "granted", "同意"
    WITHDRAWN = "withdrawn", "撤回"
