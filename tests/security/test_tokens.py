from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from nextbest.privacy.keys import KeyRing
from nextbest.security.apikeys import new_api_key, parse_api_key, secret_matches
from nextbest.security.tokens import InvalidTokenError, TokenSigner, hash_secret, signing_key


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner.from_keyring(KeyRing.generate())


def test_access_token_round_trip(signer: TokenSigner) -> None:
    token = signer.issue("li.na", ("analyst", "auditor"))
    claims = signer.verify(token)
    assert claims.subject == "li.na"
    assert claims.roles == ("analyst", "auditor")
    assert claims.expires_at - claims.issued_at == timedelta(minutes=15)


def test_expired_token_is_rejected(signer: TokenSigner) -> None:
    token = signer.issue("li.na", ("analyst",), now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(InvalidTokenError, match="expired"):
        signer.verify(token)


def test_token_of_another_key_ring_is_rejected(signer: TokenSigner) -> None:
    other = TokenSigner.from_keyring(KeyRing.generate())
    with pytest.raises(InvalidTokenError, match="rejected"):
        signer.verify(other.issue("li.na", ("admin",)))


def test_forged_roles_and_none_algorithm_are_rejected(signer: TokenSigner) -> None:
    token = signer.issue("li.na", ("analyst",))
    header, payload, signature = token.split(".")
    forged = jwt.encode({"sub": "li.na", "roles": ["admin"]}, key=None, algorithm="none")
    with pytest.raises(InvalidTokenError):
        signer.verify(forged)
    with pytest.raises(InvalidTokenError):
        signer.verify(f"{header}.{payload[:-2]}AA.{signature}")


def test_signing_key_is_derived_not_the_audit_key() -> None:
    ring = KeyRing.generate()
    assert signing_key(ring) != ring.audit_key
    assert signing_key(ring) == signing_key(ring)


def test_api_key_parts_and_hash() -> None:
    key = new_api_key()
    parsed = parse_api_key(key.full)
    assert parsed is not None and parsed.key_id == key.key_id
    assert secret_matches(hash_secret(key.full), key.full)
    assert not secret_matches(hash_secret(key.full), key.full + "x")
    assert parse_api_key("Bearer something") is None
    assert key.full not in repr(key)
