"""Streaming object-level inference, frame by frame (sections 3.1 and 3.4; supplementary 6.2).

:class:`OnlineScorer` scores a video as an online detector sees it: each new frame joins a ring
buffer of the last ``2t + 1`` frames, and the objects of the frame ``t`` frames back are cropped,
scored by eq. (6) and painted into that frame's anomaly map. It gives the scores of the offline
test tube caches (edges clamped alike) and is what ``ssmtl bench fps``
(:mod:`bench.suite.bench_fps`) times against the paper's 23 FPS. :class:`Stopwatch` charges the
wall time of every step to its component (decode, detect, tubes, model, map).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from bench.model import SSMTL
from bench.score.fold import fold_batch_norm
from bench.score.heads import combine_heads
from bench.score.maps import MapConfig, paint_maps
from bench.score.objects import batch_scores, default_batch_size
from bench.tubes import clamp_frames, crop_tubes, frames_to_tensor, window_offsets

if TYPE_CHECKING:
    from bench.detection import FrameDetections

#: The components of one frame's processing, timed apart (supplementary section 6.2).
FPS_COMPONENTS = ("decode", "detect", "tubes", "model", "map")


class Stopwatch:
    """Per-component wall time of one frame; on CUDA the device is synchronised before every read
    of the clock, so asynchronous kernels are charged to the component that launched them."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.frame: dict[str, float] = dict.fromkeys(FPS_COMPONENTS, 0.0)
        self.begin = 0.0

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def start_frame(self) -> None:
        self.frame = dict.fromkeys(FPS_COMPONENTS, 0.0)
        self.begin = self.now()

    def stop_frame(self) -> dict[str, float]:
        """The seconds of each component and the frame's ``total`` since :meth:`start_frame`."""
        return {**self.frame, "total": self.now() - self.begin}

    @contextmanager
    def time(self, component: str) -> Iterator[None]:
        start = self.now()
        yield
        self.frame[component] += self.now() - start


@dataclass
class ScoredFrame:
    """The objects of one frame: boxes, per-head and eq. (6) scores, and the frame's anomaly
    map."""

    frame: int
    boxes: np.ndarray
    scores: dict[str, np.ndarray]
    anomaly_map: np.ndarray


class OnlineScorer:
    """Object-level inference of one video, frame by frame (sections 3.1, 3.4; supplementary 6.2).

    When frame ``i`` arrives it joins a ring buffer of the last ``2t + 1`` frames (on the device);
    the objects detected in frame ``c = i - t`` are then cropped from frames ``c-t .. c+t`` with
    one ``roi_align`` call (:func:`bench.tubes.crop_tubes`, rounded like the ``uint8`` tube cache),
    scored by every enabled head (eq. 6, :func:`bench.score.batch_scores`, batch norm folded:
    :mod:`bench.score.fold`; in batches of
    :func:`bench.score.default_batch_size`, as on CPU a frame's ~20 Ped2 objects go faster 8 at a
    time) and painted into frame ``c``'s anomaly map (:func:`bench.score.paint_maps`). T4 compares
    the student with the detector's class probabilities of each box; boxes without them
    (precomputed files) use zeros. The video's first and last frames repeat in the windows that
    leave it, as in test tube caches (:meth:`flush` scores the last ``t`` frames). The 3D mean
    filter and the temporal Gaussian smooth a whole video's maps afterwards and are not part of
    this step (nor of the paper's 23 FPS).
    """

    def __init__(
        self,
        model: SSMTL,
        t: int,
        frame_shape: tuple[int, int],
        device: torch.device,
        config: MapConfig,
    ):
        self.model, self.t, self.device, self.config = fold_batch_norm(model), t, device, config
        self.frame_shape = frame_shape
        self.ring = torch.zeros((2 * t + 1, 3, *frame_shape), device=device)
        self.pending: deque[FrameDetections] = deque()
        self.seen = 0

    def push(
        self, frame: np.ndarray, found: FrameDetections, clock: Stopwatch
    ) -> list[ScoredFrame]:
        """Add frame ``i`` (``H x W x 3`` ``uint8``) and its detections; score frame ``i - t``."""
        with clock.time("tubes"):
            self.ring[self.seen % len(self.ring)] = frames_to_tensor(frame[None], self.device)[0]
        self.pending.append(found)
        self.seen += 1
        return [self._score_next(clock)] if len(self.pending) > self.t else []

    def flush(self, clock: Stopwatch) -> list[ScoredFrame]:
        """Score the frames still waiting for successors (the video has ended)."""
        return [self._score_next(clock) for _ in range(len(self.pending))]

    def _score_next(self, clock: Stopwatch) -> ScoredFrame:
        found = self.pending.popleft()
        centre = self.seen - 1 - len(self.pending)
        with clock.time("tubes"):
            x = self._tubes(centre, found.boxes)
        with clock.time("model"):
            scores = self._scores(x, found.class_scores)
        with clock.time("map"):
            anomaly_map = paint_maps(
                np.zeros(len(found), np.int64),
                found.boxes,
                scores["score"],
                1,
                self.frame_shape,
                self.config.map_scale,
            )[0]
        return ScoredFrame(centre, found.boxes, scores, anomaly_map)

    def _tubes(self, centre: int, boxes: np.ndarray) -> torch.Tensor:
        """Forward test sequences ``(K, 3, 2t+1, 64, 64)`` in [0, 1] of the boxes of frame
        ``centre``."""
        frames = clamp_frames(np.full(len(boxes), centre), window_offsets(self.t), self.seen)
        frames = frames % len(self.ring)
        crops = crop_tubes(
            self.ring, torch.from_numpy(frames), torch.from_numpy(np.asarray(boxes, np.float32))
        )
        return crops.round().permute(0, 2, 1, 3, 4).div_(255.0)

    def _scores(self, x: torch.Tensor, class_scores: np.ndarray) -> dict[str, np.ndarray]:
        if len(x) == 0:
            return {task: np.zeros(0, np.float32) for task in (*self.model.tasks, "score")}
        targets, step = np.nan_to_num(class_scores, nan=0.0), default_batch_size(self.device)
        parts = [
            batch_scores(self.model, x[i : i + step], targets[i : i + step])
            for i in range(0, len(x), step)
        ]
        scores = {task: np.concatenate([part[task] for part in parts]) for task in self.model.tasks}
        return {**scores, "score": combine_heads(scores, self.model.tasks)}
