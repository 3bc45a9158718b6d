"""Late fusion of the object-level and frame-level frame scores (paper section 3.5).

The frame-level variant drops the object detector from the pipeline and keeps the other
components; its frame scores and the object-level ones are fused "at a late stage". How (per-video
min-max normalisation, then a weighted mean) the paper does not say: that is our choice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.errors import ProvenanceError
from bench.metrics import normalize_per_video


def late_fusion(
    object_level: dict[str, np.ndarray],
    frame_level: dict[str, np.ndarray],
    weight: float = 0.5,
    names: tuple[str | Path, str | Path] = ("object-level scores", "frame-level scores"),
) -> dict[str, np.ndarray]:
    """Section 3.5: per video, min-max normalise both frame-score series and average them
    (``weight`` on the object level). Both must hold the same videos with the same frame counts
    (:class:`ProvenanceError` naming ``names``, the two inputs, otherwise): a video missing on
    one side is not dropped silently."""
    first, second = names
    only = sorted(set(object_level) ^ set(frame_level))
    if only:
        sides = {
            str(first): [v for v in only if v in object_level],
            str(second): [v for v in only if v in frame_level],
        }
        where = "; ".join(f"only in {name}: {', '.join(v)}" for name, v in sides.items() if v)
        raise ProvenanceError(
            f"the two score files hold different videos ({where})",
            file=f"{first} + {second}",
            fix="fuse the object- and frame-level scores of the same dataset and split",
        )
    lengths = [
        f"{k}: {len(object_level[k])} vs {len(frame_level[k])} frames"
        for k in sorted(object_level)
        if len(object_level[k]) != len(frame_level[k])
    ]
    if lengths:
        raise ProvenanceError(
            f"frame counts differ ({'; '.join(lengths[:5])})",
            file=f"{first} + {second}",
            fix="fuse the object- and frame-level scores of the same dataset and split",
        )
    return {
        k: weight * normalize_per_video(object_level[k])
        + (1 - weight) * normalize_per_video(frame_level[k])
        for k in object_level
    }
