import re

import pytest

from nextbest.privacy.crypto import (
    DecryptionError,
    WrappedKey,
    blind_index,
    decrypt,
    encrypt,
    keyed_token,
    new_data_key,
    normalise_for_index,
    unwrap_data_key,
    wrap_data_key,
)
from nextbest.privacy.keys import KeyRing


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.from_secret(b"k" * 32)


def test_envelope_roundtrip(ring: KeyRing) -> None:
    data_key = new_data_key()
    wrapped = wrap_data_key(ring, "cust-a", data_key)
    assert wrapped.master_version == 1
    assert data_key not in wrapped.wrapped
    assert unwrap_data_key(ring, "cust-a", wrapped) == data_key
    blob = encrypt(data_key, "cust-a", "张三".encode())
    assert decrypt(data_key, "cust-a", blob).decode() == "张三"
    assert encrypt(data_key, "cust-a", b"x") != encrypt(data_key, "cust-a", b"x")  # fresh nonce


def test_blobs_and_keys_are_bound_to_their_customer(ring: KeyRing) -> None:
    data_key = new_data_key()
    blob = encrypt(data_key, "cust-a", b"secret")
    with pytest.raises(DecryptionError, match="cust-b"):
        decrypt(data_key, "cust-b", blob)
    wrapped = wrap_data_key(ring, "cust-a", data_key)
    with pytest.raises(DecryptionError, match="cust-b"):
        unwrap_data_key(ring, "cust-b", wrapped)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError):
        decrypt(data_key, "cust-a", tampered)
    with pytest.raises(DecryptionError):
        unwrap_data_key(ring, "cust-a", WrappedKey(1, wrapped.wrapped[:-1] + b"\0"))


def test_wrong_master_key_fails(ring: KeyRing) -> None:
    other = KeyRing.from_secret(b"o" * 32)
    wrapped = wrap_data_key(ring, "c", new_data_key())
    with pytest.raises(DecryptionError):
        unwrap_data_key(other, "c", wrapped)


def test_blind_index_normalises_and_is_keyed(ring: KeyRing) -> None:
    token = blind_index(ring, "mobile", "13812341234")
    for spelling in ["+86 138-1234-1234", "8613812341234", "0086 13812341234", " 138 1234 1234 "]:
        assert blind_index(ring, "mobile", spelling) == token
    assert blind_index(ring, "id_number", "11010119900307123x") == blind_index(
        ring, "id_number", "11010119900307123X"
    )
    # the kind is part of the message: the same text under two kinds differs
    assert blind_index(ring, "id_number", "13812341234") != token
    assert blind_index(KeyRing.from_secret(b"o" * 32), "mobile", "13812341234") != token
    assert re.fullmatch(r"[a-p]{32}", token)


def test_normalise_for_index() -> None:
    assert normalise_for_index("mobile", "+86 (138) 1234-1234") == "13812341234"
    assert normalise_for_index("email", " ZS@Example.COM ") == "zs@example.com"
    with pytest.raises(ValueError, match="kind"):
        normalise_for_index("passport", "x")  # type: ignore[arg-type]


def test_keyed_token_has_no_digits() -> None:
    tokens = {keyed_token(b"k" * 32, str(i).encode()) for i in range(2000)}
    assert len(tokens) == 2000
    assert not any(re.search(r"\d", t) for t in tokens)
