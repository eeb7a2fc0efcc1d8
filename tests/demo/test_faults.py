from datetime import datetime

import pyarrow.compute as pc
import pyarrow.parquet as pq

from nextbest.demo.world import GenerationSummary
from nextbest.demo.world.faults import EXPECTED_RULE, mojibake
from nextbest.demo.world.reference import FEMALE_CHARS, MALE_CHARS, NEUTRAL_CHARS, SURNAMES
from nextbest.domain.identity import mobile_problem, resident_id_problem
from nextbest.ingest.mapping import RULES

_NAME_CHARS = set(MALE_CHARS + FEMALE_CHARS + NEUTRAL_CHARS + "".join(s for s, _ in SURNAMES))


def _parses(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def test_manifest_points_at_every_fault(faulty_bank: GenerationSummary) -> None:
    out = faulty_bank.out
    manifest = pq.read_table(out / "faults.parquet").to_pylist()
    assert 0.03 * faulty_bank.customers < len(manifest) < 0.08 * faulty_bank.customers
    assert {m["fault_type"] for m in manifest} == set(EXPECTED_RULE)
    assert {m["expected_rule"] for m in manifest} <= set(RULES) | {"encoding"}
    files = {m["file"] for m in manifest}
    rows = {f: pq.read_table(out / "export" / f).to_pylist() for f in files}
    accounts = set(pq.read_table(out / "export" / "ZHXX_0001.parquet")["ZH"].to_pylist())
    for m in manifest:
        row = rows[m["file"]][m["source_row"] - 1]  # Parquet rows count from 1
        key = row["LSH"] if m["file"].startswith("JYLS") else row["KHH"]
        assert key == m["source_key"], m
        fault = m["fault_type"]
        if fault == "bad_id_checksum":
            assert "check character" in (resident_id_problem(row["ZJHM"]) or "")
        elif fault == "impossible_age":
            assert "birth date" in (resident_id_problem(row["ZJHM"]) or "")
            assert row["ZJHM"][6:14] == row["CSRQ"]
        elif fault == "unknown_code":
            assert row.get("XB") == "5" or row.get("QDDM") == "88"
        elif fault == "malformed_date":
            value = row.get("JYSJ") or row["CSRQ"]
            assert not _parses(value, "%Y%m%d%H%M%S" if "JYSJ" in row else "%Y%m%d")
        elif fault == "encoding":
            assert not set(row["KHMC"]) <= _NAME_CHARS
        elif fault == "orphan_transaction":
            assert row["ZH"] not in accounts
        else:  # duplicates: the same resident ID under a new customer number, later in the file
            assert row["KHH"].startswith("9")
            originals = [
                r
                for r in rows[m["file"]][: m["source_row"] - 1]
                if r["ZJHM"] == row["ZJHM"] and r["KHH"] != row["KHH"]
            ]
            assert len(originals) == 1
            first = originals[0]
            differing = {k for k in row if row[k] != first[k]}
            if fault == "exact_duplicate":
                assert differing == {"KHH"}
            else:
                assert differing - {"KHH"} in ({"KHMC"}, {"SJHM"})
                assert mobile_problem(row["SJHM"]) is None


def test_rows_outside_the_manifest_are_clean(faulty_bank: GenerationSummary) -> None:
    out = faulty_bank.out
    manifest = pq.read_table(out / "faults.parquet")
    faulty = set(
        manifest.filter(pc.starts_with(manifest["file"], "KHXX"))["source_row"].to_pylist()
    )
    customers = pq.read_table(out / "export" / "KHXX_0001.parquet").to_pylist()
    clean = [r for i, r in enumerate(customers, start=1) if i not in faulty]
    assert len(clean) > 0.9 * faulty_bank.customers
    for r in clean:
        if r["ZJLX"] == "01":
            assert resident_id_problem(r["ZJHM"]) is None
        assert r["XB"] in {"1", "2"}
        assert _parses(r["CSRQ"], "%Y%m%d")
        assert set(r["KHMC"]) <= _NAME_CHARS
        assert mobile_problem(r["SJHM"]) is None


def test_mojibake_is_utf8_read_as_gbk() -> None:
    assert mojibake("张伟") != "张伟"
    assert mojibake("张伟").encode("gbk", errors="replace").startswith("张".encode())
