import json
import os
import subprocess
import sys
from pathlib import Path

from nextbest.config import Settings
from nextbest.opstore import open_opstore
from nextbest.opstore.vault import PiiVault, VaultRecord
from nextbest.privacy.keys import KeyRing, init_keys


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXTBEST_")}
    env["NEXTBEST_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "nextbest.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_keys_rotate_json(settings: Settings) -> None:
    init_keys(settings)
    store = open_opstore(settings)
    vault = PiiVault(store, KeyRing.load(settings))
    vault.put_many([VaultRecord("ck1", name="张三")], "b1")
    vault.commit_batch("b1")
    store.dispose()

    result = run_cli(settings.home, "keys", "rotate", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["master_version"] == 2 and report["data_keys"] == 1
    ring = KeyRing.load(settings)
    assert ring.master_versions == (1, 2)
    store = open_opstore(settings)
    try:
        assert PiiVault(store, ring).reveal("ck1").name == "张三"
    finally:
        store.dispose()


def test_keys_rotate_without_keys_says_run_init(settings: Settings) -> None:
    result = run_cli(settings.home, "keys", "rotate")
    assert result.returncode == 2
    assert "nextbest init" in result.stderr
