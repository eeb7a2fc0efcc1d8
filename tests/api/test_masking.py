"""Without the permission, personal data comes back masked from every endpoint."""

from __future__ import annotations

from nextbest.security.permissions import MATRIX, Permission, Role
from tests.api.conftest import ApiWorld, api, installation, store_url  # noqa: F401
from tests.api.routes import PATH_VALUES, operations
from tests.api.world import CUSTOMERS, SENSITIVE_FIGURES

IDENTIFIERS = tuple(v for p in CUSTOMERS for v in (p.name, p.id_number, p.mobile, p.email))
INCOMES = tuple(p.income for p in CUSTOMERS) + SENSITIVE_FIGURES  # income, CLV, RFM monetary
REVEALING = {
    ("POST", "/api/v1/customers/{customer_key}/unmask"): Permission.CUSTOMER_UNMASK,
    ("POST", "/api/v1/privacy/{customer_key}/export"): Permission.DSR_EXPORT,
}
DESTRUCTIVE = {"/api/v1/privacy/{customer_key}/erase"}


def test_every_endpoint_masks_identifiers_and_withholds_income(api: ApiWorld) -> None:  # noqa: F811
    ops = [o for o in operations(api.client.app) if o.path not in DESTRUCTIVE]  # type: ignore[arg-type]
    revealed_by: set[tuple[Role, str]] = set()
    for role in Role:
        granted = MATRIX[role]
        for customer in CUSTOMERS[::3]:  # two customers keep the walk quick
            for op in ops:
                url = op.path.format(**{**PATH_VALUES, "customer_key": customer.key})
                response = api.client.request(
                    op.method, url, json=op.body, headers=api.headers(role)
                )
                text = response.text
                where = f"{op.method} {op.path} as {role.value}"
                needed = REVEALING.get((op.method, op.path))
                if needed is not None and needed in granted:
                    assert response.status_code == 200, where + text
                    assert customer.name in text and customer.mobile in text, where
                    revealed_by.add((role, op.path))
                    continue
                leaked = [v for v in IDENTIFIERS if v in text]
                assert not leaked, f"{where} leaked {leaked}"
                if Permission.CUSTOMER_READ_SENSITIVE not in granted:
                    leaked = [v for v in INCOMES if v in text]
                    assert not leaked, f"{where} leaked sensitive figures {leaked}"
        # searching by identifier finds the customer and still masks
        if Permission.CUSTOMER_READ in granted:
            found = api.client.get(
                "/api/v1/customers",
                params={"mobile": CUSTOMERS[0].mobile},
                headers=api.headers(role),
            ).json()
            assert [c["customer_key"] for c in found["items"]] == [CUSTOMERS[0].key]
            assert found["items"][0]["identifiers"]["mobile"] == "138****1234"
            assert found["items"][0]["identifiers"]["name"] == "张*三"
    assert {r for r, _ in revealed_by} == {Role.SERVICE_AGENT, Role.COMPLIANCE_OFFICER}


def test_profile_fields_by_role(api: ApiWorld) -> None:  # noqa: F811
    marketer = api.client.get("/api/v1/customers/ckaaaa", headers=api.headers(Role.MARKETER))
    body = marketer.json()
    assert body["identifiers"] == {
        "name": "张*三",
        "id_number": "110***********1234",
        "mobile": "138****1234",
        "email": "z*******@example.com",
    }
    assert body["identifiers_masked"] is True
    assert body["attributes"]["annual_income"] is None
    assert body["withheld"] == ["annual_income"]
    analyst = api.client.get("/api/v1/customers/ckaaaa", headers=api.headers(Role.ANALYST))
    assert analyst.json()["attributes"]["annual_income"] == "120000.00"


def test_unmask_needs_purpose_and_is_audited(api: ApiWorld) -> None:  # noqa: F811
    headers = api.headers(Role.SERVICE_AGENT)
    url = "/api/v1/customers/ckbbbb/unmask"
    missing = api.client.post(url, json={"justification": "ticket CS-1234"}, headers=headers)
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["errors"][0]["field"] == "body.purpose"
    shown = api.client.post(
        url,
        json={"purpose": "complaint_handling", "justification": "ticket CS-1234"},
        headers=headers,
    )
    assert shown.json()["identifiers"]["id_number"] == "310101198512123456"
    entries = api.context.audit.entries()
    assert [e.action for e in entries[:2]] == ["customer.unmask", "vault.reveal"]
    assert entries[0].actor == "service.agent.user"
    assert entries[0].detail == {"purpose": "complaint_handling", "justification": "ticket CS-1234"}
    assert api.context.audit.verify().ok
