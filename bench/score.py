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

from bench.datasets import VideoDataset
from bench.detection.table import NUM_COCO_CLASSES
from bench.metrics import gaussian_smooth, normalize_per_video
from bench.model import SEQUENCE_TASKS, SSMTL
from bench.teachers import IMAGENET_CLASSES
from bench.tubes import TubeCache

# CPU: large 3D-conv batches thrash the caches (a shallow_narrow activation is 1.8 MB per tube).
# object_scores, shallow_narrow, 2 shared AMD EPYC cores, 512 synthetic test tubes, objects/s:
# batch 256: 40, 64: 59, 32: 58, 16: 64, 8: 95 (4 and 2: no faster); separate T1/T2 passes at 256: 28.
CPU_BATCH_SIZE = 8
CUDA_BATCH_SIZE = 256  # GPUs want large batches (the previous default; not measured here)


def default_batch_size(device: torch.device) -> int:
    """The scoring batch size for ``device`` (see :data:`CPU_BATCH_SIZE`)."""
    return CPU_BATCH_SIZE if device.type == "cpu" else CUDA_BATCH_SIZE


def distill_scores(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """T4 score of eq. (6): mean absolute difference between the detector's class probabilities
    and the student's prediction of them (the last 80 columns of both; ``target`` may hold only
    those 80). 1000-column targets (frame level, no detector) compare the ImageNet logits."""
    part = slice(None) if target.shape[1] == IMAGENET_CLASSES else slice(-NUM_COCO_CLASSES, None)
    return np.abs(predicted[:, part] - target[:, part]).mean(axis=1)


@torch.no_grad()
def batch_scores(model: SSMTL, x: torch.Tensor, targets: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per-head anomaly scores (eq. 6, section 3.4) of forward test sequences ``x``
    ``(B, 3, 2t+1, 64, 64)`` in [0, 1]; ``targets``: the objects' T4 targets ``(B, n)``, n = 1080,
    1000 or the detector's 80 class probabilities alone (see :func:`distill_scores`).

    T1 and T2 share one pass of the 3D CNN (:meth:`SSMTL.sequence_logits`)."""
    t = x.shape[2] // 2
    scores: dict[str, np.ndarray] = {}
    if any(task in model.tasks for task in SEQUENCE_TASKS):
        for task, logits in model.sequence_logits(x).items():
            scores[task] = logits.float().softmax(1)[:, 1].cpu().numpy()
    if "middle" in model.tasks:
        context = torch.cat([x[:, :, :t], x[:, :, t + 1 :]], dim=2)
        scores["middle"] = (model.middle(context).float() - x[:, :, t]).abs().mean(dim=(1, 2, 3)).cpu().numpy()
    if "distill" in model.tasks:
        scores["distill"] = distill_scores(model.distill(x[:, :, t : t + 1]).float().cpu().numpy(), targets)
    return scores


def mean_score(heads: dict[str, np.ndarray], tasks: tuple[str, ...]) -> np.ndarray:
    """Eq. (6): an object's anomaly score is the mean of the scores of the enabled heads."""
    return np.mean([heads[task] for task in tasks], axis=0)


@torch.no_grad()
def object_scores(model: SSMTL, cache: TubeCache, targets: np.ndarray | None, batch_size: int | None = None, progress: bool = True) -> dict[str, np.ndarray]:
    """Per-head anomaly scores and their mean (eq. 6) for every tube of a test cache, ``batch_size``
    tubes at a time (default: :func:`default_batch_size` of the model's device)."""
    if "distill" in model.tasks and targets is None:
        raise ValueError("the distillation head needs targets: the test split's detector class probabilities (ssmtl teachers --imagenet none)")
    device = next(model.parameters()).device
    batch_size = batch_size or default_batch_size(device)
    model.eval()
    heads: dict[str, list[np.ndarray]] = {task: [] for task in model.tasks}
    rows_all = np.arange(len(cache))
    for start in tqdm(range(0, len(cache), batch_size), desc="score objects", disable=not progress):
        rows = rows_all[start : start + batch_size]
        x = torch.from_numpy(np.ascontiguousarray(cache.tubes[rows])).to(device).permute(0, 2, 1, 3, 4).float().div_(255.0)
        target = targets[cache.index["detection_row"][rows]] if "distill" in model.tasks else None
        for task, values in batch_scores(model, x, target).items():
            heads[task].append(values)
    scores = {task: np.concatenate(values) if values else np.zeros(0) for task, values in heads.items()}
    scores["score"] = mean_score(scores, model.tasks) if len(cache) else np.zeros(0)
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


def frame_sizes(dataset: VideoDataset) -> dict[str, tuple[int, int]]:
    """``(height, width)`` of every test video, read from its first frame."""
    return {video.id: video[0].shape[:2] for video in dataset.videos("test")}


def video_frame_scores(cache: TubeCache, scores: np.ndarray, frame_size: dict[str, tuple[int, int]], config: MapConfig,
                       frame_stride: int = 1) -> dict[str, np.ndarray]:
    """Frame scores of every test video from its objects' scores. ``frame_stride = n > 1``: the
    cache holds the objects of frames ``0, n, 2n, ...`` only, and the result has one score per
    such frame (:class:`bench.datasets.subsample.EveryNthFrame` gives the matching ground truth)."""
    videos, frames, boxes = cache.index["video"], cache.index["frame"] // frame_stride, cache.index["box"]
    result = {}
    for video, num_frames in cache.num_frames.items():
        mine = videos == video
        maps = paint_maps(frames[mine], boxes[mine], scores[mine], -(-num_frames // frame_stride), frame_size[video], config.map_scale)
        result[video] = frame_scores(maps, config)
    return result


def scored_regions(cache: TubeCache, scores: np.ndarray, frame_stride: int = 1) -> dict[str, np.ndarray]:
    """Predicted regions for RBDC/TBDC: every object box with its score, per video (frames
    renumbered ``frame // frame_stride``, as in :func:`video_frame_scores`)."""
    videos = cache.index["video"]
    rows = np.column_stack([cache.index["frame"] // frame_stride, cache.index["box"], scores]).astype(np.float64)
    return {video: rows[videos == video] for video in cache.num_frames}


def late_fusion(object_level: dict[str, np.ndarray], frame_level: dict[str, np.ndarray], weight: float = 0.5) -> dict[str, np.ndarray]:
    """Section 3.5: per video, min-max normalise both frame-score series and average them."""
    return {k: weight * normalize_per_video(object_level[k]) + (1 - weight) * normalize_per_video(frame_level[k]) for k in object_level}
