"""Inference: object scores, anomaly maps, frame scores, late fusion (paper sections 3.4, 3.5).

* :mod:`~bench.score.objects`: the per-object anomaly score of eq. (6), batch by batch;
* :mod:`~bench.score.fold`: the model scoring runs, its batch norm folded into the convolutions;
* :mod:`~bench.score.heads`: how eq. (6) combines its heads (as published, or standardised);
* :mod:`~bench.score.maps`: object scores painted into pixel anomaly maps, the 3D mean filter,
  frame scores and the temporal Gaussian (section 3.4); scored regions for RBDC/TBDC;
* :mod:`~bench.score.fusion`: late fusion of object-level and frame-level scores (section 3.5);
* :mod:`~bench.score.frame_diff`: the frame-difference baseline, which needs no training.
"""

from __future__ import annotations

from bench.score.fold import fold_batch_norm
from bench.score.frame_diff import frame_difference_scores, frame_difference_video
from bench.score.fusion import late_fusion
from bench.score.heads import HEAD_SCALES, HeadStatistics, combine_heads, head_statistics
from bench.score.maps import (
    MapConfig,
    frame_scores,
    frame_sizes,
    head_frame_scores,
    paint_maps,
    scored_regions,
    video_frame_scores,
)
from bench.score.objects import (
    CPU_BATCH_SIZE,
    CUDA_BATCH_SIZE,
    batch_scores,
    default_batch_size,
    distill_scores,
    object_scores,
    validation_statistics,
)

__all__ = [
    "CPU_BATCH_SIZE",
    "CUDA_BATCH_SIZE",
    "HEAD_SCALES",
    "HeadStatistics",
    "MapConfig",
    "batch_scores",
    "combine_heads",
    "default_batch_size",
    "distill_scores",
    "fold_batch_norm",
    "frame_difference_scores",
    "frame_difference_video",
    "frame_scores",
    "frame_sizes",
    "head_frame_scores",
    "head_statistics",
    "late_fusion",
    "object_scores",
    "paint_maps",
    "scored_regions",
    "validation_statistics",
    "video_frame_scores",
]
