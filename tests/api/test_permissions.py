"""Every route the app registers × every role, against the permission matrix."""

from __future__ import annotations

from nextbest.api.app import DOC_PATHS
from nextbest.security.permissions import FIELD_PERMISSIONS, MATRIX, Permission, Role
from tests.api.conftest import ApiWorld, api, installation, store_url  # noqa: F401
from tests.api.routes import operations, other_paths


def test_every_route_declares_a_permission(api: ApiWorld) -> None:  # noqa: F811
    app = api.client.app
    assert other_paths(app) == DOC_PATHS  # type: ignore[arg-type]  # nothing but the schema and its viewer bypasses the matrix
    ops = operations(app)  # type: ignore[arg-type]
    public = {(o.method, o.path) for o in ops if o.public}
    assert public == {
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/refresh"),
        ("GET", "/api/v1/health"),
        ("GET", "/metrics"),
    }
    used = {o.permission for o in ops if o.permission is not None}
    assert used | FIELD_PERMISSIONS == set(Permission)  # no permission is dead


def test_every_route_times_every_role(api: ApiWorld) -> None:  # noqa: F811
    ops = operations(api.client.app)  # type: ignore[arg-type]
    checked = 0
    for op in ops:
        for role in Role:
            response = api.client.request(
                op.method, op.url, json=op.body, headers=api.headers(role)
            )
            where = f"{op.method} {op.path} as {role.value}: {response.status_code}"
            assert response.status_code < 500, where + response.text
            if op.public:
                # may answer 401 for bad credentials, never for a missing permission
                assert response.status_code != 403, where
                assert "not authenticated" not in response.text, where
            elif op.permission in MATRIX[role]:
                assert response.status_code not in (401, 403), where + response.text
            else:
                assert response.status_code == 403, where
                assert response.json()["detail"] == f"permission {op.permission} is required"
            checked += 1
        if not op.public:
            anonymous = api.client.request(op.method, op.url, json=op.body)
            assert anonymous.status_code == 401, f"{op.method} {op.path} without a token"
    assert checked == len(ops) * len(Role)
