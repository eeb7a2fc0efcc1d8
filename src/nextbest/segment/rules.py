"""Rule-based segmentation: ordered rules in the expression language, first match wins.

The five-dimension scheme (五维客户分群) classifies every customer along customer type,
asset size, risk preference, behaviour and value contribution; each dimension is one
:class:`RuleScheme` whose rules read feature-snapshot columns. Schemes compile to one Ibis
``CASE`` expression, so they run in the warehouse on any backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis

from nextbest.expr import Expr, parse, to_ibis

__all__ = ["FIVE_DIMENSIONS", "RuleScheme", "SegmentRule", "assign_rule_segments"]


@dataclass(frozen=True)
class SegmentRule:
    """A segment code, its labels and the condition (``None``: the fallback segment)."""

    code: str
    zh: str
    en: str
    condition: str | None = None

    @property
    def expr(self) -> Expr | None:
        return None if self.condition is None else parse(self.condition)


@dataclass(frozen=True)
class RuleScheme:
    """An ordered list of rules; the last one must be the fallback (no condition)."""

    name: str
    zh: str
    en: str
    rules: tuple[SegmentRule, ...]

    def __post_init__(self) -> None:
        if not self.rules or self.rules[-1].condition is not None:
            raise ValueError(f"scheme {self.name!r}: the last rule must be the fallback")

    def label(self, code: str) -> SegmentRule:
        return next(r for r in self.rules if r.code == code)

    def to_ibis(self, table: ibis.Table) -> ibis.Value:
        """The segment code of each row of ``table`` (null conditions do not match)."""
        branches = [
            (to_ibis(rule.expr, table).fill_null(False), rule.code)
            for rule in self.rules
            if rule.expr is not None
        ]
        return ibis.cases(*branches, else_=self.rules[-1].code)


def _r(code: str, zh: str, en: str, condition: str | None = None) -> SegmentRule:
    return SegmentRule(code, zh, en, condition)


FIVE_DIMENSIONS: tuple[RuleScheme, ...] = (
    RuleScheme("customer_type", "客户类型", "Customer type", (
        _r("business_owner", "企业主/个体户", "Business owner", "occupation == 'business_owner'"),
        _r("student", "学生", "Student", "occupation == 'student' or age < 22"),
        _r("senior", "银发客户", "Senior", "age >= 60 or occupation == 'retired'"),
        _r("young_professional", "年轻职场人", "Young professional", "age < 35"),
        _r("family", "家庭客户", "Family customer"),
    )),
    RuleScheme("asset_size", "资产规模", "Asset size", (
        _r("hnw", "高净值", "High net worth (≥ 6m)", "aum >= 6000000"),
        _r("affluent", "富裕", "Affluent (500k–6m)", "aum >= 500000"),
        _r("emerging", "潜力", "Emerging (50k–500k)", "aum >= 50000"),
        _r("mass", "大众", "Mass (< 50k)"),
    )),
    RuleScheme("risk_preference", "风险偏好", "Risk preference", (
        _r("aggressive", "进取型", "Aggressive (C4–C5)", "risk_level in ['C4', 'C5']"),
        _r("balanced", "稳健型", "Balanced (C3)", "risk_level == 'C3'"),
        _r("conservative", "保守型", "Conservative (C1–C2)", "risk_level in ['C1', 'C2']"),
        _r("unassessed", "未评估", "Not assessed"),
    )),
    RuleScheme("behaviour", "行为特征", "Behaviour", (
        _r("inactive", "不活跃", "Inactive (no transaction in 90 days)", "txn_count_90d == 0"),
        _r("digital", "线上为主", "Digital", "digital_txn_share_90d >= 0.7"),
        _r("branch", "网点为主", "Branch", "channel_share_counter >= 0.5"),
        _r("spender", "消费活跃", "Active spender", "spend_amount_365d >= 50000"),
        _r("mixed", "多渠道", "Mixed channels"),
    )),
    RuleScheme("value_contribution", "价值贡献", "Value contribution", (
        _r("high", "高贡献", "High (≥ 5,000 CNY margin a year)", "annual_margin >= 5000"),
        _r("medium", "中贡献", "Medium (500–5,000)", "annual_margin >= 500"),
        _r("low", "低贡献", "Low (< 500)", "annual_margin > 0"),
        _r("none", "无贡献", "None"),
    )),
)  # fmt: skip


def assign_rule_segments(snapshot: ibis.Table, schemes: Sequence[RuleScheme]) -> ibis.Table:
    """Long form ``as_of_date, customer_key, scheme, segment`` for every scheme."""
    parts = [
        snapshot.select(
            "as_of_date",
            "customer_key",
            scheme=ibis.literal(s.name, type="string"),
            segment=s.to_ibis(snapshot),
        )
        for s in schemes
    ]
    return ibis.union(*parts, distinct=False)
