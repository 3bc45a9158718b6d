"""Inference: object scores (eq. 6), pixel anomaly maps, frame scores (paper sections 3.4, 3.5).

1. Object score, eq. (6): the mean over the enabled heads of
   T1 the probability that the (forward) test sequence moves backward,
   T2 the probability that the (consecutive) test sequence is intermittent,
   T3 the mean absolute error between the middle crop and its reconstruction,
   T4 the mean absolute difference between the detector's 80 class probabilities and the
   student's prediction of them (the ImageNet teacher is not used at inference).
   When the distillation targets hold no detector probabilities (``n_distill == 1000``, the
   frame-level variant without a detector) the T4 score compares the ImageNet logits instead.
2. Each object's score is painted into its box on a per-frame map (``map_scale`` times smaller
   than the frame; overlapping boxes keep the maximum), the video's maps are smoothed with a 3D
   mean filter of size ``mean_filter`` (frames, pixels, pixels), and the frame score is the
   maximum of its map. A frame with no object scores 0.
3. A temporal Gaussian filter (``sigma`` frames) smooths the frame scores (section 3.4).

The paper gives neither the map resolution nor the filter sizes; they are parameters
(``params.yaml`` ``scoring``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from tqdm import tqdm

from bench.metrics import gaussian_smooth, normalize_per_video
from bench.model import SSMTL
from bench.tubes import TubeCache

YOLO_CLASSES = 80


@torch.no_grad()
def object_scores(model: SSMTL, cache: TubeCache, targets: np.ndarray | None, batch_size: int = 256, progress: bool = True) -> dict[str, np.ndarray]:
    """Per-head anomaly scores and their mean (eq. 6) for every tube of a test cache."""
    if "distill" in model.tasks and targets is None:
        raise ValueError("the distillation head needs targets: the test split's detector class probabilities (ssmtl teachers --imagenet none)")
    device = next(model.parameters()).device
    model.eval()
    heads: dict[str, list[np.ndarray]] = {task: [] for task in model.tasks}
    rows_all = np.arange(len(cache))
    for start in tqdm(range(0, len(cache), batch_size), desc="score objects", disable=not progress):
        rows = rows_all[start : start + batch_size]
        x = torch.from_numpy(np.ascontiguousarray(cache.tubes[rows])).to(device).permute(0, 2, 1, 3, 4).float().div_(255.0)
        t = x.shape[2] // 2
        if "arrow" in model.tasks:
            heads["arrow"].append(model.arrow(x).float().softmax(1)[:, 1].cpu().numpy())
        if "motion" in model.tasks:
            heads["motion"].append(model.motion(x).float().softmax(1)[:, 1].cpu().numpy())
        if "middle" in model.tasks:
            context = torch.cat([x[:, :, :t], x[:, :, t + 1 :]], dim=2)
            heads["middle"].append((model.middle(context).float() - x[:, :, t]).abs().mean(dim=(1, 2, 3)).cpu().numpy())
        if "distill" in model.tasks:
            predicted = model.distill(x[:, :, t : t + 1]).float().cpu().numpy()
            target = targets[cache.index["detection_row"][rows]]
            part = slice(-YOLO_CLASSES, None) if target.shape[1] > 1000 else slice(None)
            heads["distill"].append(np.abs(predicted[:, part] - target[:, part]).mean(axis=1))
    scores = {task: np.concatenate(values) if values else np.zeros(0) for task, values in heads.items()}
    scores["score"] = np.mean([scores[task] for task in model.tasks], axis=0) if len(cache) else np.zeros(0)
    return scores


@dataclass
class MapConfig:
    """Anomaly-map parameters (paper silent: our defaults, see ``params.yaml``)."""

    map_scale: int = 4  # the map is this many times smaller than the frame
    mean_filter: tuple[int, int, int] = (3, 5, 5)  # 3D mean filter (frames, map pixels, map pixels)
    sigma: float = 3.0  # temporal Gaussian filter on frame scores, in frames


def paint_maps(frames: np.ndarray, boxes: np.ndarray, scores: np.ndarray, num_frames: int, size: tuple[int, int], scale: int) -> np.ndarray:
    """Per-frame maps ``(num_frames, h, w)``: each pixel the max score of the boxes covering it."""
    h, w = -(-size[0] // scale), -(-size[1] // scale)
    maps = np.zeros((num_frames, h, w), dtype=np.float32)
    if len(frames) == 0:
        return maps
    ys, xs = np.arange(h) * scale + scale / 2, np.arange(w) * scale + scale / 2
    rows = (ys[None, :] >= boxes[:, 1:2]) & (ys[None, :] < boxes[:, 3:4])  # (K, h)
    cols = (xs[None, :] >= boxes[:, 0:1]) & (xs[None, :] < boxes[:, 2:3])  # (K, w)
    # a box smaller than a map cell may hold no cell centre: it then paints the cell of its centre
    rows |= ~rows.any(1, keepdims=True) & (np.arange(h)[None, :] == np.clip((boxes[:, 1:2] + boxes[:, 3:4]) // (2 * scale), 0, h - 1))
    cols |= ~cols.any(1, keepdims=True) & (np.arange(w)[None, :] == np.clip((boxes[:, 0:1] + boxes[:, 2:3]) // (2 * scale), 0, w - 1))
    order = np.argsort(frames, kind="stable")
    starts = np.searchsorted(frames[order], np.arange(num_frames + 1))
    for frame in np.flatnonzero(np.diff(starts)):
        group = order[starts[frame] : starts[frame + 1]]
        painted = rows[group, :, None] & cols[group, None, :]
        maps[frame] = (painted * scores[group, None, None].astype(np.float32)).max(axis=0)
    return maps


def frame_scores(maps: np.ndarray, config: MapConfig) -> np.ndarray:
    """3D mean filter, max per frame, temporal Gaussian (section 3.4)."""
    smoothed = ndimage.uniform_filter(maps, size=config.mean_filter, mode="nearest")
    return gaussian_smooth(smoothed.reshape(len(maps), -1).max(axis=1), config.sigma)


def video_frame_scores(cache: TubeCache, scores: np.ndarray, frame_size: dict[str, tuple[int, int]], config: MapConfig) -> dict[str, np.ndarray]:
    """Frame scores of every test video from its objects' scores."""
    videos, frames, boxes = cache.index["video"], cache.index["frame"], cache.index["box"]
    result = {}
    for video, num_frames in cache.num_frames.items():
        mine = videos == video
        maps = paint_maps(frames[mine], boxes[mine], scores[mine], num_frames, frame_size[video], config.map_scale)
        result[video] = frame_scores(maps, config)
    return result


def scored_regions(cache: TubeCache, scores: np.ndarray) -> dict[str, np.ndarray]:
    """Predicted regions for RBDC/TBDC: every object box with its score, per video."""
    videos = cache.index["video"]
    rows = np.column_stack([cache.index["frame"], cache.index["box"], scores]).astype(np.float64)
    return {video: rows[videos == video] for video in cache.num_frames}


def late_fusion(object_level: dict[str, np.ndarray], frame_level: dict[str, np.ndarray], weight: float = 0.5) -> dict[str, np.ndarray]:
    """Section 3.5: per video, min-max normalise both frame-score series and average them."""
    return {k: weight * normalize_per_video(object_level[k]) + (1 - weight) * normalize_per_video(frame_level[k]) for k in object_level}
