"""API fixtures: an installation on each opstore backend and a test client per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nextbest.api import create_app
from nextbest.api.context import ApiContext
from nextbest.config import Settings
from nextbest.opstore import OperationalStore
from nextbest.privacy.keys import KeyRing
from nextbest.security.permissions import Role
from tests.api.world import (
    build_installation,
    decision_template,
    install_decisions,
    settings_for,
)
from tests.opstore.conftest import store_url  # noqa: F401  (backend-parametrised fixture)


@pytest.fixture(scope="session")
def decisions_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One batch run over the world's customers, copied into each installation."""
    return decision_template(tmp_path_factory.mktemp("batch"))


@pytest.fixture
def installation(
    tmp_path: Path,
    store_url: str,  # noqa: F811
    decisions_dir: Path,
) -> Iterator[tuple[Settings, OperationalStore, KeyRing]]:
    settings = settings_for(tmp_path / "home", store_url)
    store, keyring = build_installation(settings)
    install_decisions(settings, decisions_dir)
    try:
        yield settings, store, keyring
    finally:
        store.dispose()


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> None:
    # argon2's production cost (64 MiB, 3 passes) takes ~0.5 s here; tests need no such cost
    from nextbest.security.passwords import set_hash_cost

    set_hash_cost(1, 1024)


PASSWORD = "test pass phrase 2026"


@dataclass
class ApiWorld:
    client: TestClient
    context: ApiContext
    tokens: dict[Role, str]
    settings: Settings

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def api(installation) -> Iterator[ApiWorld]:  # type: ignore[no-untyped-def]
    """The app over the installation, with one logged-in user per role."""
    settings, _store, _keyring = installation
    context = ApiContext.open(settings)
    tokens = {}
    for role in Role:
        name = f"{role.value.replace('_', '.')}.user"
        context.users.create_user(name, role.value, [role.value], PASSWORD, actor="test")
        tokens[role] = context.users.login(name, PASSWORD).access_token
    try:
        with TestClient(create_app(context=context), raise_server_exceptions=False) as client:
            yield ApiWorld(client, context, tokens, settings)
    finally:
        context.close()
