"""RBDC/TBDC: hand-computed cases and a check against a plain-loop port of AED's algorithm."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import box_iou, closed_curve_area, rbdc_tbdc


def tracks_of(*rows: tuple) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


regions_of = tracks_of

# Two simultaneous tracks in frames 0 and 1 of video "v".
TWO_TRACKS = {
    "v": tracks_of(
        (0, 0, 0, 0, 10, 10), (0, 1, 0, 0, 10, 10), (1, 0, 20, 0, 30, 10), (1, 1, 20, 0, 30, 10)
    )
}
# p1 hits track 0 in frame 0 only, p2 is a false positive, p3 hits track 1 in frame 1 only.
THREE_PREDS = {
    "v": regions_of((0, 0, 0, 10, 10, 0.9), (1, 50, 50, 60, 60, 0.8), (1, 20, 0, 30, 10, 0.7))
}


def test_curve_points_by_hand():
    out = rbdc_tbdc(THREE_PREDS, TWO_TRACKS, num_frames=10, alpha=0.5, iou_mode="exact")
    assert np.array_equal(out["thresholds"], [np.inf, 0.9, 0.8, 0.7])
    assert np.allclose(out["fpr"], [0, 0, 0.1, 0.1])
    assert np.allclose(out["rbdr"], [0, 0.25, 0.25, 0.5])
    assert np.allclose(out["tbdr"], [0, 0.5, 0.5, 1.0])
    # RBDC: 0.1 * 0.25 + 0.9 * 0.5 (held to FPR 1); TBDC: 0.1 * 0.5 + 0.9 * 1
    assert out["rbdc"] == pytest.approx(0.475)
    assert out["tbdc"] == pytest.approx(0.95)
    assert (out["num_gt_regions"], out["num_tracks"], out["num_regions"], out["num_frames"]) == (
        4,
        2,
        3,
        10,
    )


def test_track_needs_alpha_of_its_regions():
    # each track has 1 of its 2 regions detected: 1/2 < 0.6 -> no track is ever detected
    out = rbdc_tbdc(THREE_PREDS, TWO_TRACKS, num_frames=10, alpha=0.6, iou_mode="exact")
    assert out["tbdc"] == 0.0 and out["rbdc"] == pytest.approx(0.475)


def test_alpha_uses_float_division_like_aed():
    # 3 of 30 regions: 3 / 30 >= 0.1 holds although 0.1 * 30 > 3 in floating point
    tracks = {"v": tracks_of(*[(0, f, 0, 0, 10, 10) for f in range(30)])}
    regions = {"v": regions_of(*[(f, 0, 0, 10, 10, 1.0) for f in range(3)])}
    out = rbdc_tbdc(regions, tracks, num_frames=30, alpha=0.1)
    assert out["tbdc"] == 1.0 and out["rbdc"] == pytest.approx(0.1)


def test_one_prediction_can_detect_two_gt_regions():
    tracks = {"v": tracks_of((0, 0, 0, 0, 10, 10), (1, 0, 10, 0, 20, 10))}
    regions = {"v": regions_of((0, 0, 0, 20, 10, 0.5))}  # IoU 0.5 with each
    out = rbdc_tbdc(regions, tracks, num_frames=5, iou_mode="exact")
    assert out["rbdc"] == 1.0 and out["tbdc"] == 1.0


def test_false_positive_lowers_the_curve():
    tracks = {"v": tracks_of((0, 2, 0, 0, 10, 10))}
    hit = (2, 0, 0, 10, 10, 0.5)
    assert rbdc_tbdc({"v": regions_of(hit)}, tracks, num_frames=4)["rbdc"] == 1.0
    # FP first: (0,0) -> (0.25,0) -> (0.25,1) -> held to (1,1): area 0.75
    out = rbdc_tbdc({"v": regions_of((1, 0, 0, 10, 10, 0.9), hit)}, tracks, num_frames=4)
    assert out["rbdc"] == pytest.approx(0.75) and out["tbdc"] == pytest.approx(0.75)
    # a box in the right frame that misses the GT (IoU 0) is a false positive too
    out = rbdc_tbdc({"v": regions_of((2, 50, 50, 60, 60, 0.9), hit)}, tracks, num_frames=4)
    assert out["rbdc"] == pytest.approx(0.75)


def test_re_detection_is_not_a_false_positive():
    tracks = {"v": tracks_of((0, 0, 0, 0, 10, 10))}
    regions = {"v": regions_of((0, 0, 0, 10, 10, 0.9), (0, 1, 1, 10, 10, 0.8))}
    out = rbdc_tbdc(regions, tracks, num_frames=4)
    assert np.all(out["fpr"] == 0) and out["rbdc"] == 1.0


def test_perfect_and_empty_predictions():
    perfect = {
        "v": TWO_TRACKS["v"][:, [1, 2, 3, 4, 5, 0]] * [1, 1, 1, 1, 1, 0] + [0, 0, 0, 0, 0, 1]
    }
    assert rbdc_tbdc(perfect, TWO_TRACKS, num_frames=2)["rbdc"] == 1.0
    assert rbdc_tbdc(perfect, TWO_TRACKS, num_frames=2)["tbdc"] == 1.0
    for regions in ({}, {"v": np.zeros((0, 6))}):
        out = rbdc_tbdc(regions, TWO_TRACKS, num_frames=2)
        assert out["rbdc"] == 0.0 and out["tbdc"] == 0.0 and np.array_equal(out["fpr"], [0.0])


def test_regions_in_video_without_ground_truth_are_false_positives():
    regions = {"v": regions_of((0, 0, 0, 10, 10, 0.5)), "w": regions_of((0, 0, 0, 10, 10, 0.9))}
    out = rbdc_tbdc(regions, {"v": TWO_TRACKS["v"]}, num_frames={"v": 2, "w": 2})
    # FP at 0.9 (fpr 0.25), then one of 4 regions at 0.5: (0,0),(0.25,0),(0.25,0.25) held
    assert np.allclose(out["fpr"], [0, 0.25, 0.25]) and np.allclose(out["rbdr"], [0, 0, 0.25])
    assert out["rbdc"] == pytest.approx(0.75 * 0.25)


def test_iou_exactly_at_beta_is_a_hit():
    tracks = {"v": tracks_of((0, 0, 0, 0, 10, 10))}
    exact_hit = {"v": regions_of((0, 0, 0, 10, 1, 1.0))}  # 10 / 100 = 0.1
    exact_miss = {"v": regions_of((0, 0, 0, 9, 1, 1.0))}  # 9 / 100
    assert rbdc_tbdc(exact_hit, tracks, 1, beta=0.1, iou_mode="exact")["rbdc"] == 1.0
    assert rbdc_tbdc(exact_miss, tracks, 1, beta=0.1, iou_mode="exact")["rbdc"] == 0.0
    # AED's +1 formula: GT 0..9 x 0..9 is 100 px; box x 0..4, y 0..1 is 5 x 2 = 10 px -> exactly 0.1
    aed_tracks = {"v": tracks_of((0, 0, 0, 0, 9, 9))}
    assert (
        rbdc_tbdc({"v": regions_of((0, 0, 0, 4, 1, 1.0))}, aed_tracks, 1, beta=0.1)["rbdc"] == 1.0
    )
    assert (
        rbdc_tbdc({"v": regions_of((0, 0, 0, 3, 1, 1.0))}, aed_tracks, 1, beta=0.1)["rbdc"] == 0.0
    )


def test_iou_modes_by_hand():
    a, b = [[0, 0, 10, 10]], [[5, 0, 15, 10]]
    assert box_iou(a, b, "exact")[0, 0] == pytest.approx(50 / 150)
    assert box_iou(a, b, "aed")[0, 0] == pytest.approx(66 / 176)  # 6 x 11 over 121 + 121 - 66
    assert box_iou(a, [[20, 20, 30, 30]], "aed")[0, 0] == 0.0


def test_ties_threshold_versus_aed_order():
    tracks = {"v": tracks_of((0, 0, 0, 0, 10, 10))}
    fp, tp = (1, 0, 0, 10, 10, 0.5), (0, 0, 0, 10, 10, 0.5)
    # one threshold: (0,0) -> (0.25,1) diagonal, then held: 0.125 + 0.75
    assert rbdc_tbdc({"v": regions_of(fp, tp)}, tracks, 4)["rbdc"] == pytest.approx(0.875)
    assert rbdc_tbdc({"v": regions_of(fp, tp)}, tracks, 4, ties="aed")["rbdc"] == pytest.approx(
        0.75
    )
    assert rbdc_tbdc({"v": regions_of(tp, fp)}, tracks, 4, ties="aed")["rbdc"] == pytest.approx(1.0)


def test_closure_holds_rate_when_fpr_jumps_past_max():
    tracks = {"v": tracks_of((0, 0, 0, 0, 10, 10), (1, 1, 0, 0, 10, 10))}
    regions = {
        "v": regions_of(
            (0, 0, 0, 10, 10, 0.9),
            (2, 0, 0, 10, 10, 0.8),
            (3, 0, 0, 10, 10, 0.7),
            (4, 0, 0, 10, 10, 0.7),
            (1, 0, 0, 10, 10, 0.7),
        )
    }
    out = rbdc_tbdc(regions, tracks, num_frames=2)
    assert np.allclose(out["fpr"], [0, 0, 0.5, 1.5]) and np.allclose(
        out["rbdr"], [0, 0.5, 0.5, 1.0]
    )
    # cut after (0.5, 0.5), hold 0.5 to FPR 1 (no interpolation towards (1.5, 1)): area 0.5
    assert out["rbdc"] == pytest.approx(0.5)


def test_max_fpr_normalises():
    out = rbdc_tbdc(
        THREE_PREDS, TWO_TRACKS, num_frames=10, alpha=0.5, iou_mode="exact", max_fpr=0.05
    )
    assert out["rbdc"] == pytest.approx(0.25) and out["tbdc"] == pytest.approx(0.5)
    assert closed_curve_area(np.array([0.0, 0.5]), np.array([0.0, 1.0]), 1.0) == pytest.approx(0.75)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"v": regions_of((0, 10, 0, 5, 10, 0.5))}, "video v: regions row 0 has an empty box"),
        ({"v": regions_of((0.5, 0, 0, 5, 10, 0.5))}, "video v: regions row 0 has frame 0.5"),
        ({"v": regions_of((0, 0, 0, 5, 10, np.nan))}, "video v: regions row 0 holds NaN"),
        ({"v": np.zeros((2, 5))}, r"video v: regions must be an \(N, 6\) array"),
    ],
)
def test_region_validation_names_video(bad, message):
    with pytest.raises(ValueError, match=message):
        rbdc_tbdc(bad, TWO_TRACKS, num_frames=10)


def test_track_and_frame_count_validation():
    with pytest.raises(ValueError, match="video t: tracks row 1 has an empty box"):
        rbdc_tbdc({}, {"t": tracks_of((0, 0, 0, 0, 5, 5), (0, 1, 0, 5, 5, 5))}, 10)
    with pytest.raises(ValueError, match="video t: track 0 has 2 rows for frame 0"):
        rbdc_tbdc({}, {"t": tracks_of((0, 0, 0, 0, 5, 5), (0, 0, 1, 1, 5, 5))}, 10)
    with pytest.raises(ValueError, match=r"num_frames has no entry for videos \['w'\]"):
        rbdc_tbdc({"w": np.zeros((0, 6))}, TWO_TRACKS, {"v": 2})
    with pytest.raises(
        ValueError, match=r"video v: tracks row 1 has frame 1; expected an integer in 0..0"
    ):
        rbdc_tbdc({}, TWO_TRACKS, {"v": 1})
    with pytest.raises(ValueError, match="no ground-truth regions"):
        rbdc_tbdc(THREE_PREDS, {}, 10)
    with pytest.raises(ValueError, match="alpha"):
        rbdc_tbdc(THREE_PREDS, TWO_TRACKS, 10, alpha=0.0)


# ---------------------------------------------------------------- plain-loop port of AED


def _aed_reference(
    regions: dict, tracks: dict, num_frames: int, alpha: float, beta: float
) -> tuple[float, float]:
    """AED's compute_fpr_rbdr (later revision) with plain loops, for cross-checking."""

    def iou(a, b):
        w = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
        h = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
        inter = w * h
        return inter / (
            (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
        )

    gt, track_len = {}, []
    for vid in sorted(tracks):
        for tid in np.unique(tracks[vid][:, 0]):
            rows = tracks[vid][tracks[vid][:, 0] == tid]
            for row in rows:
                gt.setdefault((vid, row[1]), []).append([row[2:6], len(track_len), False])
            track_len.append(len(rows))
    preds = [(r[5], vid, r[0], r[1:5]) for vid in sorted(regions) for r in regions[vid]]
    preds.sort(key=lambda p: p[0], reverse=True)
    hits, tp, fp, tbdr = [0] * len(track_len), [], [], []
    for _, vid, frame, box in preds:
        matched = [g for g in gt.get((vid, frame), []) if iou(g[0], box) >= beta]
        new = [g for g in matched if not g[2]]
        for g in new:
            g[2] = True
            hits[g[1]] += 1
        tp.append(len(new))
        fp.append(0 if matched else 1)
        tbdr.append(np.mean([h / n >= alpha for h, n in zip(hits, track_len, strict=True)]))
    fpr = np.concatenate(([0], np.cumsum(fp))) / num_frames
    rbdr = np.concatenate(([0], np.cumsum(tp))) / sum(track_len)
    tbdr = np.concatenate(([0], tbdr))
    idx = np.flatnonzero(fpr <= 1)[-1] + 1
    if fpr[idx - 1] != 1:
        rbdr, tbdr, fpr = (
            np.insert(rbdr, idx, rbdr[idx - 1]),
            np.insert(tbdr, idx, tbdr[idx - 1]),
            np.insert(fpr, idx, 1),
        )
        idx += 1
    return float(np.trapezoid(rbdr[:idx], fpr[:idx])), float(np.trapezoid(tbdr[:idx], fpr[:idx]))


def _random_case(rng: np.random.Generator) -> tuple[dict, dict, int]:
    tracks, regions = {}, {}
    for vid in ("b", "a", "c"):
        rows = []
        for tid in range(int(rng.integers(0, 3))):
            start, length = int(rng.integers(0, 15)), int(rng.integers(1, 8))
            x, y = rng.integers(0, 40, 2)
            for f in range(start, start + length):
                rows.append(
                    (tid, f, x + f, y, x + f + rng.integers(3, 12), y + rng.integers(3, 12))
                )
        if rows:
            tracks[vid] = tracks_of(*rows)
        preds = []
        for _ in range(int(rng.integers(0, 40))):
            f = int(rng.integers(0, 22))
            x, y = rng.integers(0, 50, 2)
            preds.append((f, x, y, x + rng.integers(2, 14), y + rng.integers(2, 14), rng.random()))
        regions[vid] = regions_of(*preds)
    return regions, tracks, int(rng.integers(5, 60))


@pytest.mark.slow
def test_matches_plain_loop_port_of_aed():
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(150):
        regions, tracks, num_frames = _random_case(rng)
        if not tracks:
            continue
        for alpha, beta in ((0.1, 0.1), (0.5, 0.3)):
            expected = _aed_reference(regions, tracks, num_frames, alpha, beta)
            for ties in ("threshold", "aed"):  # scores are distinct, so both must agree with AED
                out = rbdc_tbdc(regions, tracks, num_frames, alpha=alpha, beta=beta, ties=ties)
                assert (out["rbdc"], out["tbdc"]) == pytest.approx(expected, abs=1e-12)
        checked += 1
    assert checked > 100


def test_aed_ties_mode_matches_port_with_tied_scores():
    rng = np.random.default_rng(11)
    for _ in range(60):
        regions, tracks, num_frames = _random_case(rng)
        if not tracks:
            continue
        regions = {
            vid: np.column_stack([r[:, :5], np.round(r[:, 5], 1)]) if len(r) else r
            for vid, r in regions.items()
        }
        expected = _aed_reference(regions, tracks, num_frames, 0.1, 0.1)
        out = rbdc_tbdc(regions, tracks, num_frames, ties="aed")
        assert (out["rbdc"], out["tbdc"]) == pytest.approx(expected, abs=1e-12)
