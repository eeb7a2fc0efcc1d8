import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.privacy.masking import (
    mask_array,
    mask_email,
    mask_id_number,
    mask_mobile,
    mask_name,
    mask_value,
)


def test_documented_examples() -> None:
    assert mask_name("张小三") == "张*三"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_name("张") == "*"
    assert mask_name("") == ""
    assert mask_mobile("13812341234") == "138****1234"
    assert mask_mobile("+8613812341234") == "138****1234"
    assert mask_mobile("86 138-1234-1234") == "138****1234"
    assert mask_id_number("110101199003071234") == "110***********1234"
    assert mask_id_number("11010119900307123x") == "110***********123X"
    assert mask_id_number("E1234") == "*****"  # too short to show any part
    assert mask_email("zhangsan@example.com") == "z*******@example.com"
    assert mask_email("a@b.cn") == "a@b.cn"
    assert mask_email("x@y@example.com") == "x**@example.com"
    assert mask_email("no-at-sign") == "n*********"


def test_mask_value_and_unknown_kind() -> None:
    assert mask_value("name", None) is None
    assert mask_value("mobile", "13812341234") == "138****1234"
    with pytest.raises(ValueError, match="unknown mask kind"):
        mask_value("address", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown mask kind"):
        mask_array("address", pa.array(["x"]))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("name", ["张小三", "张三", "张", "", None, "欧阳小明"]),
        ("mobile", ["13812341234", "+86 13812341234", "123", None, "8613812341234"]),
        ("id_number", ["110101199003071234", "11010119900307123x", "E1234", None]),
        ("email", ["zhangsan@example.com", "@x.cn", "plain", "", None, "a@b@c"]),
    ],
)
def test_array_equals_scalar(kind: str, values: list[str | None]) -> None:
    out = mask_array(kind, pa.array(values, pa.string()))  # type: ignore[arg-type]
    assert out.type == pa.string()
    assert out.to_pylist() == [mask_value(kind, v) for v in values]  # type: ignore[arg-type]


_TEXT = st.text(alphabet="0123456789xX+-() @.张小三欧阳abcZ\n", max_size=24)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    st.sampled_from(["name", "mobile", "id_number", "email"]),
    st.lists(st.one_of(st.none(), _TEXT), max_size=20),
)
def test_array_equals_scalar_property(kind: str, values: list[str | None]) -> None:
    chunked = pa.chunked_array([pa.array(values, pa.string())])
    out = mask_array(kind, chunked)  # type: ignore[arg-type]
    assert out.to_pylist() == [mask_value(kind, v) for v in values]  # type: ignore[arg-type]


def test_masked_values_keep_no_seven_digit_runs() -> None:
    import re

    values = pa.array(["13812341234", "110101199003071234", "+8613900001111"])
    for kind in ("mobile", "id_number"):
        for masked in mask_array(kind, values).to_pylist():  # type: ignore[arg-type]
            assert not re.search(r"\d{7}", masked)
