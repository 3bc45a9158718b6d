"""Issue 16's map-resolution suspect: T3's reconstruction error as a per-pixel map, not its mean.

Eq. (6) scores an object by the *mean* absolute error of its middle-crop reconstruction (T3),
painted uniformly into its box. At frame level (section 3.5) the object is the whole frame, so
an abnormal object that covers a few percent of it moves that mean little; the supplementary
says the frame-level framework "can localize anomalies by considering the magnitude of
reconstruction errors in the output of the middle frame prediction head". This experiment keeps
one checkpoint and scores its objects both ways through the same maps, filters and evaluation:

- ``middle_mean``: eq. (6)'s T3 term (the default everywhere);
- ``middle_pixel_max``: the maximum of the per-pixel error map (channel mean) after a spatial
  mean filter of the anomaly map's filter size in frame pixels (``mean_filter`` x ``map_scale``,
  converted to crop pixels per object box), i.e. section 3.4's "maximum score in the anomaly
  map" applied inside the object;
- ``eq6`` and ``eq6_middle_pixel_max``: eq. (6)'s mean of the heads (:func:`score_tasks`) with
  either T3 term;
- ``localization``: how often the peak of the error map (of the frame's highest-scoring object)
  falls inside a ground-truth anomaly region, against the rate of a uniformly random peak (the
  regions' share of the frame area);
- ``crowd_correlation`` (given a detections file): each row's object scores on the *normal*
  test frames against how many objects the detector finds in the frame (Spearman): a frame-level
  score that follows the crowd ranks the normal frames of a crowded video above the abnormal
  frames of a sparse one, which costs micro AUC and not per-video (macro) AUC.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from scipy.stats import spearmanr

from bench.data import VideoDataset
from bench.detection import Detections
from bench.errors import InputError
from bench.model import SSMTL
from bench.progress import progress_bar
from bench.score import MapConfig, fold_batch_norm, frame_sizes, object_scores
from bench.score.heads import combine_heads
from bench.score.objects import score_tasks
from bench.suite.checkpoint_inputs import CheckpointInputs
from bench.suite.convergence import check_same_t, write_auc_rows
from bench.tasks import middle_error, tubes_to_float
from bench.train import load_checkpoint
from bench.tubes import TubeCache

CROP = 64  # the tubes' crop side (section 3.1)


def filter_sizes(boxes: np.ndarray, config: MapConfig) -> np.ndarray:
    """Per object ``(rows, cols)`` of the mean filter in crop pixels: the anomaly map's spatial
    filter (``mean_filter[1:]`` map pixels of ``map_scale`` frame pixels) over the box's height
    and width, at least 1."""
    frame_px = np.asarray(config.mean_filter[1:], dtype=float) * config.map_scale
    sides = np.stack([boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]], axis=1)
    return np.maximum(1, np.rint(frame_px * CROP / np.maximum(sides, 1))).astype(int)


@torch.no_grad()
def middle_peaks(
    model: SSMTL, cache: TubeCache, config: MapConfig, batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Each object's ``middle_pixel_max`` (module docstring) and where it peaks, ``(row, col)``
    in crop pixels (batch norm folded, as in :func:`object_scores`)."""
    model = fold_batch_norm(model)
    device = next(model.parameters()).device
    sizes = filter_sizes(cache.index["box"].astype(float), config)
    values = np.zeros(len(cache), dtype=np.float64)
    peaks = np.zeros((len(cache), 2), dtype=np.int64)
    for start in progress_bar(range(0, len(cache), batch_size), desc="T3 error maps"):
        rows = np.arange(start, min(start + batch_size, len(cache)))
        x = tubes_to_float(cache.tubes[rows], device)
        maps = middle_error(model, x).mean(dim=1).cpu().numpy()
        # one filter call per filter size in the batch (a frame-level cache has a single size)
        sizes_here, group = np.unique(sizes[rows], axis=0, return_inverse=True)
        for k, (height, width) in enumerate(sizes_here):
            mine = group.ravel() == k
            smoothed = ndimage.uniform_filter(maps[mine], size=(1, height, width), mode="nearest")
            flat = smoothed.reshape(len(smoothed), -1).argmax(axis=1)
            values[rows[mine]] = smoothed.reshape(len(smoothed), -1)[np.arange(len(flat)), flat]
            peaks[rows[mine]] = np.column_stack(np.unravel_index(flat, smoothed.shape[1:]))
    return values, peaks


def peak_localization(
    dataset: VideoDataset, cache: TubeCache, values: np.ndarray, peaks: np.ndarray
) -> dict:
    """Share of ground-truth anomaly regions whose frame's error peak (that of the frame's object
    with the highest ``values``) lies inside the region, and the chance rate (region area over
    frame area, averaged)."""
    sizes = frame_sizes(dataset)
    index = cache.index
    best: dict[tuple[str, int], int] = {}
    for row in np.argsort(values):  # ascending: the highest-scoring object of a frame wins
        best[(str(index["video"][row]), int(index["frame"][row]))] = int(row)
    hits, chance, regions = 0, 0.0, 0
    for video, tracks in dataset.test_tracks().items():
        height, width = sizes[video]
        for _, frame, x1, y1, x2, y2 in np.asarray(tracks, dtype=float):
            row = best.get((video, int(frame)))
            if row is None:
                continue
            bx1, by1, bx2, by2 = index["box"][row].astype(float)
            y = by1 + (peaks[row, 0] + 0.5) * (by2 - by1) / CROP
            x = bx1 + (peaks[row, 1] + 0.5) * (bx2 - bx1) / CROP
            hits += int(x1 <= x <= x2 and y1 <= y <= y2)
            chance += (x2 - x1) * (y2 - y1) / (height * width)
            regions += 1
    return {
        "regions": regions,
        "peak_in_region": hits / regions if regions else None,
        "chance": chance / regions if regions else None,
    }


def frame_keys(videos: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """One sortable ``"video/frame"`` string per row."""
    return np.char.add(
        np.char.add(np.asarray(videos).astype(str), "/"), np.asarray(frames).astype(str)
    )


def crowd_correlation(
    dataset: VideoDataset, cache: TubeCache, rows: dict[str, np.ndarray], detections: Path
) -> dict:
    """Spearman correlation of each of ``rows``' object scores with the number of ``detections``
    in the object's frame, over the objects of normal test frames."""
    table = Detections.load(detections)
    found, counts = np.unique(frame_keys(table.video, table.frame), return_counts=True)
    index = cache.index
    keys = frame_keys(index["video"], index["frame"])
    crowd = np.zeros(len(keys))
    if len(found):
        at = np.minimum(np.searchsorted(found, keys), len(found) - 1)
        hit = found[at] == keys
        crowd[hit] = counts[at[hit]]
    labels = dataset.test_labels()
    normal = np.array(
        [not labels[str(v)][int(f)] for v, f in zip(index["video"], index["frame"], strict=True)]
    )
    result = {"normal_objects": int(normal.sum()), "detections": str(detections), "spearman": {}}
    for name, scores in rows.items():
        rho = spearmanr(scores[normal], crowd[normal])[0] if normal.sum() > 2 else None
        result["spearman"][name] = None if rho is None or np.isnan(rho) else float(rho)
    return result


def middle_map_experiment(
    inputs: CheckpointInputs,
    resamples: int = 1000,
    alpha: float = 0.1,
    beta: float = 0.1,
    imagenet_term: str = "none",
    detections: Path | None = None,
) -> dict:
    """Score the checkpoint's test objects with T3 as its mean and as its filtered per-pixel
    maximum, alone and in eq. (6), evaluate each like ``ssmtl evaluate`` and write the table
    (the localization of the error peaks and, with ``detections``, the crowd correlation) to
    ``inputs.out``."""
    dataset, checkpoint, config = inputs.dataset, inputs.checkpoint, inputs.config
    model, _, t = load_checkpoint(checkpoint)
    cache = TubeCache.open(inputs.test_tubes)
    check_same_t(cache, checkpoint, t)
    if "middle" not in model.tasks:
        raise InputError(
            "the model has no T3 (middle box) head",
            file=checkpoint,
            fix="give a checkpoint trained with the middle task",
        )
    test_targets = inputs.test_targets
    targets = None if test_targets is None else np.load(test_targets, mmap_mode="r")
    heads = object_scores(model, cache, targets, imagenet_term=imagenet_term)
    pixel_max, peaks = middle_peaks(model, cache, config)
    n_targets = None if targets is None else targets.shape[1]
    tasks = score_tasks(model.tasks, n_targets, imagenet_term)
    candidates = {
        "middle_mean": heads["middle"],
        "middle_pixel_max": pixel_max,
        "eq6": heads["score"],
        "eq6_middle_pixel_max": combine_heads({**heads, "middle": pixel_max}, tasks),
    }
    table: dict = {
        "checkpoint": str(checkpoint),
        "test_objects": len(cache),
        "combined_heads": list(tasks),
        "filter_frame_pixels": [v * config.map_scale for v in config.mean_filter[1:]],
        "localization": peak_localization(dataset, cache, pixel_max, peaks),
        "rows": {},
    }
    if detections is not None:
        table["crowd_correlation"] = crowd_correlation(dataset, cache, candidates, detections)
    return write_auc_rows(
        dataset, cache, candidates, config, table, inputs.out, alpha, beta, resamples
    )
