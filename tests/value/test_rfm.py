import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.value.errors import ValueInputError
from nextbest.value.rfm import (
    GRID_TABLE,
    RfmScores,
    RfmSegment,
    ValueMatrixSegment,
    grid_segments,
    quantile_scores,
    rfm_scores,
    score_rfm,
    value_matrix_segments,
)


def test_quintiles_have_equal_sizes_and_follow_the_values() -> None:
    values = np.arange(10, dtype=float)[::-1]
    keys = np.arange(10)
    scores = quantile_scores(values, keys)
    assert scores.tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_recency_scores_recent_customers_highest() -> None:
    days = np.array([1.0, 400.0, 30.0, 90.0, 200.0])
    scores = quantile_scores(days, np.arange(5), higher_is_better=False)
    assert scores.tolist() == [5, 1, 4, 3, 2]


def test_ties_are_broken_by_customer_key_whatever_the_row_order() -> None:
    values = np.zeros(5)
    keys = np.array(["c", "a", "e", "b", "d"])
    scores = quantile_scores(values, keys)
    # a < b < c < d < e take ranks 0..4, so scores 1..5 in key order.
    assert dict(zip(keys, scores.tolist(), strict=True)) == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    permutation = np.array([4, 2, 0, 1, 3])
    again = quantile_scores(values[permutation], keys[permutation])
    assert dict(zip(keys[permutation], again.tolist(), strict=True)) == {
        "a": 1, "b": 2, "c": 3, "d": 4, "e": 5
    }  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 20), min_size=1, max_size=200),
    st.integers(2, 9),
)
def test_scores_are_monotone_and_balanced(raw: list[int], bins: int) -> None:
    values = np.array(raw, dtype=float)
    keys = np.arange(len(values))[::-1]
    scores = quantile_scores(values, keys, bins=bins)
    assert scores.min() >= 1 and scores.max() <= bins
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(scores[order][np.diff(values[order], prepend=-1) > 0]) >= 0)
    # A larger value never scores lower.
    for i in range(len(values)):
        assert np.all(scores[values > values[i]] >= scores[i])
    counts = np.bincount(scores, minlength=bins + 1)[1:]
    if len(values) >= bins:
        assert counts.max() - counts.min() <= 1


def test_grid_table_covers_every_cell_with_a_known_segment() -> None:
    assert len(GRID_TABLE) == 5 and all(len(row) == 5 for row in GRID_TABLE)
    used = {segment for row in GRID_TABLE for segment in row}
    assert used == set(RfmSegment)


def _scores(r: list[int], f: list[int], m: list[int]) -> RfmScores:
    return RfmScores(np.array(r), np.array(f), np.array(m))


def test_grid_segments_of_corner_cells() -> None:
    scores = _scores([5, 1, 1, 5, 1, 3], [5, 1, 5, 1, 2, 3], [5, 1, 5, 1, 2, 3])
    assert grid_segments(scores).tolist() == [
        "champions",
        "lost",
        "cannot_lose",
        "new",
        "hibernating",
        "need_attention",
    ]


def test_grid_segments_reject_non_quintile_scores() -> None:
    with pytest.raises(ValueInputError, match="quintile"):
        grid_segments(_scores([7], [1], [1]))


def test_value_matrix_uses_high_above_mean() -> None:
    # Mean of each score is 3; > 3 is high.
    scores = _scores(
        [5, 5, 1, 1, 5, 5, 1, 1, 3], [5, 1, 5, 1, 5, 1, 5, 1, 3], [5, 5, 5, 5, 1, 1, 1, 1, 3]
    )
    assert value_matrix_segments(scores).tolist() == [
        "important_value",
        "important_develop",
        "important_retain",
        "important_win_back",
        "general_value",
        "general_develop",
        "general_retain",
        "general_win_back",
        "general_win_back",
    ]
    assert ValueMatrixSegment.IMPORTANT_VALUE.zh == "重要价值客户"
    assert ValueMatrixSegment.IMPORTANT_WIN_BACK.zh == "重要挽留客户"


def _customers() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 500
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in rng.permutation(n)],
            "recency_days": rng.integers(0, 365, n),
            "frequency": rng.poisson(3, n),
            "monetary": rng.gamma(2.0, 500.0, n).round(2),
        }
    )


def test_score_rfm_frame_output() -> None:
    frame = _customers()
    out = score_rfm(frame)
    assert list(out.columns) == [
        "customer_id",
        "r_score",
        "f_score",
        "m_score",
        "rfm_cell",
        "rfm_score",
        "segment",
        "segment_en",
        "segment_zh",
        "value_segment",
        "value_segment_en",
        "value_segment_zh",
    ]
    assert out.index.equals(frame.index)
    assert (out["r_score"].value_counts() == 100).all()
    first = out.iloc[0]
    assert first["rfm_cell"] == f"{first.r_score}{first.f_score}{first.m_score}"
    assert first["rfm_score"] == first.r_score + first.f_score + first.m_score
    assert set(out["segment_zh"]) <= {s.zh for s in RfmSegment}
    assert set(out["value_segment"]) == {s.value for s in ValueMatrixSegment}
    # Reordering rows does not change anybody's scores.
    shuffled = score_rfm(frame.sample(frac=1.0, random_state=3)).sort_index()
    pd.testing.assert_frame_equal(shuffled, out)
    # Champions are recent, frequent, big spenders.
    champions = out[out["segment"] == "champions"]
    assert (champions["r_score"] == 5).all() and (champions["rfm_score"] >= 12).all()


def test_score_rfm_with_other_bins_has_no_grid_segment() -> None:
    out = score_rfm(_customers(), bins=4)
    assert out["r_score"].max() == 4
    assert "segment" not in out.columns and "value_segment" in out.columns


def test_score_rfm_rejects_missing_column() -> None:
    with pytest.raises(ValueInputError, match=r"missing required column\(s\) \['monetary'\]"):
        score_rfm(_customers().drop(columns="monetary"))


def test_score_rfm_rejects_duplicate_keys() -> None:
    frame = _customers()
    frame.loc[3, "customer_id"] = frame.loc[1, "customer_id"]
    with pytest.raises(ValueInputError, match=r"'customer_id' must be unique.*rows \[1, 3\]"):
        score_rfm(frame)


def test_score_rfm_rejects_negative_recency_and_nan() -> None:
    frame = _customers()
    frame.loc[2, "recency_days"] = -1
    with pytest.raises(ValueInputError, match="'recency_days' in row 2"):
        score_rfm(frame)
    frame = _customers().astype({"monetary": float})
    frame.loc[4, "monetary"] = np.nan
    with pytest.raises(ValueInputError, match="'monetary' in row 4"):
        score_rfm(frame)


def test_rfm_scores_rejects_length_mismatch() -> None:
    with pytest.raises(ValueInputError, match="differ in length"):
        rfm_scores(np.arange(3), np.zeros(3), np.zeros(2), np.zeros(3))
