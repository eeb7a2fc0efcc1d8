from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nextbest.ingest.mapping import MappingError, load_mapping, parse_mapping

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"


def _base() -> dict:
    return {
        "name": "t",
        "source_system": "core",
        "files": [
            {
                "name": "clients",
                "path": "c.csv",
                "format": "csv",
                "target": "customer",
                "columns": {
                    "customer_key": {"source": "id", "pseudonymise": "customer"},
                    "onboarding_date": {"source": "since", "format": "yyyyMMdd"},
                    "gender": {"source": "sex", "codes": {1: "M", 2: "F"}},
                },
            }
        ],
    }


def test_valid_mapping_and_defaults() -> None:
    m = parse_mapping(_base())
    spec = m.files[0].columns["gender"]
    assert spec.codes == {"1": "M", "2": "F"}
    assert m.outcome("range") == "flag"
    assert m.outcome("erased") == "reject"
    assert m.files[0].source_columns == {"id", "since", "sex"}


def test_shorthand_column_is_a_source() -> None:
    data = _base()
    data["files"][0]["columns"]["home_branch"] = "branch"
    assert parse_mapping(data).files[0].columns["home_branch"].source == "branch"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["files"][0].update(format="xml"), "files[0].format"),
        (lambda d: d["files"][0].update(extra=1), "files[0].extra"),
        (lambda d: d["files"][0]["columns"].update(nope="x"), "has no column 'nope'"),
        (lambda d: d["files"][0]["columns"].pop("onboarding_date"), "'onboarding_date'"),
        (lambda d: d.update(rules={"range": "match"}), "rules: rule 'range' cannot"),
        (lambda d: d.update(rules={"erased": "flag"}), "rules: unknown or fixed rule"),
        (
            lambda d: d["files"][0]["columns"].update(city={"source": "a", "constant": "b"}),
            "files[0].columns.city: give exactly one",
        ),
        (
            lambda d: d["files"][0]["columns"].update(customer_key={"source": "id"}),
            "must say pseudonymise",
        ),
        (lambda d: d["files"][0].update(delimiter=";;"), "files[0].delimiter"),
        (lambda d: d["files"][0].update(encoding="ebcdic"), "files[0].encoding"),
        (lambda d: d["files"][0].update(target="nope"), "files[0].target"),
    ],
)
def test_errors_name_the_yaml_path(change, expected: str) -> None:
    data = _base()
    change(data)
    with pytest.raises(MappingError) as info:
        parse_mapping(data, "m.yaml")
    assert expected in str(info.value)
    assert "m.yaml" in str(info.value)


def test_load_mapping_checksum(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(_base()), encoding="utf-8")
    m, checksum = load_mapping(path)
    assert m.name == "t"
    assert len(checksum) == 64


def test_worked_example_in_docs_is_a_valid_mapping() -> None:
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("The mapping:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    m = parse_mapping(yaml.safe_load(block), "docs/mapping.md")
    assert m.link("account_owner").where == {"type": "OWNER"}
    assert [f.target for f in m.files] == ["customer", "account", "transaction"]


def test_unknown_canonical_code_is_a_mapping_error() -> None:
    data = _base()
    data["files"][0]["columns"]["gender"]["codes"] = {1: "male", 2: "F"}
    with pytest.raises(MappingError) as info:
        parse_mapping(data, "m.yaml")
    assert "files[0] (clients).columns.gender.codes.1: unknown code 'male'" in str(info.value)
