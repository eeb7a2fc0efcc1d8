"""Understanding, models and scores: read-only, paged, sensitive figures gated by role."""

from __future__ import annotations

from nextbest.security.permissions import Role
from tests.api.conftest import ApiWorld, api, installation, store_url  # noqa: F401
from tests.api.world import AS_OF, CLV, CUSTOMERS, MODEL_NAME, MONETARY


def test_tags_segments_lifecycle(api: ApiWorld) -> None:  # noqa: F811
    headers = api.headers(Role.MARKETER)
    tags = api.client.get("/api/v1/tags", params={"limit": 200}, headers=headers).json()
    assert tags["as_of"] == AS_OF.isoformat()
    counts = {t["code"]: t["customers"] for t in tags["items"]}
    assert counts["affluent"] == counts["young"] == counts["payroll"] == 1
    assert counts["silver"] == 0
    assert tags["total"] == len(tags["items"]) and tags["next_offset"] is None
    first = api.client.get("/api/v1/tags", params={"limit": 2}, headers=headers).json()
    assert first["next_offset"] == 2 and [t["code"] for t in first["items"]] == sorted(counts)[:2]
    segments = api.client.get(
        "/api/v1/segments", params={"scheme": "cluster"}, headers=headers
    ).json()
    assert [(s["segment"], s["customers"]) for s in segments["items"]] == [("c0", 3), ("c1", 3)]
    none = api.client.get("/api/v1/segments", params={"scheme": "rfm"}, headers=headers).json()
    assert none["total"] == 0 and none["items"] == []
    life = api.client.get("/api/v1/lifecycle", headers=headers).json()
    by_stage = {s["stage"]: s["customers"] for s in life["stages"]}
    assert by_stage == {"active": 2, "mature": 1, "new": 1, "dormant": 1, "churned": 1,
                        "prospect": 0}  # fmt: skip
    assert {s["zh"] for s in life["stages"]} >= {"活跃", "流失"}


def test_clv_amounts_need_sensitive_access(api: ApiWorld) -> None:  # noqa: F811
    marketer = api.client.get(
        "/api/v1/clv", params={"value_tier": "high"}, headers=api.headers(Role.MARKETER)
    ).json()
    assert [r["customer_key"] for r in marketer["items"]] == [CUSTOMERS[0].key, CUSTOMERS[2].key]
    assert all(r["clv"] is None and r["probability_of_default"] is None for r in marketer["items"])
    assert marketer["withheld"] == ["clv", "expected_loss_clv", "margin_clv",
                                    "probability_of_default"]  # fmt: skip
    analyst = api.client.get("/api/v1/clv", headers=api.headers(Role.ANALYST)).json()
    assert [r["clv"] for r in analyst["items"]] == list(CLV)
    assert analyst["withheld"] == [] and analyst["total"] == len(CUSTOMERS)


def test_customer_insight(api: ApiWorld) -> None:  # noqa: F811
    url = f"/api/v1/customers/{CUSTOMERS[0].key}/insight"
    seen = api.client.get(url, headers=api.headers(Role.SERVICE_AGENT)).json()
    assert [t["code"] for t in seen["tags"]] == ["affluent", "digital_first"]
    assert seen["segments"] == {"cluster": "c0"}
    assert (seen["lifecycle_stage"], seen["previous_stage"]) == ("active", "new")
    assert seen["rfm"]["monetary"] is None and seen["clv"]["clv"] is None
    assert "monetary" in seen["withheld"] and "clv" in seen["withheld"]
    full = api.client.get(url, headers=api.headers(Role.COMPLIANCE_OFFICER)).json()
    assert full["rfm"]["monetary"] == MONETARY[0] and full["withheld"] == []
    missing = api.client.get(
        "/api/v1/customers/cknobody/insight", headers=api.headers(Role.ANALYST)
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"].startswith("customer_key:")


def test_customer_scores(api: ApiWorld) -> None:  # noqa: F811
    url = f"/api/v1/customers/{CUSTOMERS[1].key}/scores"
    marketer = api.client.get(url, headers=api.headers(Role.MARKETER)).json()
    offers = {o.offer_id for o in api.context.decisions.offers()}
    assert set(marketer["propensity"]) <= offers and marketer["propensity"]
    assert all(0.0 <= p <= 1.0 for p in marketer["propensity"].values() if p is not None)
    assert marketer["expected_value"] is None and marketer["probability_of_default"] is None
    assert marketer["withheld"] == ["expected_value", "probability_of_default"]
    analyst = api.client.get(url, headers=api.headers(Role.ANALYST)).json()
    assert analyst["propensity"] == marketer["propensity"]
    assert analyst["probability_of_default"] is not None and analyst["expected_value"]
    assert api.client.get(
        "/api/v1/customers/cknobody/scores", headers=api.headers(Role.ANALYST)
    ).status_code == 404  # fmt: skip


def test_models(api: ApiWorld) -> None:  # noqa: F811
    headers = api.headers(Role.AUDITOR)
    listed = api.client.get("/api/v1/models", headers=headers).json()
    assert [(m["name"], m["version"], m["status"]) for m in listed["items"]] == [
        (MODEL_NAME, "v0001", "champion"),
        (MODEL_NAME, "v0002", "challenger"),
    ]
    assert listed["items"][1]["metrics"] == {"auc": 0.74}
    one = api.client.get(f"/api/v1/models/{MODEL_NAME}", params={"limit": 1}, headers=headers)
    assert one.json()["total"] == 2 and one.json()["next_offset"] == 1
    unknown = api.client.get("/api/v1/models/propensity", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["detail"].startswith("model_name:")
    assert (
        api.client.get("/api/v1/models", headers=api.headers(Role.SERVICE_AGENT)).status_code == 403
    )
