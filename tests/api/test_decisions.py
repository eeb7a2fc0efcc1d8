"""Decision resources: real-time decide, outcomes, the batch run's decisions, offers."""

from __future__ import annotations

from datetime import UTC, datetime

from nextbest.api.fast_decide import DecideFastPath
from nextbest.security.permissions import Role
from tests.api.conftest import ApiWorld, api, installation, store_url  # noqa: F401
from tests.api.world import CUSTOMERS

TEN_AM_BANK_TIME = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def _grant_marketing(api: ApiWorld, customer_key: str) -> None:  # noqa: F811
    for channel in ("in_app", "sms", "email", "phone", "app_push"):
        api.context.consents.record(customer_key, "marketing", channel, "granted", actor="test")


def test_decide_records_and_explains(api: ApiWorld) -> None:  # noqa: F811
    body = {"customer_key": "ckcccc", "channel_context": "in_app", "context": {"page": "home"}}
    marketer = api.client.post("/api/v1/decide", json=body, headers=api.headers(Role.MARKETER))
    assert marketer.status_code == 200, marketer.text
    made = marketer.json()
    assert made["customer_key"] == "ckcccc"
    assert made["decision_id"].startswith("d") and len(made["decision_id"]) == 25
    explanation = made["explanation"]
    assert explanation["lines"][0].startswith("customer ckcccc: winner")
    assert len(explanation["verdicts"]) == len(api.context.decisions.offers())
    # the marketer may not see the customer attributes the rules read (AUM, age...)
    assert all("inputs" not in v for v in explanation["verdicts"])
    stored = api.context.decisions.log.get(made["decision_id"])
    expected = {"page": "home", "in_app": "true", "channel_context": "in_app"}
    assert stored.inputs["request"] == expected
    as_agent = api.client.post("/api/v1/decide", json=body, headers=api.headers(Role.SERVICE_AGENT))
    assert as_agent.status_code == 200
    assert as_agent.json()["decision_id"] != made["decision_id"]


def test_decide_problems_name_the_field(api: ApiWorld) -> None:  # noqa: F811
    headers = api.headers(Role.MARKETER)
    unknown = api.client.post("/api/v1/decide", json={"customer_key": "cknobody"}, headers=headers)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["detail"].startswith("customer_key: 'cknobody' is not in serving")
    bad = api.client.post(
        "/api/v1/decide",
        json={"customer_key": "ckaaaa", "channel_context": "carrier_pigeon"},
        headers=headers,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.channel_context"


def test_outcome_once_and_cool_down(api: ApiWorld) -> None:  # noqa: F811
    _grant_marketing(api, "ckaaaa")
    made = api.context.decisions.service.decide_one("ckaaaa", {}, at=TEN_AM_BANK_TIME)
    assert made.decision.offer_id == "td_sms"  # seeded world: the deposit offer by SMS
    url = f"/api/v1/decisions/{made.decision_id}/outcome"
    headers = api.headers(Role.SERVICE_AGENT)
    rejected = api.client.post(url, json={"outcome": "rejected"}, headers=headers)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["outcome"] == "rejected"
    assert rejected.json()["offer_id"] == "td_sms"
    again = api.client.post(url, json={"outcome": "rejected"}, headers=headers)
    assert again.status_code == 200  # idempotent
    conflict = api.client.post(url, json={"outcome": "accepted"}, headers=headers)
    assert conflict.status_code == 422
    assert "already recorded" in conflict.json()["detail"]
    missing = api.client.post(
        "/api/v1/decisions/d" + "0" * 24 + "/outcome", json={"outcome": "accepted"}, headers=headers
    )
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("decision_id:")
    # the rejection starts the deposit product's cool-down: the next decision avoids it
    later = api.context.decisions.service.decide_one("ckaaaa", {}, at=TEN_AM_BANK_TIME)
    assert later.decision.offer_id not in {"td_sms", "td_app"}


def test_batch_decisions_page_and_filter(api: ApiWorld) -> None:  # noqa: F811
    headers = api.headers(Role.ANALYST)
    first = api.client.get("/api/v1/decisions", params={"limit": 4}, headers=headers).json()
    assert first["total"] == len(CUSTOMERS)
    assert [d["customer_key"] for d in first["items"]] == [p.key for p in CUSTOMERS[:4]]
    assert first["next_offset"] == 4
    run = first["run"]
    assert run["customers"] == len(CUSTOMERS)
    assert sum(run["by_offer"].values()) == run["with_offer"]
    rest = api.client.get("/api/v1/decisions", params={"offset": 4}, headers=headers).json()
    assert [d["customer_key"] for d in rest["items"]] == [p.key for p in CUSTOMERS[4:]]
    one = api.client.get(
        "/api/v1/decisions", params={"customer_key": "ckbbbb"}, headers=headers
    ).json()
    assert one["total"] == 1 and one["items"][0]["customer_key"] == "ckbbbb"
    offer_id = sorted(run["by_offer"])[0]
    by_offer = api.client.get(
        "/api/v1/decisions", params={"offer_id": offer_id}, headers=headers
    ).json()
    assert by_offer["total"] == run["by_offer"][offer_id]
    assert {d["offer_id"] for d in by_offer["items"]} == {offer_id}


def test_offers_list_the_active_catalogue(api: ApiWorld) -> None:  # noqa: F811
    offers = api.client.get("/api/v1/offers", headers=api.headers(Role.APPROVER)).json()
    ids = [o["offer_id"] for o in offers]
    assert ids == [o.offer_id for o in api.context.decisions.offers()]
    assert "td_sms" in ids and {o["channel"] for o in offers} >= {"sms", "in_app"}


def _fast_path(app: object) -> DecideFastPath:
    layer = getattr(app, "middleware_stack", None)
    while layer is not None and not isinstance(layer, DecideFastPath):
        layer = getattr(layer, "app", None)
    assert layer is not None
    return layer


def test_decide_fast_path_answers_like_the_route(api: ApiWorld) -> None:  # noqa: F811
    headers = api.headers(Role.MARKETER)
    body = {"customer_key": "ckdddd", "channel_context": "in_app"}
    routed = api.client.post("/api/v1/decide", json=body, headers=headers)  # caches the caller
    fast = _fast_path(api.client.app)
    before = fast.served
    quick = api.client.post("/api/v1/decide", json=body, headers=headers)
    assert fast.served == before + 1
    assert quick.status_code == routed.status_code == 200
    assert quick.headers["content-type"] == routed.headers["content-type"] == "application/json"
    a, b = routed.json(), quick.json()
    assert a.keys() == b.keys() and a["decision_id"] != b["decision_id"]
    assert a["explanation"]["verdicts"][0].keys() == b["explanation"]["verdicts"][0].keys()
    assert api.context.decisions.log.get(b["decision_id"]).customer_key == "ckdddd"
    # the sensitive inputs follow the caller's permissions on the fast path too
    api.client.post("/api/v1/decide", json=body, headers=api.headers(Role.ADMIN))
    admin = api.client.post("/api/v1/decide", json=body, headers=api.headers(Role.ADMIN))
    assert all("inputs" not in v for v in admin.json()["explanation"]["verdicts"])
    # everything else is the route's: problem details, checked permission
    served = fast.served
    bad = api.client.post("/api/v1/decide", json={"customer_key": ""}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.customer_key"
    unknown = api.client.post("/api/v1/decide", json={"customer_key": "cknobody"}, headers=headers)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    api.client.get("/api/v1/auth/me", headers=api.headers(Role.ANALYST))  # analyst now cached
    denied = api.client.post("/api/v1/decide", json=body, headers=api.headers(Role.ANALYST))
    assert denied.status_code == 403
    assert api.client.post("/api/v1/decide", json=body).status_code == 401
    as_text = {**headers, "content-type": "text/plain"}
    assert api.client.post("/api/v1/decide", content=b"{}", headers=as_text).status_code < 500
    assert fast.served == served  # none of these took the fast path
