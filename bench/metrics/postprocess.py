"""Optional score post-processing, applied per video BEFORE any AUC (never inside it).

Order used by :func:`postprocess`: temporal Gaussian smoothing first, then per-video min-max
normalisation (as in ``ristea/aed-mae`` ``evaluate_model``: filter, then normalise, then AUC).
Each step works on one video's 1-D score array; :func:`apply_per_video` maps a step over a
``{video_id: scores}`` dict, so smoothing never crosses video boundaries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy.ndimage import gaussian_filter1d

DEFAULT_TRUNCATE = 4.0


def _scores(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"scores hold {int((~np.isfinite(s)).sum())} non-finite (NaN/inf) values")
    return s


def gaussian_smooth(
    scores: np.ndarray, sigma: float, truncate: float = DEFAULT_TRUNCATE
) -> np.ndarray:
    """Temporal 1-D Gaussian filter of one video's scores.

    ``scipy.ndimage.gaussian_filter1d(scores, sigma, mode="nearest", truncate=truncate)``: the
    kernel has radius ``int(truncate * sigma + 0.5)`` frames (default: 4 sigma) and is
    renormalised to sum 1; beyond the video ends the first/last score is repeated
    (``"nearest"``), so a constant signal stays constant. ``sigma == 0`` returns a copy.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    s = _scores(scores)
    if sigma == 0 or len(s) == 0:
        return s.copy()
    return gaussian_filter1d(s, float(sigma), mode="nearest", truncate=truncate)


def normalize_per_video(scores: np.ndarray) -> np.ndarray:
    """Min-max normalisation of one video's scores to ``[0, 1]``; a constant video gives zeros."""
    s = _scores(scores)
    if len(s) == 0:
        return s.copy()
    low, span = s.min(), s.max() - s.min()
    return np.zeros_like(s) if span == 0 else (s - low) / span


def apply_per_video(
    fn: Callable[[np.ndarray], np.ndarray], scores: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """``{vid: fn(scores[vid])}`` in sorted video-id order; errors are prefixed with the id."""
    out = {}
    for vid in sorted(scores):
        try:
            out[vid] = fn(scores[vid])
        except ValueError as error:
            raise ValueError(f"video {vid}: {error}") from error
    return out


def postprocess(
    scores: Mapping[str, np.ndarray],
    sigma: float = 0.0,
    normalize: bool = False,
    truncate: float = DEFAULT_TRUNCATE,
) -> dict[str, np.ndarray]:
    """Smooth (``sigma`` frames, 0 = off) then, if ``normalize``, min-max normalise each video."""
    out = apply_per_video(lambda s: gaussian_smooth(s, sigma, truncate), scores)
    return apply_per_video(normalize_per_video, out) if normalize else out
