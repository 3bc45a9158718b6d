"""Score files in, metrics out: the glue behind ``ssmtl evaluate``.

Frame scores: an ``.npz`` with one 1-D float array per test video, keyed by the dataset's video
id (``01``..``12`` for Ped2). Predicted regions (for RBDC/TBDC): an ``.npz`` with one ``(M, 6)``
array per video (rows ``frame, x_min, y_min, x_max, y_max, score``), or a folder of AED-style
text files ``<video_id>.txt`` with the same rows, comma separated. Post-processing (temporal
Gaussian smoothing, per-video min-max normalisation) is explicit and off unless asked for.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from bench.data import DatasetError, VideoDataset
from bench.metrics import (
    chance_levels,
    frame_auc_intervals,
    frame_auc_macro_padded,
    frame_auc_per_video,
    frame_auc_report,
    localization_intervals,
    padded_chance,
    postprocess,
    rbdc_tbdc,
    roc_auc,
)
from bench.metrics.bootstrap import RESAMPLES


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` keyed by name (no pickles), naming the file on failure."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise DatasetError(
            f"{path}: unreadable .npz file ({type(error).__name__}: {error}); it may be "
            "truncated by an interrupted copy or run: write it again"
        ) from error


def load_frame_scores(path: Path) -> dict[str, np.ndarray]:
    """Frame scores per video (:func:`check_frame_scores`)."""
    scores = load_npz(path)
    check_frame_scores(scores, path)
    return {k: v.astype(np.float64) for k, v in scores.items()}


SCORES_FIX = "give the frame scores that ssmtl score, fuse or baseline frame-diff wrote"


def check_frame_scores(scores: dict[str, np.ndarray], path: Path) -> None:
    """:class:`DatasetError` naming ``path`` unless each video's scores are a 1-D array of finite
    numbers (text that reads as numbers, NaN or infinity would be taken silently)."""
    bad = []
    for k, v in scores.items():
        if v.ndim != 1:
            bad.append(f"{path}: scores of video {k} have shape {v.shape}, expected 1-D")
        elif v.dtype.kind not in "biuf":
            bad.append(f"{path}: scores of video {k} are of type {v.dtype}, not numbers")
        elif not np.isfinite(v).all():
            count = int((~np.isfinite(v)).sum())
            bad.append(f"{path}: scores of video {k} hold {count} NaN or infinite values")
    if bad:
        raise DatasetError(bad, SCORES_FIX)


def load_regions(path: Path) -> dict[str, np.ndarray]:
    """Predicted regions per video from an ``.npz`` or a folder of ``<video_id>.txt`` files."""
    if path.is_dir():
        regions = {
            p.stem: np.loadtxt(p, delimiter=",", ndmin=2).reshape(-1, 6)
            for p in sorted(path.glob("*.txt"))
        }
    else:
        regions = {k: v.reshape(-1, 6) if v.size == 0 else v for k, v in load_npz(path).items()}
    bad = [
        f"{path}: regions of video {k} have shape {v.shape}, expected (M, 6)"
        for k, v in regions.items()
        if v.ndim != 2 or v.shape[1] != 6
    ]
    if bad:
        raise DatasetError(bad)
    return {k: v.astype(np.float64) for k, v in regions.items()}


def check_scores(dataset: VideoDataset, scores: dict[str, np.ndarray], path: Path) -> None:
    """Every test video has exactly one score per frame; name each video that does not."""
    videos = {v.id: v.num_frames for v in dataset.videos("test")}
    problems = [f"{path}: no scores for test video {k}" for k in videos if k not in scores]
    problems += [
        f"{path}: scores for unknown video {k} (test videos: {', '.join(videos)})"
        for k in scores
        if k not in videos
    ]
    problems += [
        f"{path}: video {k} has {len(scores[k])} scores but {n} frames"
        for k, n in videos.items()
        if k in scores and len(scores[k]) != n
    ]
    if problems:
        raise DatasetError(
            problems, f"give the scores of this dataset's test split ({dataset.name}); {SCORES_FIX}"
        )


def auc_by_kind(dataset: VideoDataset, scores: dict[str, np.ndarray]) -> dict[str, float | None]:
    """Micro AUC of each anomaly kind: its frames against all normal frames (synthetic scenes).

    ``Video.kinds`` is a per-frame bitmask (:data:`bench.data.synth.ANOMALY_KINDS`); frames of other
    kinds are left out, so each figure says how well that kind alone is separated from normal.
    """
    from bench.data.synth import ANOMALY_KINDS

    videos = dataset.videos("test")
    kinds = np.concatenate([v.kinds for v in videos])
    values = np.concatenate([scores[v.id] for v in videos])
    result: dict[str, float | None] = {}
    for name, bit in ANOMALY_KINDS.items():
        positive, normal = (kinds & bit) > 0, kinds == 0
        keep = positive | normal
        result[name] = (
            roc_auc(positive[keep], values[keep]) if positive.any() and normal.any() else None
        )
    return result


def per_video_table(
    labels: dict[str, np.ndarray], scores: dict[str, np.ndarray]
) -> dict[str, dict[str, float | int | None]]:
    """Each test video's frame counts, strict and padded AUC and the padded chance level."""
    strict = frame_auc_per_video(labels, scores)
    table = {}
    for vid in sorted(labels):
        y = np.asarray(labels[vid]).astype(bool)
        one = {vid: labels[vid]}
        table[vid] = {
            "frames": len(y),
            "abnormal_frames": int(y.sum()),
            "auc": strict[vid],
            "auc_padded": frame_auc_macro_padded(one, {vid: scores[vid]}),
            "chance_padded": padded_chance(int((~y).sum()), int(y.sum())),
        }
    return table


def per_head_aucs(
    dataset: VideoDataset, heads: dict[str, np.ndarray], path: Path
) -> dict[str, dict[str, float | None]]:
    """Micro, padded and strict macro AUC of each head's frame scores alone (keys
    ``<task>/<video>``, :func:`bench.score.head_frame_scores`): which task carries or drags
    eq. (6)'s combined score (the paper's per-task Ped2 figures: Table 4)."""
    labels = dataset.test_labels()
    tasks = sorted({key.split("/", 1)[0] for key in heads})
    result = {}
    for task in tasks:
        scores = {
            key.split("/", 1)[1]: value.astype(np.float64)
            for key, value in heads.items()
            if key.startswith(f"{task}/")
        }
        check_scores(dataset, scores, path)
        report = frame_auc_report(labels, scores)
        result[task] = {
            k: report.get(k) for k in ("auc_micro", "auc_macro_padded", "auc_macro_strict")
        }
    return result


def evaluate(
    dataset: VideoDataset,
    scores: dict[str, np.ndarray],
    regions: dict[str, np.ndarray] | None = None,
    smooth_sigma: float = 0.0,
    normalize: bool = False,
    alpha: float = 0.1,
    beta: float = 0.1,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict:
    """Frame-level AUCs (micro and macro) and, with regions, RBDC and TBDC; each AUC with the
    chance level of its convention (``chance``) and, for ``resamples`` > 0, every metric with
    its bootstrap 95% interval over test videos (``ci95``); and the per-video table."""
    scores = postprocess(scores, sigma=smooth_sigma, normalize=normalize)
    labels = dataset.test_labels()
    result = frame_auc_report(labels, scores)
    result["chance"] = chance_levels(labels)
    if all(v.kinds is not None for v in dataset.videos("test")):
        result["auc_by_kind"] = auc_by_kind(dataset, scores)
    intervals = frame_auc_intervals(labels, scores, resamples, seed) if resamples else {}
    if regions is not None:
        frames = {v.id: v.num_frames for v in dataset.videos("test")}
        tracks = dataset.test_tracks()
        localization = rbdc_tbdc(regions, tracks, sum(frames.values()), alpha=alpha, beta=beta)
        result.update(rbdc=localization["rbdc"], tbdc=localization["tbdc"])
        if resamples:
            intervals |= localization_intervals(
                regions, tracks, frames, alpha, beta, resamples, seed
            )
    if resamples:
        result["ci95"] = intervals
        result["bootstrap"] = {"resamples": resamples, "seed": seed}
    result["per_video"] = per_video_table(labels, scores)
    return result
