from __future__ import annotations

import pytest

from nextbest.security.passwords import (
    WeakPasswordError,
    check_password_rule,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_hash_verifies_only_the_same_password() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterz")
    assert not needs_rehash(hashed)
    assert hash_password("correct horse battery") != hashed  # salted


def test_missing_or_garbage_hash_never_verifies() -> None:
    assert not verify_password(None, "anything at all")
    assert not verify_password("not-a-hash", "anything at all")


@pytest.mark.parametrize(
    ("password", "field_text"),
    [("short", "at least 12"), ("xx-zhangsan-xx", "user name"), ("aaaaaaaaaaaaaab", "5 different")],
)
def test_password_rule_names_the_problem(password: str, field_text: str) -> None:
    with pytest.raises(WeakPasswordError, match=field_text):
        check_password_rule(password, "zhangsan")


def test_generated_passwords_pass_the_rule() -> None:
    password = generate_password()
    check_password_rule(password, "demo")
    assert len(password) == 20
