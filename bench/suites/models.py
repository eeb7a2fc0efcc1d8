"""Suite ``models``: churn training-set build, fit, prediction and end-to-end scoring.

The source is an ingested installation: ``$NEXTBEST_BENCH_MODELS_HOME`` if set (e.g. a copy
of a 200,000-customer bank), else ``WORKDIR/ingest-home`` left by the ``ingest`` suite, else
the ``prepare`` stage generates and ingests a 20,000-customer bank. The customer count of
the size (20,000 / 100,000 / 1,000,000) is then reached by **resampling the source's
customers** (with replacement, fixed seed, each copy a new key): every training point and
snapshot row of a drawn customer is copied together, so the matrix has the source's joint
distribution at the target size. When the source is smaller than the size the output says
so (``resampled_from``). Stages, each in its own process:

* ``prepare`` — nothing when the source installation exists.
* ``training_set`` — the churn training set (default spec, history features) built from the
  source warehouse, timed; written to Parquet with the snapshots scoring needs. Measured at
  the **source** size (``rows`` = training rows).
* ``resample`` — the size's training set and scoring snapshots (T, T − 1m, T − 3m), Parquet.
* ``fit`` (baseline) — ``ChurnModel`` fit on the size's training set (goal ≤ 120 s at
  1,000,000 customers); ``rows`` = training rows.
* ``predict`` — prediction only: the fitted model's probabilities for one feature row per
  customer already in memory (goal ≥ 500,000 customers/s); ``rows`` = customers.
* ``score`` — end to end from the stored snapshots: read the three snapshots, derive the
  history features, keep live customers, score, assign bands and write
  ``customer_key, probability, band`` to Parquet; ``rows`` = customers read.

The warehouse query of a snapshot itself is measured by the ``understanding`` suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from bench.harness import Stage
from bench.suites.generate import CUSTOMERS

__all__ = ["stages"]

SEED = 7


def _source(workdir: Path) -> Path:
    env = os.environ.get("NEXTBEST_BENCH_MODELS_HOME")
    return Path(env) if env else workdir / "ingest-home"


def _out(workdir: Path) -> Path:
    return workdir / "models"


def stages(size: str, workdir: Path) -> list[Stage]:
    me = [sys.executable, "-m", "bench.suites.models"]
    src, out = str(_source(workdir)), str(_out(workdir))
    n = str(CUSTOMERS[size])
    return [
        Stage("prepare", [*me, "prepare", "--workdir", str(workdir), "--home", src]),
        Stage("training_set", [*me, "training-set", "--home", src, "--out", out]),
        Stage("resample", [*me, "resample", "--out", out, "--customers", n]),
        Stage("fit", [*me, "fit", "--out", out], baseline=True, compare_to="score"),
        Stage("predict", [*me, "predict", "--out", out]),
        Stage("score", [*me, "score", "--out", out]),
    ]


def prepare(workdir: Path, home: Path) -> dict[str, object]:
    if (home / "warehouse.duckdb").exists():
        return {"prepared": False, "source": str(home)}
    from bench.suites.generate import bank_dir
    from bench.suites.ingest import MAPPING

    env = {**os.environ, "NEXTBEST_HOME": str(home)}
    cli = [sys.executable, "-m", "nextbest.cli"]
    bank = bank_dir(workdir)
    if not (bank / "export").exists():
        subprocess.run([*cli, "generate", "--customers", str(CUSTOMERS["small"]), "--months",
                        "24", "--seed", "1", "--out", str(bank)], check=True, env=env,
                       capture_output=True)  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([*cli, "init"], check=True, env=env, capture_output=True)
    subprocess.run([*cli, "ingest", str(bank / "export"), "--mapping", str(MAPPING)],
                   check=True, env=env, capture_output=True)  # fmt: skip
    return {"prepared": True, "source": str(home)}


def training_set(home: Path, out: Path) -> dict[str, object]:
    from nextbest.config import Settings
    from nextbest.models.training_sets import (
        HISTORY_LAGS,
        ChurnTarget,
        SnapshotFrames,
        build_training_set,
    )
    from nextbest.profile.features import shift_month_end
    from nextbest.services.modelling import churn_spec
    from nextbest.warehouse import open_warehouse

    out.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home)
    with open_warehouse(settings, read_only=True) as wh:
        spec = churn_spec(wh, datetime.now(UTC), timezone=settings.timezone)
        frames = SnapshotFrames(wh, spec.feature_cutoff, spec.timezone)
        started = time.perf_counter()
        ts = build_training_set(wh, spec, ChurnTarget(), feature_frames=frames,
                                history_lags=HISTORY_LAGS)  # fmt: skip
        seconds = time.perf_counter() - started
        # the scoring snapshots: the validation as-of date and its history
        day = spec.validation_as_of
        for lag in (0, *HISTORY_LAGS):
            frames.at(shift_month_end(day, -lag)).to_parquet(out / f"snapshot_{lag}.parquet")
    ts.frame.to_parquet(out / "training.parquet")
    meta = {"features": list(ts.features), "spec": spec.to_dict(), "as_of": str(day)}
    (out / "training.json").write_text(json.dumps(meta))
    customers = int(frames.at(day)["customer_key"].nunique())
    return {"rows": len(ts.frame), "customers": customers, "build_s": round(seconds, 2),
            "points": len(spec.train_as_of) + 1}  # fmt: skip


def _expand(frame, drawn, max_rows: int | None = None):  # type: ignore[no-untyped-def]
    """Each row of ``frame`` once per draw of its customer (new key ``key#draw``).

    With ``max_rows``, only a seeded uniform sample of that many of the expanded rows is
    materialised — the sample :class:`ChurnModel` itself would draw (``sample_rows``).
    """
    import numpy as np

    from nextbest.models.churn import sample_rows

    keys = frame["customer_key"].to_numpy()
    order = np.argsort(drawn, kind="stable")
    sorted_draws = drawn[order]
    uniq, start, copies = np.unique(sorted_draws, return_index=True, return_counts=True)
    pos = np.searchsorted(uniq, keys)
    pos = np.clip(pos, 0, len(uniq) - 1)
    known = uniq[pos] == keys
    rep = np.where(known, copies[pos], 0)
    row = np.repeat(np.arange(len(frame)), rep)
    offset = np.arange(row.size) - np.repeat(np.cumsum(rep) - rep, rep)
    if max_rows is not None:
        keep = sample_rows(row.size, max_rows, SEED)
        row, offset = row[keep], offset[keep]
    draw = order[start[pos[row]] + offset]
    out = frame.iloc[row].reset_index(drop=True)
    out["customer_key"] = out["customer_key"].astype(str) + "#" + draw.astype(str)
    return out


def resample(out: Path, customers: int) -> dict[str, object]:
    import numpy as np
    import pandas as pd

    from nextbest.models.churn import ChurnModel
    from nextbest.models.training_sets import HISTORY_BASE

    base = pd.read_parquet(out / "snapshot_0.parquet", columns=["customer_key"])
    keys = base["customer_key"].to_numpy()
    drawn = keys[np.random.default_rng(SEED).integers(0, len(keys), customers)]
    source = pd.read_parquet(out / "training.parquet")
    train = source[source["role"] == "train"]
    full_rows = int(pd.Series(drawn).map(train["customer_key"].value_counts()).fillna(0).sum())
    # the fit reads what ChurnModel would sample from the full set (memory: the full set of
    # a 1M-customer bank is ~3.4M rows x 180 columns)
    expanded = _expand(train, drawn, ChurnModel().max_rows)
    val = _expand(source[source["role"] == "validation"], drawn, 200_000)
    pd.concat([expanded, val], ignore_index=True).to_parquet(out / "training_n.parquet")
    del source, train, expanded, val
    rows = 0
    for path in sorted(out.glob("snapshot_?.parquet")):
        lag = path.stem != "snapshot_0"
        cols = ["customer_key", "stage", *HISTORY_BASE] if lag else None
        snap = _expand(pd.read_parquet(path, columns=cols), drawn)
        snap.to_parquet(path.with_name(path.stem + "_n.parquet"))
        rows += len(snap)
    return {"rows": rows, "customers": customers, "training_rows_full": full_rows,
            "training_rows_written": min(full_rows, ChurnModel().max_rows or full_rows),
            "resampled_from": len(keys)}  # fmt: skip


def _training(out: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    from nextbest.models.training_sets import TrainingSet, TrainingSpec

    meta = json.loads((out / "training.json").read_text())
    s = meta["spec"]
    spec = TrainingSpec(
        train_as_of=tuple(date.fromisoformat(d) for d in s["train_as_of"]),
        validation_as_of=date.fromisoformat(s["validation_as_of"]),
        horizon_months=s["horizon_months"],
        feature_cutoff=datetime.fromisoformat(s["feature_cutoff"]),
        timezone=s["timezone"],
    )
    frame = pd.read_parquet(out / "training_n.parquet")
    return TrainingSet(frame, tuple(meta["features"]), "churn", spec)


def fit(out: Path) -> dict[str, object]:
    import joblib

    from nextbest.models.churn import ChurnModel

    ts = _training(out)
    _, y = ts.part("train")
    started = time.perf_counter()
    model = ChurnModel(seed=SEED).fit(ts)
    seconds = time.perf_counter() - started
    joblib.dump(model, out / "churn.joblib")
    ev = model.evaluate(ts)  # on up to 200,000 sampled validation rows
    return {"rows": int(y.size), "events": int(y.sum()), "fit_s": round(seconds, 2),
            "validation_auc": round(ev.auc, 4)}  # fmt: skip


def _frames(out: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    from nextbest.models.training_sets import HISTORY_LAGS, SnapshotFrames
    from nextbest.profile.features import shift_month_end

    meta = json.loads((out / "training.json").read_text())
    day = date.fromisoformat(meta["as_of"])

    class Stored(SnapshotFrames):
        def __init__(self) -> None:
            super().__init__(None, datetime.now(UTC), "Asia/Shanghai")  # type: ignore[arg-type]
            for lag in (0, *HISTORY_LAGS):
                path = out / f"snapshot_{lag}_n.parquet"
                self._frames[shift_month_end(day, -lag)] = pd.read_parquet(path)

    return Stored(), day


def predict(out: Path) -> dict[str, object]:
    import joblib

    from nextbest.models.training_sets import HISTORY_LAGS, model_frame

    model = joblib.load(out / "churn.joblib")
    frames, day = _frames(out)
    frame = model_frame(frames, day, HISTORY_LAGS)[list(model.features_)]
    model.predict(frame.head(1000))  # warm-up
    started = time.perf_counter()
    p = model.predict(frame)
    seconds = time.perf_counter() - started
    return {"rows": len(frame), "predict_s": round(seconds, 3),
            "customers_per_s": round(len(frame) / seconds), "mean": float(p.mean())}  # fmt: skip


def score(out: Path) -> dict[str, object]:
    import joblib

    from nextbest.models.training_sets import HISTORY_LAGS, LIVE_STAGES, model_frame

    started = time.perf_counter()
    model = joblib.load(out / "churn.joblib")
    frames, day = _frames(out)
    frame = model_frame(frames, day, HISTORY_LAGS)
    live = frame[frame["stage"].isin(LIVE_STAGES).to_numpy()].reset_index(drop=True)
    scored = model.score(live)
    scored.to_parquet(out / "scores.parquet")
    seconds = time.perf_counter() - started
    return {"rows": len(frame), "scored": len(scored), "score_s": round(seconds, 2),
            "customers_per_s": round(len(frame) / seconds)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--customers", type=int)
    a = parser.parse_args()
    if a.step == "prepare":
        result = prepare(a.workdir, a.home)
    elif a.step == "training-set":
        result = training_set(a.home, a.out)
    elif a.step == "resample":
        result = resample(a.out, a.customers)
    elif a.step == "fit":
        result = fit(a.out)
    elif a.step == "predict":
        result = predict(a.out)
    elif a.step == "score":
        result = score(a.out)
    else:
        raise SystemExit(f"unknown step {a.step!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
