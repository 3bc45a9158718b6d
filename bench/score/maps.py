"""Pixel anomaly maps and frame scores from object scores (paper section 3.4).

1. Each object's score (eq. 6, :mod:`bench.score.objects`) is painted into its box on a
   per-frame map (``map_scale`` times smaller than the frame; overlapping boxes keep the
   maximum).
2. The video's maps are smoothed with a 3D mean filter of size ``mean_filter`` (frames, pixels,
   pixels), and the frame score is the maximum of its map. A frame with no object scores 0.
3. A temporal Gaussian filter (``sigma`` frames) smooths the frame scores.

The paper gives neither the map resolution nor the filter sizes; they are parameters
(``params.yaml`` ``scoring``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from bench.data import VideoDataset
from bench.errors import ParameterError
from bench.metrics import gaussian_smooth
from bench.progress import progress_bar
from bench.tubes import TubeCache


@dataclass
class MapConfig:
    """Anomaly-map parameters (paper silent: our defaults, see ``params.yaml``)."""

    map_scale: int = 4  # the map is this many times smaller than the frame
    mean_filter: tuple[int, int, int] = (3, 5, 5)  # 3D mean filter (frames, map pixels, map pixels)
    sigma: float = 3.0  # temporal Gaussian filter on frame scores, in frames

    def at_stride(self, stride: int) -> MapConfig:
        """The same filters for frame scores of every ``stride``-th frame: the temporal mean
        filter and the Gaussian keep their length in frames of the video (a mean filter shorter
        than the stride becomes one kept frame), so a subsampled evaluation smooths over the
        same stretch of time as the full one and its AUC estimates the full AUC."""
        if stride < 1:
            raise ParameterError(f"frame stride must be >= 1, got {stride}")
        frames, height, width = self.mean_filter
        kept = max(1, round(frames / stride))
        return replace(self, mean_filter=(kept, height, width), sigma=self.sigma / stride)


def paint_maps(
    frames: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
    num_frames: int,
    size: tuple[int, int],
    scale: int,
) -> np.ndarray:
    """Per-frame maps ``(num_frames, h, w)``: each pixel the max score of the boxes covering it."""
    h, w = -(-size[0] // scale), -(-size[1] // scale)
    maps = np.zeros((num_frames, h, w), dtype=np.float32)
    if len(frames) == 0:
        return maps
    ys, xs = np.arange(h) * scale + scale / 2, np.arange(w) * scale + scale / 2
    rows = (ys[None, :] >= boxes[:, 1:2]) & (ys[None, :] < boxes[:, 3:4])  # (K, h)
    cols = (xs[None, :] >= boxes[:, 0:1]) & (xs[None, :] < boxes[:, 2:3])  # (K, w)
    # a box smaller than a map cell may hold no cell centre: it then paints the cell of its centre
    centre_row = np.clip((boxes[:, 1:2] + boxes[:, 3:4]) // (2 * scale), 0, h - 1)
    centre_col = np.clip((boxes[:, 0:1] + boxes[:, 2:3]) // (2 * scale), 0, w - 1)
    rows |= ~rows.any(1, keepdims=True) & (np.arange(h)[None, :] == centre_row)
    cols |= ~cols.any(1, keepdims=True) & (np.arange(w)[None, :] == centre_col)
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


def video_frame_scores(
    cache: TubeCache,
    scores: np.ndarray,
    frame_size: dict[str, tuple[int, int]],
    config: MapConfig,
    frame_stride: int = 1,
) -> dict[str, np.ndarray]:
    """Frame scores of every test video from its objects' scores. ``frame_stride = n > 1``: the
    cache holds the objects of frames ``0, n, 2n, ...`` only, and the result has one score per
    such frame (:class:`bench.data.subsample.EveryNthFrame` gives the matching ground truth),
    smoothed by the filters of ``config`` rescaled to the stride (:meth:`MapConfig.at_stride`)."""
    config = config.at_stride(frame_stride)
    videos, frames, boxes = (
        cache.index["video"],
        cache.index["frame"] // frame_stride,
        cache.index["box"],
    )
    result = {}
    for video, num_frames in progress_bar(
        cache.num_frames.items(), desc="anomaly maps", unit="video"
    ):
        mine = videos == video
        maps = paint_maps(
            frames[mine],
            boxes[mine],
            scores[mine],
            -(-num_frames // frame_stride),
            frame_size[video],
            config.map_scale,
        )
        result[video] = frame_scores(maps, config)
    return result


def scored_regions(
    cache: TubeCache, scores: np.ndarray, frame_stride: int = 1
) -> dict[str, np.ndarray]:
    """Predicted regions for RBDC/TBDC: every object box with its score, per video (frames
    renumbered ``frame // frame_stride``, as in :func:`video_frame_scores`)."""
    videos = cache.index["video"]
    columns = [cache.index["frame"] // frame_stride, cache.index["box"], scores]
    rows = np.column_stack(columns).astype(np.float64)
    return {video: rows[videos == video] for video in cache.num_frames}


def head_frame_scores(
    cache: TubeCache,
    heads: dict[str, np.ndarray],
    tasks: tuple[str, ...],
    sizes: dict[str, tuple[int, int]],
    config: MapConfig,
    frame_stride: int = 1,
) -> dict[str, np.ndarray]:
    """Each head's frame scores alone (maps and filters as for eq. 6), keyed ``<task>/<video>``;
    ``frame_stride`` as in :func:`bench.score.video_frame_scores`."""
    out = {}
    for task in tasks:
        frames = video_frame_scores(cache, heads[task], sizes, config, frame_stride=frame_stride)
        for video, values in frames.items():
            out[f"{task}/{video}"] = values
    return out
