"""CUHK Avenue (Lu et al., ICCV 2013): 16 training and 21 test videos of 360x640 frames.

Layouts: the official ``training_videos/01.avi``, ``testing_videos/01.avi`` with
``testing_label_mask/1_label.mat`` (also found under ``ground_truth_demo/`` or ``gt/``), or a
frames layout ``training/frames/01/0000.jpg``, ``testing/frames/01/0000.jpg``. A root holding
only the ground truth loads too (test videos without frames), for label studies.

Frame labels (``labels`` option):

* ``"masks"`` (default, official): frame ``j`` of test video ``i`` is abnormal iff its pixel
  mask ``volLabel[0, j]`` in ``i_label.mat`` has a non-zero pixel (3712 of 15,324 frames).
* ``"mnad"``: the ``frame_labels_avenue.npy`` file of ano_pred/MNAD (3867 abnormal). It
  disagrees with the masks on 441 frames in 15 videos; use it only to compare with papers that
  used it.

Tracks for RBDC/TBDC are derived from the masks (:mod:`bench.data.regions`).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Literal

import numpy as np

from bench.data.base import DatasetError, MaskSource, Split, Video, VideoDataset
from bench.data.layout import (
    check_length,
    discover_frame_sources,
    first_existing,
    load_npy,
    raise_if,
)
from bench.data.regions import tracks_from_masks

MASK_DIRS = ["testing_label_mask", "ground_truth_demo/testing_label_mask", "gt/testing_label_mask"]
MNAD_LABELS = ["gt/frame_labels_avenue.npy", "frame_labels_avenue.npy"]


@lru_cache(maxsize=1)
def load_mat_masks(path: Path) -> tuple[np.ndarray, ...]:
    """The per-frame masks of one ``*_label.mat`` (one video kept in memory at a time)."""
    # imported here: only Avenue's .mat labels need it, and it costs every command 0.4 s
    import scipy.io

    try:
        cell = scipy.io.loadmat(path)["volLabel"]
    except (OSError, ValueError, KeyError) as error:
        raise DatasetError(f"{path}: unreadable Avenue mask file ({error})") from error
    return tuple(np.asarray(mask) for mask in cell.ravel())


@cache
def mat_frame_labels(path: Path) -> np.ndarray:
    """Per-frame 0/1 labels of one ``*_label.mat`` (cached: reading the masks takes seconds)."""
    return np.array([mask.any() for mask in load_mat_masks(path)], dtype=np.uint8)


class MatMasks(MaskSource):
    """Avenue pixel masks stored as a MATLAB cell ``volLabel`` of ``uint8`` 0/1 frames."""

    def __init__(self, path: Path):
        self.path = path

    @property
    def num_frames(self) -> int:
        return len(mat_frame_labels(self.path))

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.stack(load_mat_masks(self.path)[start:stop]) > 0

    def frame_labels(self) -> np.ndarray:
        return mat_frame_labels(self.path).copy()


class AvenueDataset(VideoDataset):
    """CUHK Avenue (see module docstring)."""

    name = "avenue"

    def __init__(
        self, root: str | Path, labels: Literal["masks", "mnad"] = "masks", mask_min_area: int = 1
    ):
        super().__init__(root)
        if labels not in ("masks", "mnad"):
            raise ValueError(f"labels must be 'masks' or 'mnad', got {labels!r}")
        self.labels = labels
        self.mask_min_area = mask_min_area

    def _load_split(self, split: Split) -> list[Video]:
        if split == "train":
            sources = discover_frame_sources(self.root, ["training_videos"], ["training/frames"])
            if not sources:
                raise DatasetError(
                    f"{self.root}: no training videos "
                    "(expected training_videos/01.avi or training/frames/01/)"
                )
            return [Video(video_id, "train", frames=source) for video_id, source in sources.items()]
        return self._load_test()

    def _mask_files(self) -> dict[str, Path]:
        folder = first_existing(self.root, MASK_DIRS)
        if folder is None:
            raise DatasetError(
                f"{self.root}: Avenue pixel masks not found (looked for {', '.join(MASK_DIRS)})"
            )
        files = {}
        for path in folder.glob("*_label.mat"):
            match = re.fullmatch(r"(\d+)_label\.mat", path.name)
            if match:
                files[f"{int(match.group(1)):02d}"] = path
        if not files:
            raise DatasetError(f"{folder}: no *_label.mat files")
        return dict(sorted(files.items()))

    def _load_test(self) -> list[Video]:
        masks = {video_id: MatMasks(path) for video_id, path in self._mask_files().items()}
        frames = discover_frame_sources(self.root, ["testing_videos"], ["testing/frames"])
        labels = (
            self._mnad_labels(masks)
            if self.labels == "mnad"
            else {k: m.frame_labels() for k, m in masks.items()}
        )
        problems = [
            f"{source.location}: test video {video_id} has no pixel masks"
            for video_id, source in frames.items()
            if video_id not in masks
        ]
        videos = []
        for video_id, mask in masks.items():
            source = frames.get(video_id)
            if source is not None:
                problem = check_length(
                    f"{mask.path} (masks)", mask.num_frames, source.num_frames, str(source.location)
                )
                if problem:
                    problems.append(problem)
                    continue
            video = Video(video_id, "test", frames=source, labels=labels[video_id], masks=mask)
            video.tracks_loader = partial(tracks_from_masks, mask, self.mask_min_area)
            videos.append(video)
        raise_if(problems)
        return videos

    def _mnad_labels(self, masks: dict[str, MatMasks]) -> dict[str, np.ndarray]:
        """Split the concatenated MNAD label vector by the per-video frame counts of the masks."""
        path = first_existing(self.root, MNAD_LABELS)
        if path is None:
            raise DatasetError(f"{self.root}: labels='mnad' needs {' or '.join(MNAD_LABELS)}")
        flat = load_npy(path).ravel().astype(np.uint8)
        lengths = [m.num_frames for m in masks.values()]
        if len(flat) != sum(lengths):
            raise DatasetError(
                f"{path}: {len(flat)} labels but the test videos have {sum(lengths)} frames"
            )
        return dict(zip(masks, np.split(flat, np.cumsum(lengths)[:-1]), strict=True))
