"""Evaluation metrics: frame-level AUC (micro/macro), score post-processing, RBDC/TBDC."""

from bench.metrics.bootstrap import frame_auc_intervals, localization_intervals
from bench.metrics.chance import chance_levels, padded_chance
from bench.metrics.frame_auc import (
    PAPER_MACRO_CONVENTION,
    average_ranks,
    frame_auc_macro_padded,
    frame_auc_macro_strict,
    frame_auc_micro,
    frame_auc_per_video,
    frame_auc_report,
    roc_auc,
    roc_curve_points,
)
from bench.metrics.localization import box_iou, box_iou_rows, closed_curve_area, rbdc_tbdc
from bench.metrics.postprocess import (
    apply_per_video,
    gaussian_smooth,
    normalize_per_video,
    postprocess,
)

__all__ = [
    "chance_levels",
    "frame_auc_intervals",
    "localization_intervals",
    "padded_chance",
    "PAPER_MACRO_CONVENTION",
    "apply_per_video",
    "average_ranks",
    "box_iou",
    "box_iou_rows",
    "closed_curve_area",
    "frame_auc_macro_padded",
    "frame_auc_macro_strict",
    "frame_auc_micro",
    "frame_auc_per_video",
    "frame_auc_report",
    "gaussian_smooth",
    "normalize_per_video",
    "postprocess",
    "rbdc_tbdc",
    "roc_auc",
    "roc_curve_points",
]
