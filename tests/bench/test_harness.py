import sys
from pathlib import Path

from bench.harness import StageResult, run_stage
from bench.suites import generate as generate_suite


def test_run_stage_measures_a_child_process() -> None:
    code = "import json; b = bytearray(60 * 2**20); print('noise'); print(json.dumps({'rows': 7}))"
    result = run_stage("child", [sys.executable, "-c", code])
    assert result.returncode == 0
    assert result.rows == 7
    assert result.peak_mb >= 60
    assert result.tree_peak_mb >= result.peak_mb * 0.5
    assert result.seconds > 0


def test_failing_stage_reports_its_exit_code() -> None:
    result = run_stage("fails", [sys.executable, "-c", "import sys; sys.exit(3)"])
    assert result.returncode == 3


def test_generate_suite_sizes_the_baseline_after_the_generator(tmp_path: Path) -> None:
    stages = generate_suite.stages("small", tmp_path)
    assert [s.name for s in stages] == ["generate", "plain_write"]
    assert stages[1].baseline and stages[1].compare_to == "generate"
    done = {"generate": StageResult("generate", 1.0, 1.0, 1.0, 0, {"rows": {"A": 3, "B": 4}})}
    argv = stages[1].argv(done) if callable(stages[1].argv) else stages[1].argv
    assert argv[argv.index("--rows") + 1] == "7"
    out = generate_suite.plain_write(5000, tmp_path / "plain.parquet", chunk=2000)
    assert out["rows"] == 5000
    import pyarrow.parquet as pq

    assert pq.read_metadata(tmp_path / "plain.parquet").num_rows == 5000


def test_stages_option_runs_only_the_named_stages(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import types

    import pytest

    from bench.harness import Stage, run_suite

    def stages(size: str, workdir: Path) -> list[Stage]:
        say = [sys.executable, "-c"]
        return [Stage(n, [*say, f"print('{{\"rows\": {i}}}')"]) for i, n in enumerate("abc")]

    monkeypatch.setitem(sys.modules, "bench.suites.fake", types.SimpleNamespace(stages=stages))
    assert [r.name for r in run_suite("fake", "small", tmp_path, {"b"})] == ["b"]
    assert [r.rows for r in run_suite("fake", "small", tmp_path)] == [0, 1, 2]
    with pytest.raises(SystemExit, match="none of the stages"):
        run_suite("fake", "small", tmp_path, {"nope"})


def test_a_failing_stage_still_shows_the_stages_measured_before(
    tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    import types

    import pytest

    from bench.harness import Stage, run_suite

    def stages(size: str, workdir: Path) -> list[Stage]:
        return [
            Stage("first", [sys.executable, "-c", "print('{\"rows\": 7}')"]),
            Stage("broken", [sys.executable, "-c", "raise SystemExit(3)"]),
            Stage("never", [sys.executable, "-c", "print('{}')"]),
        ]

    monkeypatch.setitem(sys.modules, "bench.suites.fake", types.SimpleNamespace(stages=stages))
    with pytest.raises(SystemExit, match="fake/broken failed with exit code 3"):
        run_suite("fake", "small", tmp_path)
    shown = capsys.readouterr().out
    assert "first" in shown and "never" not in shown


def test_a_stage_reporting_failure_gets_no_ratio(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import types

    from bench.harness import Stage, run_suite

    def stages(size: str, workdir: Path) -> list[Stage]:
        say = [sys.executable, "-c"]
        return [
            Stage("ours", [*say, "print('{}')"]),
            Stage("other", [*say, "print('{\"failed\": \"out of memory\"}')"], baseline=True,
                  compare_to="ours"),
        ]  # fmt: skip

    monkeypatch.setitem(sys.modules, "bench.suites.fake", types.SimpleNamespace(stages=stages))
    results = run_suite("fake", "small", tmp_path)
    assert [r.failed for r in results] == [None, "out of memory"]
    shown = capsys.readouterr().out
    assert "failed: out of memory" in shown and "x other" not in shown


def test_repeat_interleaves_rounds_and_reports_the_median(
    tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    import types

    from bench.harness import Stage, run_suite

    log = tmp_path / "order.txt"
    # stage "slow" sleeps 0.0, 0.4, 0.2 s in its three rounds: median 0.2
    script = (
        "import pathlib, sys, time; p = pathlib.Path(sys.argv[1]); p.open('a').write(sys.argv[2]);"
        "n = p.read_text().count(sys.argv[2]); time.sleep([0.0, 0.4, 0.2][n - 1]"
        " if sys.argv[2] == 's' else 0); print('{}')"
    )

    def stages(size: str, workdir: Path) -> list[Stage]:
        return [
            Stage("slow", [sys.executable, "-c", script, str(log), "s"]),
            Stage("base", [sys.executable, "-c", script, str(log), "b"], baseline=True,
                  compare_to="slow"),
        ]  # fmt: skip

    monkeypatch.setitem(sys.modules, "bench.suites.fake", types.SimpleNamespace(stages=stages))
    slow, base = run_suite("fake", "small", tmp_path, repeat=3)
    assert log.read_text() == "sbsbsb"  # interleaved rounds
    assert len(slow.rounds) == 3 and slow.seconds == sorted(slow.rounds)[1]
    assert sorted(slow.rounds)[0] < 0.4 <= sorted(slow.rounds)[2]
    assert slow.seconds >= 0.2 and len(base.rounds) == 3
    assert "–" in capsys.readouterr().out  # the range is shown
