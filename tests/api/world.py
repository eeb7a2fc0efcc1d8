"""A small installation for API and service tests: six customers in the vault and in a
published warehouse copy, an operational store on the requested backend, and a key ring.

The clear identifiers are listed in :data:`CUSTOMERS` so that tests can check that none of
them ever appears in a response that should be masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from nextbest.config import Settings
from nextbest.opstore import OperationalStore
from nextbest.opstore.vault import PiiVault, VaultRecord
from nextbest.privacy.keys import KeyRing, init_keys
from nextbest.privacy.masking import mask_value
from nextbest.warehouse import open_warehouse


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    id_number: str
    mobile: str
    email: str
    city: str
    income: str


CUSTOMERS = (
    Person(
        "ckaaaa",
        "张小三",
        "110101199003071234",
        "13812341234",
        "zhangsan@example.com",
        "北京",
        "120000.00",
    ),
    Person(
        "ckbbbb", "李四", "310101198512123456", "13987654321", "lisi@example.cn", "上海", "95000.50"
    ),
    Person(
        "ckcccc",
        "欧阳小明",
        "440101197706065678",
        "15011112222",
        "ouyang@example.com",
        "广州",
        "300000.00",
    ),
    Person(
        "ckdddd",
        "王芳",
        "320101199507089012",
        "18622223333",
        "wangfang@example.org",
        "南京",
        "56000.00",
    ),
    Person(
        "ckeeee",
        "赵敏",
        "330101198809093456",
        "17733334444",
        "zhaomin@example.com",
        "杭州",
        "81000.00",
    ),
    Person(
        "ckffff",
        "钱多多",
        "510101199212127890",
        "13544445555",
        "qian@example.net",
        "成都",
        "150000.00",
    ),
)
CLEAR_VALUES = tuple(
    v for p in CUSTOMERS for v in (p.name, p.id_number, p.mobile, p.email, p.income)
)
AS_OF = date(2026, 5, 31)
# Distinctive sensitive figures of the understanding tables: withheld without the permission.
CLV = tuple(98765.43 + 1000 * i for i in range(len(CUSTOMERS)))
MONETARY = tuple(24680.17 + 100 * i for i in range(len(CUSTOMERS)))
SENSITIVE_FIGURES = tuple(f"{v:.2f}" for v in (*CLV, *MONETARY))
MODEL_NAME = "churn"


def understanding_tables() -> dict[str, pa.Table]:
    """A day of understanding results for the six customers (tags, segments, ...)."""
    keys = [p.key for p in CUSTOMERS]
    n = len(keys)
    day = [AS_OF] * n
    stages = ["active", "mature", "new", "dormant", "active", "churned"]
    tiers = ["high", "medium", "high", "low", "medium", "low"]
    return {
        "customer_tag": pa.table({
            "as_of_date": [AS_OF] * 4, "customer_key": keys[:3] + keys[:1],
            "tag": ["affluent", "payroll", "young", "digital_first"], "tag_version": [1] * 4,
        }),
        "customer_segment": pa.table({
            "as_of_date": day, "customer_key": keys, "scheme": ["cluster"] * n,
            "segment": ["c0", "c1", "c0", "c1", "c0", "c1"],
        }),
        "segment_profile": pa.table({
            "as_of_date": [AS_OF] * 2, "scheme": ["cluster"] * 2, "segment": ["c0", "c1"],
            "label_zh": ["稳健", "活跃"], "label_en": ["steady", "active"], "customers": [3, 3],
            "description": ["", ""],
        }),
        "customer_lifecycle": pa.table({
            "as_of_date": day, "customer_key": keys, "stage": stages,
            "previous_stage": ["new", "active", None, "active", "active", "dormant"],
        }),
        "customer_rfm": pa.table({
            "as_of_date": day, "customer_key": keys, "recency_days": list(range(n)),
            "frequency": [10] * n, "monetary": list(MONETARY), "r_score": [3] * n,
            "f_score": [3] * n, "m_score": [3] * n, "rfm_cell": ["333"] * n,
            "rfm_segment": ["loyal"] * n, "value_segment": ["mid"] * n,
        }),
        "customer_clv": pa.table({
            "as_of_date": day, "customer_key": keys, "clv": list(CLV),
            "margin_clv": [v / 2 for v in CLV], "expected_loss_clv": [v / 3 for v in CLV],
            "monthly_survival": [0.97] * n, "probability_of_default": [0.0317] * n,
            "value_tier": tiers, "budget_strategy": ["maintain"] * n,
        }),
    }  # fmt: skip


def register_model(settings: Settings) -> None:
    from nextbest.models.registry import ModelRegistry

    registry = ModelRegistry(settings.home / "models")
    for auc in (0.71, 0.74):
        registry.register(
            MODEL_NAME, {"placeholder": True}, kind="churn_3m",
            data_window=("2025-01-31", "2026-04-30"), features=["recency_days", "frequency"],
            metrics={"auc": auc}, seed=7,
        )  # fmt: skip


def customer_table() -> pa.Table:
    return pa.table(
        {
            "customer_key": [p.key for p in CUSTOMERS],
            "source_system": ["core"] * len(CUSTOMERS),
            "name_masked": [mask_value("name", p.name) for p in CUSTOMERS],
            "gender": ["M", "M", "M", "F", "F", "M"],
            "birth_date": [date(1990, 3, 7)] * len(CUSTOMERS),
            "id_type": ["resident_id"] * len(CUSTOMERS),
            "id_number_masked": [mask_value("id_number", p.id_number) for p in CUSTOMERS],
            "mobile_masked": [mask_value("mobile", p.mobile) for p in CUSTOMERS],
            "email_masked": [mask_value("email", p.email) for p in CUSTOMERS],
            "province": ["北京", "上海", "广东", "江苏", "浙江", "四川"],
            "city": [p.city for p in CUSTOMERS],
            "city_tier": [1, 1, 1, 2, 2, 2],
            "annual_income": [p.income for p in CUSTOMERS],
            "onboarding_date": [date(2015, 1, 1)] * len(CUSTOMERS),
            "home_branch": ["BJ01", "SH01", "GZ01", "NJ01", "HZ01", "CD01"],
        }
    )


def build_installation(settings: Settings) -> tuple[OperationalStore, KeyRing]:
    """Keys, migrated opstore (``settings.opstore``), vault records, a published copy."""
    settings.home.mkdir(parents=True, exist_ok=True)
    init_keys(settings)
    keyring = KeyRing.load(settings)
    store = OperationalStore(settings.opstore)
    store.migrate()
    vault = PiiVault(store, keyring)
    vault.put_many(
        [
            VaultRecord(p.key, p.name, "resident_id", p.id_number, p.mobile, p.email)
            for p in CUSTOMERS
        ],
        "20260101T000000-test",
    )
    vault.commit_batch("20260101T000000-test")
    warehouse = open_warehouse(settings)
    try:
        with warehouse.batch("20260101T000000-test") as writer:
            writer.append("customer", customer_table())
            for name, rows in understanding_tables().items():
                writer.append(name, rows)
        warehouse.publish()
    finally:
        warehouse.close()
    register_model(settings)
    return store, keyring


def settings_for(home: Path, store_url: str) -> Settings:
    return Settings(home=home, opstore_url=store_url)


def decision_template(root: Path) -> Path:
    """A batch run's ``decisions/`` folder whose customers are the world's six.

    The batch runs over six seeded synthetic customers (the world has no feature snapshot)
    whose keys are then renamed to :data:`CUSTOMERS`' keys, so that real-time decisions and
    batch reads address the same customers as the rest of the API.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from nextbest.services.decisioning import run_batch

    settings = settings_for(root / "home", f"sqlite:///{root / 'opstore.sqlite'}")
    settings.home.mkdir(parents=True)
    init_keys(settings)
    store = OperationalStore(settings.opstore)
    store.migrate()
    store.dispose()
    report = run_batch(settings, synthetic_customers=len(CUSTOMERS), seed=3, optimise=False)
    renamed = pa.array([p.key for p in CUSTOMERS])
    for path in (report.path, report.serving_snapshot):
        table = pq.read_table(path)
        assert pc.all(pc.starts_with(table.column("customer_key"), "cust")).as_py()
        index = table.schema.get_field_index("customer_key")
        pq.write_table(table.set_column(index, "customer_key", renamed), path)
    return settings.home / "decisions"


def install_decisions(settings: Settings, template: Path) -> None:
    import shutil

    shutil.copytree(template, settings.home / "decisions")
