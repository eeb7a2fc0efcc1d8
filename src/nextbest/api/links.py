"""OpenAPI links: where one operation's answer supplies another operation's parameter.

They document the API's workflows (decide, then report the outcome; create a key, then
revoke it) and let stateful testers such as schemathesis chain real calls instead of
guessing identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["LINKS", "Link", "add_links"]


@dataclass(frozen=True)
class Link:
    name: str
    source: tuple[str, str, str]  # method, path, status
    target: tuple[str, str]  # method, path
    parameters: tuple[tuple[str, str], ...]  # (parameter, runtime expression)
    description: str


_P = "/api/v1"
LINKS = (
    Link(
        "RecordOutcome",
        ("post", f"{_P}/decide", "200"),
        ("post", f"{_P}/decisions/{{decision_id}}/outcome"),
        (("decision_id", "$response.body#/decision_id"),),
        "Report whether the customer accepted the offer just decided.",
    ),
    Link(
        "RevokeKey",
        ("post", f"{_P}/api-keys", "201"),
        ("delete", f"{_P}/api-keys/{{key_id}}"),
        (("key_id", "$response.body#/key_id"),),
        "Revoke the key just created.",
    ),
    Link(
        "GetUser",
        ("post", f"{_P}/users", "201"),
        ("get", f"{_P}/users/{{username}}"),
        (("username", "$response.body#/username"),),
        "Read the account just created.",
    ),
    Link(
        "ChangeUser",
        ("post", f"{_P}/users", "201"),
        ("patch", f"{_P}/users/{{username}}"),
        (("username", "$response.body#/username"),),
        "Change the roles or the state of the account just created.",
    ),
    Link(
        "GetProfile",
        ("get", f"{_P}/customers", "200"),
        ("get", f"{_P}/customers/{{customer_key}}"),
        (("customer_key", "$response.body#/items/0/customer_key"),),
        "The profile of the first customer found.",
    ),
    Link(
        "GetConsents",
        ("get", f"{_P}/customers", "200"),
        ("get", f"{_P}/customers/{{customer_key}}/consents"),
        (("customer_key", "$response.body#/items/0/customer_key"),),
        "The consents of the first customer found.",
    ),
)


def _pointer(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def add_links(document: dict[str, Any], links: tuple[Link, ...] = LINKS) -> dict[str, Any]:
    """Add :data:`LINKS` to the responses of an OpenAPI document (in place; returned).

    Raises
    ------
    KeyError
        For a link whose source response or target operation the document lacks, so that a
        renamed route cannot silently drop its link.
    """
    paths = document["paths"]
    for link in links:
        method, path, status = link.source
        target_method, target_path = link.target
        _ = paths[target_path][target_method]  # KeyError when the target is gone
        response = paths[path][method]["responses"][status]
        response.setdefault("links", {})[link.name] = {
            "operationRef": _pointer(target_path, target_method),
            "parameters": dict(link.parameters),
            "description": link.description,
        }
    return document
