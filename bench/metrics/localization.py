"""Region- and track-based detection criteria (RBDC, TBDC) of Ramachandra & Jones (WACV 2020),
computed exactly as the SSMTL authors' code does (``lilygeorgescu/AED``,
``evaluation/compute_tbdc_rbdc.py``, which produced the published SSMTL RBDC/TBDC numbers).

Inputs (see :mod:`bench.data.base`): ``regions[vid]`` float arrays ``(M, 6)`` with rows
``frame, x_min, y_min, x_max, y_max, score``; ``tracks[vid]`` float arrays ``(K, 6)`` with rows
``track_id, frame, x_min, y_min, x_max, y_max``. One row of a track is a ground-truth (GT) region.

Definitions, at a score threshold ``s``:

* A GT region is **detected** when some predicted region of the same video and frame with
  score ``>= s`` has IoU ``>= beta`` with it. One predicted region may detect several GT regions
  (AED matches a predicted region against every GT region of its frame); a GT region counts once.
* **Region detection rate** RBDR = detected GT regions / all GT regions (all videos).
* A GT track is **detected** when ``detected_regions / len(track) >= alpha`` (computed with this
  float division, as AED's ``compute_tbdr``); TBDR = detected tracks / all tracks.
* A **false positive** is a predicted region with score ``>= s`` whose IoU with every GT region
  of its frame is ``< beta`` (a region in a frame or video without GT is always one). A region
  that only re-detects already detected GT regions is neither a hit nor a false positive.
* **FPR** = false positives / ``num_frames``, the total number of test frames (all test videos,
  with or without anomalies: AED's ``--num-frames``).
* The curve starts at ``(FPR, rate) = (0, 0)`` (threshold +inf) and has one point per
  threshold, thresholds swept from the highest score down. **Closure** (AED): the curve is cut
  at the last point with ``FPR <= max_fpr``; if that point's FPR is not ``max_fpr``, a point
  ``(max_fpr, rate of that last point)`` is added, i.e. the rate is *held*, not interpolated
  towards the next point. **Integration**: trapezoidal rule (``sklearn.metrics.auc`` in AED)
  over ``[0, max_fpr]``, divided by ``max_fpr`` (AED: ``max_fpr = 1``, no division needed).
  RBDC/TBDC are fractions in ``[0, 1]``.

Choices fixed by AED's code, not by the paper's prose (we follow AED; the Ramachandra & Jones
text itself was not available to compare line by line):

* **IoU** (``iou_mode="aed"``, default): AED's ``bb_intersection_over_union`` treats corners
  as inclusive pixels, ``area = (x_max - x_min + 1) * (y_max - y_min + 1)`` and
  ``intersection width = max(0, min(x_max) - max(x_min) + 1)``, although the AED track files
  (like this project's arrays) store exclusive maxima (``cv2.boundingRect`` ``x + w`` in
  ``lilygeorgescu/UBnormal`` ``create_tracks_for_tbdc_rbdc.py``). ``iou_mode="exact"`` uses
  the project's exclusive convention, ``area = (x_max - x_min) * (y_max - y_min)``.
* **Ties**: AED sorts predicted regions by score (stable) and adds one curve point per region,
  so tied scores give intermediate points whose order (and area) depends on file listing
  order. ``ties="threshold"`` (default) has one point per distinct score (the definition above;
  independent of order, identical to AED when no two scores tie). ``ties="aed"`` reproduces
  AED's per-region points, tie order = regions concatenated in sorted video-id order, then row
  order.
* AED's closure exists in two revisions: commit ``01ae66b`` appends the closing point at the
  end of the arrays (which breaks ``auc`` once the FPR passes 1), commit ``e0cdb3f`` inserts it
  right after the last point with FPR <= 1. We follow the insertion; both give the same area
  whenever the sweep never passes ``max_fpr``.
* Pixel-level IoU (a TODO in AED) is not used: regions are boxes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

IouMode = Literal["aed", "exact"]
TieMode = Literal["threshold", "aed"]


# ---------------------------------------------------------------- IoU


def box_iou_rows(a: np.ndarray, b: np.ndarray, iou_mode: IouMode = "aed") -> np.ndarray:
    """Row-wise IoU of boxes ``a[i]`` and ``b[i]`` (``(n, 4)`` as ``x_min, y_min, x_max, y_max``).

    ``iou_mode="aed"`` adds 1 to every width/height (AED's inclusive-pixel formula);
    ``"exact"`` uses exclusive maxima.
    """
    if iou_mode not in ("aed", "exact"):
        raise ValueError(f"iou_mode must be 'aed' or 'exact', got {iou_mode!r}")
    one = 1.0 if iou_mode == "aed" else 0.0
    inter_w = np.maximum(0.0, np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + one)
    inter_h = np.maximum(0.0, np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + one)
    inter = inter_w * inter_h
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    return inter / (area_a + area_b - inter)


def box_iou(a: np.ndarray, b: np.ndarray, iou_mode: IouMode = "aed") -> np.ndarray:
    """Pairwise IoU matrix ``(n, m)`` of boxes ``a`` ``(n, 4)`` and ``b`` ``(m, 4)``."""
    a, b = (
        np.asarray(a, dtype=np.float64).reshape(-1, 4),
        np.asarray(b, dtype=np.float64).reshape(-1, 4),
    )
    ia, ib = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
    return box_iou_rows(a[ia.ravel()], b[ib.ravel()], iou_mode).reshape(len(a), len(b))


# ---------------------------------------------------------------- validation


def _table(array: np.ndarray, vid: str, what: str) -> np.ndarray:
    """A finite float64 ``(n, 6)`` table (empty arrays and a single 1-D row accepted)."""
    a = np.asarray(array, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, 6), dtype=np.float64)
    if a.ndim == 1 and len(a) == 6:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != 6:
        raise ValueError(f"video {vid}: {what} must be an (N, 6) array, got shape {a.shape}")
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        raise ValueError(
            f"video {vid}: {what} row {int(np.argmax(bad))} holds NaN/inf: {a[bad][0].tolist()}"
        )
    return a


def _check_boxes(boxes: np.ndarray, vid: str, what: str) -> None:
    bad = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"video {vid}: {what} row {row} has an empty box {boxes[row].tolist()} "
            f"(need x_max > x_min and y_max > y_min; maxima are exclusive)"
        )


def _check_index(values: np.ndarray, vid: str, what: str, name: str, limit: int | None) -> None:
    bad = (values < 0) | (values != np.round(values))
    if limit is not None:
        bad |= values >= limit
    if bad.any():
        row = int(np.argmax(bad))
        bound = f" in 0..{limit - 1}" if limit is not None else " >= 0"
        raise ValueError(
            f"video {vid}: {what} row {row} has {name} {float(values[row]):g}; "
            f"expected an integer{bound}"
        )


def _check_regions(array: np.ndarray, vid: str, frames: int | None) -> np.ndarray:
    a = _table(array, vid, "regions")
    _check_index(a[:, 0], vid, "regions", "frame", frames)
    _check_boxes(a[:, 1:5], vid, "regions")
    return a


def _check_tracks(array: np.ndarray, vid: str, frames: int | None) -> np.ndarray:
    a = _table(array, vid, "tracks")
    _check_index(a[:, 0], vid, "tracks", "track_id", None)
    _check_index(a[:, 1], vid, "tracks", "frame", frames)
    _check_boxes(a[:, 2:6], vid, "tracks")
    keys, counts = np.unique(a[:, :2], axis=0, return_counts=True)
    if (counts > 1).any():
        track, frame = keys[np.argmax(counts > 1)]
        raise ValueError(
            f"video {vid}: track {int(track)} has {int(counts.max())} rows for frame {int(frame)}"
        )
    return a


def _frame_counts(
    num_frames: Mapping[str, int] | int, vids: list[str]
) -> tuple[int, dict[str, int | None]]:
    """Total test frames and the per-video limit used to check frame indices."""
    if isinstance(num_frames, Mapping):
        missing = [vid for vid in vids if vid not in num_frames]
        if missing:
            raise ValueError(f"num_frames has no entry for videos {missing[:10]}")
        total, limits = int(sum(num_frames.values())), {vid: int(num_frames[vid]) for vid in vids}
    else:
        total, limits = int(num_frames), dict.fromkeys(vids)
    if total <= 0:
        raise ValueError(f"num_frames must be positive, got {total}")
    return total, limits


# ---------------------------------------------------------------- matching


def _gather(
    regions: Mapping[str, np.ndarray],
    tracks: Mapping[str, np.ndarray],
    limits: dict[str, int | None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated tables of all videos, each row prefixed with its video's index (sorted ids)."""
    preds, gts = [np.zeros((0, 7))], [np.zeros((0, 7))]
    for code, vid in enumerate(sorted(limits)):
        if vid in regions:
            table = _check_regions(regions[vid], vid, limits[vid])
            preds.append(np.column_stack([np.full(len(table), code), table]))
        if vid in tracks:
            table = _check_tracks(tracks[vid], vid, limits[vid])
            gts.append(np.column_stack([np.full(len(table), code), table]))
    pred, gt = np.concatenate(preds), np.concatenate(gts)
    return pred, gt[:, [0, 2]], gt[:, 3:7], gt[:, [0, 1]]


def _same_frame_pairs(pred_keys: np.ndarray, gt_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``(pred index, gt index)`` pairs sharing a (video, frame) key, by sorting."""
    order = np.argsort(gt_keys, kind="stable")
    sorted_keys = gt_keys[order]
    lo = np.searchsorted(sorted_keys, pred_keys, side="left")
    counts = np.searchsorted(sorted_keys, pred_keys, side="right") - lo
    pred_index = np.repeat(np.arange(len(pred_keys)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return pred_index, order[np.repeat(lo, counts) + offsets]


def _frame_keys(video_frame: np.ndarray, stride: int) -> np.ndarray:
    return video_frame[:, 0].astype(np.int64) * stride + video_frame[:, 1].astype(np.int64)


def _required_hits(lengths: np.ndarray, alpha: float) -> np.ndarray:
    """Smallest ``m >= 1`` with ``m / length >= alpha`` (AED's float test), per track."""
    m = np.maximum(np.ceil(alpha * lengths), 1).astype(np.int64)
    down = (m > 1) & ((m - 1) / lengths >= alpha)
    m[down] -= 1
    m[m / lengths < alpha] += 1
    return m


def _track_keys(det: np.ndarray, track_index: np.ndarray, alpha: float) -> np.ndarray:
    """Per track, the key at which it becomes detected: the m-th highest key among its regions."""
    lengths = np.bincount(track_index)
    need = _required_hits(lengths, alpha)
    order = np.lexsort((-det, track_index))
    starts = np.cumsum(lengths) - lengths
    return det[order][starts + np.minimum(need, lengths) - 1]


def _count_at_least(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each threshold, how many ``values`` are ``>= threshold``."""
    values = np.sort(values)
    return len(values) - np.searchsorted(values, thresholds, side="left")


# ---------------------------------------------------------------- curve


def closed_curve_area(fpr: np.ndarray, rate: np.ndarray, max_fpr: float = 1.0) -> float:
    """AED's area: cut at the last point with ``fpr <= max_fpr``, hold its rate out to
    ``max_fpr``, trapezoidal rule, divided by ``max_fpr``. ``fpr`` must start at 0."""
    last = int(np.flatnonzero(fpr <= max_fpr)[-1])
    x = np.append(fpr[: last + 1], max_fpr)
    y = np.append(rate[: last + 1], rate[last])
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0) / max_fpr)


def _sweep_keys(scores: np.ndarray, ties: TieMode) -> tuple[np.ndarray, np.ndarray]:
    """Per-region sweep key (higher = swept earlier) and the score at each curve step."""
    if ties == "threshold":
        return scores, np.unique(scores)[::-1]
    if ties != "aed":
        raise ValueError(f"ties must be 'threshold' or 'aed', got {ties!r}")
    order = np.argsort(-scores, kind="stable")
    position = np.empty(len(scores), dtype=np.float64)
    position[order] = np.arange(len(scores))
    return -position, scores[order]


def _check_parameters(alpha: float, beta: float, max_fpr: float) -> None:
    for name, value in (("alpha", alpha), ("beta", beta), ("max_fpr", max_fpr)):
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {value}")


def rbdc_tbdc(
    regions: Mapping[str, np.ndarray],
    tracks: Mapping[str, np.ndarray],
    num_frames: Mapping[str, int] | int,
    alpha: float = 0.1,
    beta: float = 0.1,
    max_fpr: float = 1.0,
    iou_mode: IouMode = "aed",
    ties: TieMode = "threshold",
) -> dict:
    """RBDC and TBDC of predicted regions against GT tracks (definitions: module docstring).

    ``num_frames`` is the total number of test frames, or a per-video dict (summed; then every
    frame index is also checked against its video's count). A video with regions but no tracks
    contributes false positives only; a video with tracks but no regions contributes misses.

    Returns ``rbdc``, ``tbdc`` (fractions in ``[0, 1]``), the full sweep ``fpr``, ``rbdr``,
    ``tbdr`` and ``thresholds`` (first point ``(0, 0)`` at threshold ``inf``; the closure at
    ``max_fpr`` is applied only to the areas), and the counts ``num_regions``,
    ``num_gt_regions``, ``num_tracks``, ``num_frames``.
    """
    _check_parameters(alpha, beta, max_fpr)
    vids = sorted(set(regions) | set(tracks))
    total_frames, limits = _frame_counts(num_frames, vids)
    pred, gt_video_frame, gt_boxes, gt_video_track = _gather(regions, tracks, limits)
    if len(gt_boxes) == 0:
        raise ValueError("no ground-truth regions in tracks: RBDC/TBDC are undefined")

    stride = int(max(pred[:, 1].max(initial=0), gt_video_frame[:, 1].max())) + 1
    pi, gj = _same_frame_pairs(
        _frame_keys(pred[:, :2], stride), _frame_keys(gt_video_frame, stride)
    )
    hit = box_iou_rows(pred[pi, 2:6], gt_boxes[gj], iou_mode) >= beta
    pi, gj = pi[hit], gj[hit]

    key, thresholds = _sweep_keys(pred[:, 6], ties)
    det = np.full(len(gt_boxes), -np.inf)
    np.maximum.at(det, gj, key[pi])
    false_positive = np.bincount(pi, minlength=len(pred)) == 0
    _, track_index = np.unique(gt_video_track, axis=0, return_inverse=True)
    track_index = track_index.ravel()
    track_key = _track_keys(det, track_index, alpha)

    steps = np.unique(key)[::-1]
    fp = _count_at_least(key[false_positive], steps)
    fpr = np.concatenate(([0.0], fp / total_frames))
    rbdr = np.concatenate(([0.0], _count_at_least(det, steps) / len(det)))
    tbdr = np.concatenate(([0.0], _count_at_least(track_key, steps) / len(track_key)))
    return {
        "rbdc": closed_curve_area(fpr, rbdr, max_fpr),
        "tbdc": closed_curve_area(fpr, tbdr, max_fpr),
        "fpr": fpr,
        "rbdr": rbdr,
        "tbdr": tbdr,
        "thresholds": np.concatenate(([np.inf], thresholds)),
        "num_regions": len(pred),
        "num_gt_regions": len(gt_boxes),
        "num_tracks": len(track_key),
        "num_frames": total_frames,
    }
