"""Frame-level AUC: rank AUC against sklearn and hand values, micro/macro conventions, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bench.metrics import (
    PAPER_MACRO_CONVENTION,
    frame_auc_macro_padded,
    frame_auc_macro_strict,
    frame_auc_micro,
    frame_auc_per_video,
    frame_auc_report,
    roc_auc,
    roc_curve_points,
)


@pytest.mark.slow
def test_roc_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 300))
        labels = rng.integers(0, 2, n)
        labels[0], labels[1] = 0, 1
        scores = np.round(rng.normal(size=n) + 0.7 * labels, int(rng.integers(0, 3)))  # many ties
        assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)


def test_roc_auc_hand_values():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert roc_auc([0, 1, 0, 1], [5.0, 5.0, 5.0, 5.0]) == 0.5
    # positives 0.5, 0.9; negatives 0.1, 0.5: pairs won 1 + 0.5 (tie) + 1 + 1 = 3.5 of 4
    assert roc_auc([1, 1, 0, 0], [0.5, 0.9, 0.1, 0.5]) == pytest.approx(0.875)
    assert roc_auc(np.array([False, True]), [0.0, 1.0]) == 1.0


def test_roc_auc_errors():
    with pytest.raises(ValueError, match="all 3 labels are normal"):
        roc_auc([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="all 2 labels are abnormal"):
        roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="3 scores for 2 labels"):
        roc_auc([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="0/1"):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="non-finite"):
        roc_auc([0, 1], [0.1, np.nan])


def test_roc_curve_points_ends():
    fpr, tpr = roc_curve_points([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert fpr[0] == 0.0 and tpr[0] == 0.0 and fpr[-1] == 1.0 and tpr[-1] == 1.0
    assert np.trapezoid(tpr, fpr) == pytest.approx(0.75)


def _random_videos(seed: int, one_class: str | None = "b") -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    labels, scores = {}, {}
    for vid in ("c", "a", "b", "d"):
        n = int(rng.integers(20, 60))
        y = (rng.random(n) < 0.4).astype(np.uint8)
        y[:2] = (0, 1)
        if vid == one_class:
            y[:] = 0
        labels[vid], scores[vid] = y, np.round(0.5 * rng.random(n) + 0.5 * y, 2)
    return labels, scores


def test_micro_equals_sklearn_on_sorted_concatenation():
    labels, scores = _random_videos(1)
    order = sorted(labels)
    expected = roc_auc_score(
        np.concatenate([labels[v] for v in order]), np.concatenate([scores[v] for v in order])
    )
    assert frame_auc_micro(labels, scores) == pytest.approx(expected, abs=1e-12)


def test_macro_strict_skips_one_class_video():
    labels, scores = _random_videos(2, one_class="b")
    expected = np.mean([roc_auc_score(labels[v], scores[v]) for v in ("a", "c", "d")])
    assert frame_auc_macro_strict(labels, scores) == pytest.approx(expected, abs=1e-12)
    per_video = frame_auc_per_video(labels, scores)
    assert per_video["b"] is None and list(per_video) == ["a", "b", "c", "d"]
    assert per_video["a"] == pytest.approx(roc_auc_score(labels["a"], scores["a"]))


def test_macro_strict_all_one_class_raises():
    labels = {"a": np.zeros(3), "b": np.ones(2)}
    scores = {"a": np.array([0.1, 0.2, 0.3]), "b": np.array([0.5, 0.6])}
    with pytest.raises(ValueError, match="every video"):
        frame_auc_macro_strict(labels, scores)
    assert frame_auc_micro(labels, scores) == 1.0  # pooled, both classes exist


def test_macro_padded_hand_example():
    # v1 padded: labels [0,0,1,0,1], scores [0,.2,.6,1,1]
    #   positive .6 beats 0 and .2 (2 of 3); pad 1 beats 0, .2 and ties 1.0 (2.5 of 3) -> 4.5/6
    # v2 (all normal) padded: labels [0,0,0,1], scores [0,.5,1,1]
    #   -> pad beats 0, .5, ties 1 -> 2.5/3
    labels = {"v1": np.array([0, 1, 0]), "v2": np.array([0, 0])}
    scores = {"v1": np.array([0.2, 0.6, 1.0]), "v2": np.array([0.5, 1.0])}
    assert frame_auc_macro_padded(labels, scores) == pytest.approx((0.75 + 2.5 / 3) / 2)


def test_macro_padded_normalises_each_video_first():
    # the pads are the extremes of min-max normalised scores, so scaling a video changes nothing
    labels = {"v1": np.array([0, 1, 0]), "v2": np.array([0, 0])}
    scores = {"v1": np.array([0.2, 0.6, 1.0]) * 7 - 3, "v2": np.array([0.5, 1.0]) + 40}
    assert frame_auc_macro_padded(labels, scores) == pytest.approx((0.75 + 2.5 / 3) / 2)


def test_report_keys_and_convention():
    labels, scores = _random_videos(3, one_class="d")
    report = frame_auc_report(labels, scores)
    assert PAPER_MACRO_CONVENTION == "padded"
    assert report["auc_macro"] == report["auc_macro_padded"]
    assert report["auc_macro_strict"] == pytest.approx(frame_auc_macro_strict(labels, scores))
    assert report["frames"] == sum(len(v) for v in labels.values())
    assert report["videos"] == 4 and report["one_class_videos"] == ["d"]


def test_length_mismatch_names_video_and_lengths():
    labels, scores = _random_videos(4)
    scores["c"] = scores["c"][:-1]
    n = len(labels["c"])
    with pytest.raises(ValueError, match=rf"video c: {n - 1} scores for {n} labelled frames"):
        frame_auc_micro(labels, scores)


def test_missing_and_extra_videos():
    labels, scores = _random_videos(5)
    del scores["a"]
    scores["zz"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"no scores for \['a'\].*without labels for \['zz'\]"):
        frame_auc_macro_strict(labels, scores)


def test_nan_score_names_video():
    labels, scores = _random_videos(6)
    scores["d"] = scores["d"].copy()
    scores["d"][3] = np.inf
    with pytest.raises(ValueError, match="video d: 1 non-finite"):
        frame_auc_report(labels, scores)


def test_micro_one_class_only_raises():
    with pytest.raises(ValueError, match="undefined"):
        frame_auc_micro(
            {"a": np.zeros(4), "b": np.zeros(2)}, {"a": np.arange(4.0), "b": np.zeros(2)}
        )
