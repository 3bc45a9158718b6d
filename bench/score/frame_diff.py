"""The frame-difference baseline: frame scores without training (not in the paper).

It calibrates datasets and metrics against the frame scores of section 3.4: frame ``j`` scores
the mean absolute grey-level change from frame ``j-1``, over the whole frame (``cell=0``) or,
with ``cell > 0``, the largest such mean over a grid of ``cell`` x ``cell`` pixel cells (frame 0
takes frame 1's score). It finds anything that moves a lot and nothing else: a dataset on which
it reaches AUC 1.0 is too easy to tell methods apart.
"""

from __future__ import annotations

import numpy as np

from bench.data import Video, VideoDataset
from bench.progress import progress_bar


def cell_max_change(previous: np.ndarray, frames: np.ndarray, cell: int) -> np.ndarray:
    """Per frame, the max over ``cell``-sized cells (0: the whole frame) of the mean absolute
    change."""
    grey = frames.astype(np.float32).mean(axis=-1)
    if len(previous):
        before = np.concatenate([previous[None], grey[:-1]])
    else:  # the first block: frame 0 is compared with itself (scored 0, replaced afterwards)
        before = grey[np.r_[0, : len(grey) - 1]]
    change = np.abs(grey - before)
    if cell == 0:
        return change.mean(axis=(1, 2))
    n, h, w = change.shape
    h, w = h - h % cell, w - w % cell
    cells = change[:, :h, :w].reshape(n, h // cell, cell, w // cell, cell).mean(axis=(2, 4))
    return cells.reshape(n, -1).max(axis=1)


def frame_difference_video(video: Video, cell: int = 0, batch: int = 64) -> np.ndarray:
    """Frame-difference scores of one video (module docstring)."""
    scores, previous = [], np.zeros(0)
    for _, frames in video.batches(batch):
        scores.append(cell_max_change(previous, frames, cell))
        previous = frames[-1].astype(np.float32).mean(axis=-1)
    result = np.concatenate(scores)
    if len(result) > 1:
        result[0] = result[1]
    return result


def frame_difference_scores(
    dataset: VideoDataset, cell: int = 0, progress: bool = True
) -> dict[str, np.ndarray]:
    """Frame-difference scores of every test video, in the ``ssmtl evaluate`` format."""
    videos = progress_bar(dataset.videos("test"), desc="frame difference", disable=not progress)
    return {v.id: frame_difference_video(v, cell) for v in videos}
