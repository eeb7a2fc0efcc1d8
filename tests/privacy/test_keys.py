import base64
import json
import stat
from pathlib import Path

import pytest

from nextbest.config import Settings
from nextbest.errors import NextbestError
from nextbest.privacy.keys import KEY_FILE_FORMAT, KeyRing, KeyRingError, init_keys


def test_init_keys_creates_private_file_once(settings: Settings) -> None:
    path = init_keys(settings)
    assert path == settings.key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (path.parent / ".gitignore").read_text() == "*\n"
    before = path.read_bytes()
    assert init_keys(settings) == path
    assert path.read_bytes() == before  # idempotent: never overwritten

    document = json.loads(before)
    assert document["format"] == KEY_FILE_FORMAT
    secrets = [
        document["master_keys"]["1"],
        document["pseudonym_key"],
        document["blind_index_key"],
        document["audit_key"],
    ]
    assert len(set(secrets)) == 4  # four independent secrets
    assert all(len(base64.b64decode(s)) == 32 for s in secrets)


def test_load_roundtrip_and_repr_hides_secrets(settings: Settings) -> None:
    init_keys(settings)
    ring = KeyRing.load(settings)
    again = KeyRing.load(settings)
    assert ring.pseudonym_key == again.pseudonym_key
    assert ring.current_master_version == 1
    assert ring.source == settings.key_file
    assert base64.b64encode(ring.pseudonym_key).decode() not in repr(ring)


def test_missing_keys_tell_the_user_to_run_init(settings: Settings) -> None:
    with pytest.raises(NextbestError, match="nextbest init"):
        KeyRing.load(settings)


def test_damaged_key_file_is_reported_with_its_path(settings: Settings) -> None:
    settings.key_file.parent.mkdir(parents=True)
    settings.key_file.write_text("{not json")
    with pytest.raises(KeyRingError, match=str(settings.key_file)):
        KeyRing.load(settings)
    with pytest.raises(KeyRingError, match="not valid JSON"):
        init_keys(settings)
    settings.key_file.write_text(json.dumps({"format": KEY_FILE_FORMAT, "master_keys": {}}))
    with pytest.raises(KeyRingError, match="master_keys"):
        KeyRing.load(settings)


def test_env_single_secret_derives_distinct_keys(tmp_path: Path) -> None:
    secret = base64.b64encode(bytes(range(32))).decode()
    ring = KeyRing.load(Settings(home=tmp_path, master_key=secret))
    again = KeyRing.from_env_value(secret)
    keys = {ring.current_master_key, ring.pseudonym_key, ring.blind_index_key, ring.audit_key}
    assert len(keys) == 4
    assert ring.pseudonym_key == again.pseudonym_key
    assert ring.source is None
    assert not (tmp_path / "keys").exists()  # the env form never touches the disk
    with pytest.raises(KeyRingError, match="NEXTBEST_MASTER_KEY"):
        ring.add_master_version()


def test_env_document_form_equals_the_file(settings: Settings) -> None:
    init_keys(settings)
    value = base64.b64encode(settings.key_file.read_bytes()).decode()
    from_env = KeyRing.from_env_value(value)
    from_file = KeyRing.load(settings)
    assert from_env.audit_key == from_file.audit_key
    assert from_env.master_versions == from_file.master_versions


@pytest.mark.parametrize("value", ["%%%", base64.b64encode(b"short").decode()])
def test_bad_env_value_is_rejected(value: str) -> None:
    with pytest.raises(KeyRingError, match="NEXTBEST_MASTER_KEY"):
        KeyRing.from_env_value(value)


def test_add_master_version_keeps_old_versions_and_saves(settings: Settings) -> None:
    init_keys(settings)
    ring = KeyRing.load(settings)
    first = ring.current_master_key
    assert ring.add_master_version() == 2
    reloaded = KeyRing.load(settings)
    assert reloaded.master_versions == (1, 2)
    assert reloaded.current_master_version == 2
    assert reloaded.master_key(1) == first
    assert stat.S_IMODE(settings.key_file.stat().st_mode) == 0o600
    with pytest.raises(KeyRingError, match="version 7"):
        reloaded.master_key(7)
