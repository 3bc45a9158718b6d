"""One interface for every video anomaly detection benchmark.

A dataset is a root folder with a ``train`` and a ``test`` split; each split is a list of
:class:`Video`. A video knows its id and frame count, reads frames by index or range (RGB uint8,
``(n, H, W, 3)``), and, in the test split, carries its frame labels, its pixel masks where the
benchmark has them, and its ground-truth anomaly tracks (for RBDC/TBDC).

Array conventions used across the project:

* frame labels: ``uint8`` array, one entry per frame, 1 = abnormal.
* tracks: ``float64`` array ``(K, 6)`` with rows ``track_id, frame, x_min, y_min, x_max, y_max``
  (0-based frames, pixel coordinates, ``x_max``/``y_max`` exclusive, so a one-pixel region at
  column 5 is ``x_min=5, x_max=6``). This is the row layout of the AED track files.
* predicted regions: ``float64`` array ``(M, 6)`` with rows ``frame, x_min, y_min, x_max, y_max,
  score``, same coordinates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from bench.errors import BenchError

Split = Literal["train", "test"]
SPLITS: tuple[Split, Split] = ("train", "test")
TRACK_COLUMNS = ("track_id", "frame", "x_min", "y_min", "x_max", "y_max")
REGION_COLUMNS = ("frame", "x_min", "y_min", "x_max", "y_max", "score")


class DatasetError(BenchError):
    """A dataset root is missing or inconsistent; ``problems`` names each file and problem."""

    default_fix = "see docs/evaluation.md (Datasets) for the files a dataset root must hold"

    def __init__(self, problems: list[str] | str, fix: str | None = None):
        problems = [problems] if isinstance(problems, str) else list(problems)
        fix = fix or self.default_fix
        # each line says what to do: the given fix unless the problem already names one
        self.problems = [p if "; " in p else f"{p}; {fix}" for p in problems]
        super().__init__("\n".join(self.problems))

    def lines(self) -> list[str]:
        return list(self.problems)


def empty_tracks() -> np.ndarray:
    """A track table with no rows."""
    return np.zeros((0, len(TRACK_COLUMNS)), dtype=np.float64)


class FrameSource(ABC):
    """Decoded frames of one video, read by range (``start`` inclusive, ``stop`` exclusive)."""

    @property
    @abstractmethod
    def num_frames(self) -> int: ...

    @abstractmethod
    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start..stop-1`` as RGB ``uint8`` ``(n, H, W, 3)``."""

    @property
    @abstractmethod
    def location(self) -> Path:
        """The file or folder the frames come from (named in error messages)."""

    def verify(self, advance: Callable[[int], object] = lambda n: None) -> list[str]:
        """Decode every frame (``ssmtl data check``); the problems, each naming its file.
        ``advance(n)`` is called after every ``n`` frames (a progress bar)."""
        block = 64
        for start in range(0, self.num_frames, block):
            stop = min(start + block, self.num_frames)
            try:
                frames = self.read(start, stop)
            except DatasetError as error:
                return list(error.problems)
            if len(frames) != stop - start:
                return [f"{self.location}: frames {start}..{stop - 1}: {len(frames)} decoded"]
            advance(stop - start)
        return []


class MaskSource(ABC):
    """Pixel-level ground truth of one test video, read by range."""

    @property
    @abstractmethod
    def num_frames(self) -> int: ...

    @abstractmethod
    def read(self, start: int, stop: int) -> np.ndarray:
        """Masks of frames ``start..stop-1`` as ``bool`` ``(n, H, W)``."""


@dataclass
class Video:
    """One video of a benchmark split.

    ``frames`` may be ``None`` for a ground-truth-only root (labels and tracks without the
    footage); then the frame count comes from the labels. ``tracks_loader`` is called once, on
    first access of :attr:`tracks`, because deriving tracks from pixel masks reads every mask.
    """

    id: str
    split: Split
    frames: FrameSource | None = None
    labels: np.ndarray | None = None
    masks: MaskSource | None = None
    tracks_loader: Callable[[], np.ndarray] | None = field(default=None, repr=False)
    kinds: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        if self.frames is not None:
            return self.frames.num_frames
        if self.labels is not None:
            return len(self.labels)
        raise DatasetError(f"video {self.id}: neither frames nor labels are available")

    @property
    def has_frames(self) -> bool:
        return self.frames is not None

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start..stop-1`` (clipped to the video) as RGB ``uint8`` ``(n, H, W, 3)``."""
        if self.frames is None:
            raise DatasetError(f"video {self.id}: no frames in this dataset root")
        start, stop = max(0, start), min(stop, self.num_frames)
        return self.frames.read(start, stop)

    def __getitem__(self, index: int) -> np.ndarray:
        if not -self.num_frames <= index < self.num_frames:
            raise IndexError(
                f"video {self.id}: frame {index} out of range 0..{self.num_frames - 1}"
            )
        index %= self.num_frames
        return self.read(index, index + 1)[0]

    def batches(self, batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_frame_index, frames)`` over the whole video, ``batch_size`` at a time."""
        for start in range(0, self.num_frames, batch_size):
            yield start, self.read(start, start + batch_size)

    @cached_property
    def tracks(self) -> np.ndarray | None:
        """Ground-truth anomaly tracks ``(K, 6)`` (see module docstring), or ``None``."""
        return None if self.tracks_loader is None else self.tracks_loader()

    @property
    def abnormal_frames(self) -> int:
        return 0 if self.labels is None else int(np.count_nonzero(self.labels))


class VideoDataset(ABC):
    """A benchmark root. Subclasses find the videos and ground truth of each split."""

    name: str = ""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: dataset root does not exist or is not a folder")
        self._videos: dict[Split, list[Video]] = {}

    @abstractmethod
    def _load_split(self, split: Split) -> list[Video]:
        """Build the videos of ``split``; raise :class:`DatasetError` naming each problem."""

    def videos(self, split: Split) -> list[Video]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if split not in self._videos:
            self._videos[split] = self._load_split(split)
        return self._videos[split]

    def video(self, split: Split, video_id: str) -> Video:
        for video in self.videos(split):
            if video.id == video_id:
                return video
        raise KeyError(f"{self.name}: no {split} video with id {video_id!r}")

    def test_labels(self) -> dict[str, np.ndarray]:
        """Frame labels of every test video, keyed by video id."""
        labels = {}
        for video in self.videos("test"):
            if video.labels is None:
                raise DatasetError(f"{self.name} test video {video.id}: no frame labels")
            labels[video.id] = video.labels
        return labels

    def test_tracks(self) -> dict[str, np.ndarray]:
        """Ground-truth anomaly tracks of every test video, keyed by video id."""
        tracks = {}
        for video in self.videos("test"):
            if video.tracks is None:
                raise DatasetError(
                    f"{self.name} test video {video.id}: no region/track ground truth"
                )
            tracks[video.id] = video.tracks
        return tracks

    def summary(self) -> dict:
        """Counts per split, the ``ssmtl data check --json`` format."""
        train = self.videos("train")
        test = self.videos("test")
        return {
            "dataset": self.name,
            "splits": {
                "train": {"videos": len(train), "frames": sum(v.num_frames for v in train)},
                "test": {
                    "videos": len(test),
                    "frames": sum(v.num_frames for v in test),
                    "abnormal_frames": sum(v.abnormal_frames for v in test),
                },
            },
        }
