import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nextbest.cli", *args], capture_output=True, text=True, check=False
    )


def test_version_and_help() -> None:
    from nextbest import __version__

    assert run_cli("version").stdout.strip() == __version__
    assert "Usage" in run_cli("--help").stdout


def test_unknown_command_fails_with_usage_error() -> None:
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "no-such-command" in result.stderr
