"""Late fusion of the object-level and frame-level frame scores (paper section 3.5).

The frame-level variant drops the object detector from the pipeline and keeps the other
components; its frame scores and the object-level ones are fused "at a late stage". How (per-video
min-max normalisation, then a weighted mean) the paper does not say: that is our choice.
"""

from __future__ import annotations

import numpy as np

from bench.metrics import normalize_per_video


def late_fusion(
    object_level: dict[str, np.ndarray], frame_level: dict[str, np.ndarray], weight: float = 0.5
) -> dict[str, np.ndarray]:
    """Section 3.5: per video, min-max normalise both frame-score series and average them
    (``weight`` on the object level)."""
    return {
        k: weight * normalize_per_video(object_level[k])
        + (1 - weight) * normalize_per_video(frame_level[k])
        for k in object_level
    }
