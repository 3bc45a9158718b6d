"""ShanghaiTech Campus (Luo et al., ICCV 2017): 330 training and 107 test videos of 480x856.

Layout of the official release: ``training/videos/01_001.avi`` (or ``training/frames/01_001/``),
``testing/frames/01_0014/000.jpg``, ``testing/test_frame_mask/01_0014.npy`` (per-frame 0/1
labels) and ``testing/test_pixel_mask/01_0014.npy`` (``(n, H, W)`` masks, memory-mapped).
The ground-truth files are also found under ``gt/``. A root holding only the ground truth
loads too (test videos without frames).

Tracks for RBDC/TBDC are the AED track files of the SSMTL authors (lilygeorgescu/AED,
``tracks_aed/01_0014.txt``), the files their published RBDC/TBDC used. A test video with no
track file has no anomaly track; without any track folder, tracks are derived from the pixel
masks where those exist.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from bench.data.base import DatasetError, Split, Video, VideoDataset, empty_tracks
from bench.data.frames import ArrayMasks
from bench.data.layout import (
    check_length,
    discover_frame_sources,
    first_existing,
    load_npy,
    raise_if,
)
from bench.data.regions import read_track_file, tracks_from_masks

LABEL_DIRS = ["testing/test_frame_mask", "gt/test_frame_mask", "test_frame_mask"]
PIXEL_MASK_DIRS = ["testing/test_pixel_mask", "gt/test_pixel_mask", "test_pixel_mask"]
TRACK_DIRS = ["gt/tracks_aed", "tracks_aed", "testing/tracks_aed"]


def read_track_or_empty(path: Path) -> np.ndarray:
    return read_track_file(path) if path.exists() else empty_tracks()


class ShanghaiTechDataset(VideoDataset):
    """ShanghaiTech Campus (see module docstring); ``tracks_dir`` overrides the track folder."""

    name = "shanghaitech"

    def __init__(
        self, root: str | Path, tracks_dir: str | Path | None = None, mask_min_area: int = 1
    ):
        super().__init__(root)
        self.tracks_dir = Path(tracks_dir) if tracks_dir else first_existing(self.root, TRACK_DIRS)
        self.mask_min_area = mask_min_area

    def _load_split(self, split: Split) -> list[Video]:
        if split == "train":
            sources = discover_frame_sources(self.root, ["training/videos"], ["training/frames"])
            if not sources:
                raise DatasetError(
                    f"{self.root}: no training videos "
                    "(expected training/videos/01_001.avi or training/frames/01_001/)"
                )
            return [Video(video_id, "train", frames=source) for video_id, source in sources.items()]
        return self._load_test()

    def _load_test(self) -> list[Video]:
        label_dir = first_existing(self.root, LABEL_DIRS)
        if label_dir is None:
            raise DatasetError(
                f"{self.root}: ShanghaiTech frame labels not found "
                f"(looked for {', '.join(LABEL_DIRS)})"
            )
        label_files = sorted(label_dir.glob("*.npy"))
        if not label_files:
            raise DatasetError(f"{label_dir}: no per-video .npy label files")
        mask_dir = first_existing(self.root, PIXEL_MASK_DIRS)
        frames = discover_frame_sources(self.root, [], ["testing/frames"])
        problems = [
            f"{source.location}: test video {video_id} has no label file in {label_dir}"
            for video_id, source in frames.items()
            if not (label_dir / f"{video_id}.npy").exists()
        ]
        videos = []
        for path in label_files:
            video = Video(
                path.stem,
                "test",
                frames=frames.get(path.stem),
                labels=load_npy(path).ravel().astype(np.uint8),
            )
            if video.frames is not None:
                problem = check_length(
                    str(path),
                    len(video.labels),
                    video.frames.num_frames,
                    str(video.frames.location),
                )
                if problem:
                    problems.append(problem)
                    continue
            self._attach_regions(video, mask_dir, problems)
            videos.append(video)
        raise_if(problems)
        return videos

    def _attach_regions(self, video: Video, mask_dir: Path | None, problems: list[str]) -> None:
        mask_path = mask_dir / f"{video.id}.npy" if mask_dir else None
        if mask_path is not None and mask_path.exists():
            masks = np.load(mask_path, mmap_mode="r", allow_pickle=False)
            problem = check_length(
                f"{mask_path} (pixel masks)", len(masks), video.num_frames, f"labels of {video.id}"
            )
            if problem:
                problems.append(problem)
                return
            video.masks = ArrayMasks(masks)
        if self.tracks_dir is not None:
            video.tracks_loader = partial(read_track_or_empty, self.tracks_dir / f"{video.id}.txt")
        elif video.masks is not None:
            video.tracks_loader = partial(tracks_from_masks, video.masks, self.mask_min_area)
