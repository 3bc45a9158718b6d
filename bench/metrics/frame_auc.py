"""Frame-level ROC AUC: micro (pooled frames) and macro (mean over videos) conventions.

Inputs are dicts keyed by video id: ``labels[vid]`` is a 1-D array of 0/1 frame labels
(1 = abnormal), ``scores[vid]`` a 1-D float array of the same length (higher = more abnormal).
Post-processing (temporal smoothing, per-video min-max normalisation) is never applied here;
call :mod:`bench.metrics.postprocess` first, explicitly.

Conventions
-----------
* **micro**: all test frames of all videos pooled (concatenated in sorted video-id order), one
  AUC. The SSMTL README (lilygeorgescu/AED-SSMTL) reports it as "Micro-AUC".
* **macro, strict**: mean of the per-video AUCs over the videos whose labels hold both classes;
  one-class videos (e.g. the all-normal ShanghaiTech test videos) are skipped.
* **macro, padded**: every video gets one normal frame scored 0 prepended and one abnormal frame
  scored 1 appended, so that every video (one-class ones too) has an AUC; then the mean. This is
  the convention of the public evaluation code of the SSMTL authors' group:
  ``lilygeorgescu/UBnormal`` ``scripts/compute_auc_score.py`` (``roc_auc_score(concat([0], gt,
  [1]), concat([0], scores, [1]))`` averaged over videos) and ``ristea/aed-mae``
  ``inference.py`` ``evaluate_model`` (per-video min-max normalisation, then the same padding,
  then the mean). AI-VAD (``talreiss/Accurate-Interpretable-VAD`` ``evaluate.py``) pads the
  same way but scores the abnormal pad ``sys.float_info.max``. The padding only means what it
  should when scores lie in ``[0, 1]``, so this convention min-max normalises each video first
  (which leaves the video's own ranking unchanged).

The SSMTL paper's tables report macro AUC ("in our paper, we reported the macro-averaged
frame-level AUC", SSMTL README). The SSMTL code itself is released only on request, so the
padding is inferred from the same group's public code above; it is also what makes ShanghaiTech
(whose test set has all-normal videos) averageable over all 107 videos.
:data:`PAPER_MACRO_CONVENTION` records the choice used for ``auc_macro`` in
:func:`frame_auc_report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from bench.metrics.postprocess import normalize_per_video

PAPER_MACRO_CONVENTION: Literal["padded", "strict"] = "padded"

ArrayMap = Mapping[str, np.ndarray]


def _as_labels(labels: np.ndarray, where: str) -> np.ndarray:
    """1-D boolean view of 0/1 labels; ``where`` prefixes error messages."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"{where}: labels must be 1-D, got shape {y.shape}")
    if y.dtype != bool and not np.isin(y, (0, 1)).all():
        raise ValueError(f"{where}: labels must be 0/1, found values {np.unique(y)[:10].tolist()}")
    return y.astype(bool)


def _as_scores(scores: np.ndarray, where: str) -> np.ndarray:
    """1-D finite float64 scores; ``where`` prefixes error messages."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"{where}: scores must be 1-D, got shape {s.shape}")
    bad = ~np.isfinite(s)
    if bad.any():
        raise ValueError(
            f"{where}: {int(bad.sum())} non-finite (NaN/inf) scores, "
            f"first at frame {int(np.argmax(bad))}"
        )
    return s


def _pair(labels: np.ndarray, scores: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    y, s = _as_labels(labels, where), _as_scores(scores, where)
    if len(y) != len(s):
        raise ValueError(f"{where}: {len(s)} scores for {len(y)} labels")
    return y, s


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``; tied values share the mean of the ranks they span."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last_rank = np.cumsum(counts)
    group_rank = last_rank - (counts - 1) / 2.0
    return group_rank[inverse.ravel()]


def rank_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney AUC of validated boolean labels and finite scores (ties count 1/2)."""
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        kind = "abnormal (1)" if n_pos else "normal (0)"
        raise ValueError(f"ROC AUC is undefined: all {len(y)} labels are {kind}")
    rank_sum = average_ranks(s)[y].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank (Mann-Whitney U) formula.

    ``AUC = (R+ - n+(n+ + 1)/2) / (n+ n-)`` with ``R+`` the sum of the average ranks of the
    positive scores; a tied positive/negative pair counts 1/2, which equals the trapezoidal area
    under the ROC curve (``sklearn.metrics.roc_auc_score``). Raises ``ValueError`` when the
    labels hold one class only or the lengths disagree.
    """
    return rank_auc(*_pair(labels, scores, "roc_auc"))


def roc_curve_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, tpr)`` of the ROC curve, for plotting (``sklearn.metrics.roc_curve``, imported here:
    it costs 1.3 s per process, which every stage that only computes AUCs would pay)."""
    from sklearn.metrics import roc_curve

    y, s = _pair(labels, scores, "roc_curve_points")
    rank_auc(y, s)  # same one-class check and message as roc_auc
    fpr, tpr, _ = roc_curve(y, s)
    return fpr, tpr


def _videos(labels: ArrayMap, scores: ArrayMap) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Validated ``(video_id, labels, scores)`` triples in sorted video-id order."""
    missing = sorted(set(labels) - set(scores))
    extra = sorted(set(scores) - set(labels))
    if missing or extra:
        raise ValueError(
            f"video ids differ: no scores for {missing}, scores without labels for {extra}"
        )
    if not labels:
        raise ValueError("no videos")
    triples = []
    for vid in sorted(labels):
        y = _as_labels(labels[vid], f"video {vid}")
        s = _as_scores(scores[vid], f"video {vid}")
        if len(y) != len(s):
            raise ValueError(f"video {vid}: {len(s)} scores for {len(y)} labelled frames")
        triples.append((vid, y, s))
    return triples


def _one_class(y: np.ndarray) -> bool:
    return bool(y.all() or not y.any())


def frame_auc_micro(labels: ArrayMap, scores: ArrayMap) -> float:
    """AUC of all test frames pooled (videos concatenated in sorted id order)."""
    triples = _videos(labels, scores)
    y = np.concatenate([t[1] for t in triples])
    s = np.concatenate([t[2] for t in triples])
    return rank_auc(y, s)


def frame_auc_per_video(labels: ArrayMap, scores: ArrayMap) -> dict[str, float | None]:
    """Per-video AUC (strict convention): ``None`` for videos whose labels are one class."""
    return {vid: None if _one_class(y) else rank_auc(y, s) for vid, y, s in _videos(labels, scores)}


def frame_auc_macro_strict(labels: ArrayMap, scores: ArrayMap) -> float:
    """Mean per-video AUC over the two-class videos; raises if every video is one class."""
    aucs = [auc for auc in frame_auc_per_video(labels, scores).values() if auc is not None]
    if not aucs:
        raise ValueError("macro AUC (strict) is undefined: every video's labels are one class")
    return float(np.mean(aucs))


def padded_auc(y: np.ndarray, s: np.ndarray) -> float:
    """One video's padded AUC: a normal frame scored 0 and an abnormal one scored 1 added, so a
    one-class video has an AUC (the convention of the ano_pred / MNAD evaluation code); ``s``
    is expected min-max normalised to [0, 1]."""
    y_pad = np.concatenate(([False], y, [True]))
    s_pad = np.concatenate(([0.0], s, [1.0]))
    return rank_auc(y_pad, s_pad)


def frame_auc_macro_padded(labels: ArrayMap, scores: ArrayMap) -> float:
    """Mean per-video AUC after padding each video with a normal frame scored 0 and an
    abnormal frame scored 1 (SSMTL-group / AI-VAD convention, see the module docstring).

    The pads are meant as the extremes of per-video min-max normalised scores, so each video's
    scores are min-max normalised first (part of this convention's definition: it leaves the
    video's own ranking, hence its unpadded AUC, unchanged). A constant video becomes zeros.
    """
    triples = _videos(labels, scores)
    return float(np.mean([padded_auc(y, normalize_per_video(s)) for _, y, s in triples]))


def frame_auc_report(labels: ArrayMap, scores: ArrayMap) -> dict:
    """All frame-level AUCs of one evaluation.

    Returns ``auc_micro``, ``auc_macro`` (the paper's convention, :data:`PAPER_MACRO_CONVENTION`
    = padded), ``auc_macro_strict`` (``None`` when no video has both classes),
    ``auc_macro_padded``, ``frames`` (total test frames), ``videos`` (count) and
    ``one_class_videos`` (sorted ids of the videos whose labels are one class).
    """
    triples = _videos(labels, scores)
    one_class = [vid for vid, y, _ in triples if _one_class(y)]
    strict = None if len(one_class) == len(triples) else frame_auc_macro_strict(labels, scores)
    padded = frame_auc_macro_padded(labels, scores)
    return {
        "auc_micro": frame_auc_micro(labels, scores),
        "auc_macro": padded if PAPER_MACRO_CONVENTION == "padded" else strict,
        "auc_macro_strict": strict,
        "auc_macro_padded": padded,
        "frames": int(sum(len(y) for _, y, _ in triples)),
        "videos": len(triples),
        "one_class_videos": one_class,
    }
