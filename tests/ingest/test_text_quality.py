import pyarrow as pa
import pytest

from nextbest.ingest.text_quality import looks_mis_encoded, mis_encoded

NAMES = ["张三", "李小龙", "欧阳娜娜", "王五", "赵·钱", "司马相如", "阿依古丽·买买提", "陈晨"]


@pytest.mark.parametrize("name", NAMES)
def test_clean_chinese_and_latin_text_passes(name: str) -> None:
    assert not looks_mis_encoded(name)
    assert not looks_mis_encoded("Zhang San")


@pytest.mark.parametrize("name", NAMES)
def test_utf8_read_as_gbk_or_latin1_is_caught(name: str) -> None:
    raw = name.encode("utf-8")
    assert looks_mis_encoded(raw.decode("gbk", errors="replace"))
    assert looks_mis_encoded(raw.decode("latin-1"))


def test_gbk_read_as_utf8_leaves_replacement_characters() -> None:
    garbled = "李小龙".encode("gbk").decode("utf-8", errors="replace")
    assert looks_mis_encoded(garbled)


def test_mask_over_an_array_skips_nulls_and_ascii() -> None:
    values = pa.array(["张三", None, "abc", "张三".encode().decode("gbk", errors="replace")])
    assert mis_encoded(values).tolist() == [False, False, False, True]


def test_garbled_text_written_back_through_gbk_is_still_caught() -> None:
    garbled = "李小龙".encode().decode("gbk", errors="replace")
    round_trip = garbled.encode("gbk", errors="replace").decode("gbk")  # U+FFFD became '?'
    assert "\ufffd" not in round_trip
    assert looks_mis_encoded(round_trip)


def test_lossy_question_mark_inside_chinese_text_is_caught() -> None:
    assert looks_mis_encoded("鐜嬪?╂磥")
    assert not looks_mis_encoded("what?")
