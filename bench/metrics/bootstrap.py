"""Bootstrap confidence intervals over test videos for frame AUC, RBDC and TBDC.

Frames of one video are strongly correlated (one scene, one anomaly), so the unit of resampling
is the video: each of ``resamples`` draws takes as many videos as the test set has, with
replacement (seeded), recomputes every metric on the drawn videos, and the interval is the
percentile interval of the draws (``level`` 0.95: the 2.5th and 97.5th percentiles). A drawn
video that appears twice counts twice. Draws in which a metric is undefined (a strict macro
AUC with no two-class video, a micro AUC with one class, RBDC/TBDC without ground-truth
regions) are left out of that metric's interval; ``draws`` says how many were used.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bench.metrics.frame_auc import padded_auc, rank_auc
from bench.metrics.localization import rbdc_tbdc
from bench.metrics.postprocess import normalize_per_video
from bench.progress import progress_bar

RESAMPLES = 1000
LEVEL = 0.95


def _interval(values: list[float] | np.ndarray, level: float) -> dict[str, float] | None:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return {"low": float(low), "high": float(high), "draws": len(values)}


def draws(videos: int, resamples: int, seed: int) -> np.ndarray:
    """``(resamples, videos)`` indices of the videos drawn with replacement, seeded."""
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    return np.random.default_rng(seed).integers(0, videos, size=(resamples, videos))


def frame_auc_intervals(
    labels: Mapping[str, np.ndarray],
    scores: Mapping[str, np.ndarray],
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> dict[str, dict[str, float] | None]:
    """Percentile intervals of ``auc_micro``, ``auc_macro_strict`` and ``auc_macro_padded``."""
    vids = sorted(labels)
    ys = [np.asarray(labels[v]).astype(bool) for v in vids]
    ss = [np.asarray(scores[v], dtype=np.float64) for v in vids]
    two_class = np.array([y.any() and not y.all() for y in ys])
    strict = np.array(
        [rank_auc(y, s) if c else np.nan for y, s, c in zip(ys, ss, two_class, strict=True)]
    )
    padded = np.array([padded_auc(y, normalize_per_video(s)) for y, s in zip(ys, ss, strict=True)])
    index = draws(len(vids), resamples, seed)
    with np.errstate(invalid="ignore"):  # a draw without two-class videos has no strict macro
        strict_draws = np.nanmean(np.where(two_class[index], strict[index], np.nan), axis=1)
    micro_draws = []
    for row in progress_bar(index, desc="bootstrap frame AUC", unit="draw", leave=False):
        y, s = np.concatenate([ys[i] for i in row]), np.concatenate([ss[i] for i in row])
        micro_draws.append(rank_auc(y, s) if y.any() and not y.all() else np.nan)
    return {
        "auc_micro": _interval(micro_draws, level),
        "auc_macro_strict": _interval(strict_draws, level),
        "auc_macro_padded": _interval(padded[index].mean(axis=1), level),
    }


def localization_intervals(
    regions: Mapping[str, np.ndarray],
    tracks: Mapping[str, np.ndarray],
    num_frames: Mapping[str, int],
    alpha: float,
    beta: float,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> dict[str, dict[str, float] | None]:
    """Percentile intervals of ``rbdc`` and ``tbdc``: each draw renames its videos (a video drawn
    twice becomes two videos) and recomputes both criteria."""
    vids = sorted(num_frames)
    empty = np.zeros((0, 6))
    rbdc, tbdc = [], []
    index = draws(len(vids), resamples, seed)
    for row in progress_bar(index, desc="bootstrap RBDC/TBDC", unit="draw", leave=False):
        names = [f"{vids[i]}#{j}" for j, i in enumerate(row)]
        drawn_tracks = {n: tracks.get(vids[i], empty) for n, i in zip(names, row, strict=True)}
        if not any(len(t) for t in drawn_tracks.values()):
            rbdc.append(np.nan)
            tbdc.append(np.nan)
            continue
        result = rbdc_tbdc(
            {n: regions.get(vids[i], empty) for n, i in zip(names, row, strict=True)},
            drawn_tracks,
            {n: num_frames[vids[i]] for n, i in zip(names, row, strict=True)},
            alpha=alpha,
            beta=beta,
        )
        rbdc.append(result["rbdc"])
        tbdc.append(result["tbdc"])
    return {"rbdc": _interval(rbdc, level), "tbdc": _interval(tbdc, level)}
