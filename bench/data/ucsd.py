"""UCSD Ped1 and Ped2 (Mahadevan et al., CVPR 2010), in the two layouts users have.

* Original release: ``UCSDped2/Train/Train001/001.tif``, ``Test/Test001/001.tif``,
  ``Test/Test001_gt/001.bmp`` and ``Test/UCSDped2.m``. ``root`` may be the ``UCSDped2`` folder
  or the folder above it.
* Frames layout (ano_pred / MNAD / HF2-VAD): ``training/frames/01/000.jpg``,
  ``testing/frames/01/000.jpg``; the labels file ``UCSDped2.m`` in ``gt/`` (or the root), and
  pixel masks in ``gt/pixel_masks/Test001_gt/001.png``.

Frame labels come from the official ``.m`` file: ``TestVideoFile{end+1}.gt_frame = [a:b];``
with 1-based inclusive ranges (Ped1 has several per line). Frame ``j`` (0-based) of a test
video is abnormal iff ``a <= j + 1 <= b`` for one of its ranges. Pixel masks are matched to
frames by sorted order (mask ``k`` belongs to frame ``k-1`` in both layouts); a mask folder
whose count differs from the frame count is an error. Ped1 ships masks for only part of its
test videos; the others have labels but no masks or tracks. Tracks are derived from the masks
(:mod:`bench.data.regions`).
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np

from bench.data.base import DatasetError, Split, Video, VideoDataset
from bench.data.frames import ImageFolderFrames, ImageFolderMasks, list_images
from bench.data.layout import check_length, first_existing, raise_if, subfolders
from bench.data.regions import tracks_from_masks

RANGE = re.compile(r"(\d+)\s*:\s*(\d+)")


def parse_ucsd_labels(path: Path) -> list[list[tuple[int, int]]]:
    """Ranges ``[(a, b), ...]`` (1-based, inclusive) per test video from a ``UCSDpedN.m`` file."""
    videos = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if "gt_frame" not in line:
            continue
        ranges = [(int(a), int(b)) for a, b in RANGE.findall(line)]
        if not ranges or any(a > b or a < 1 for a, b in ranges):
            raise DatasetError(f"{path}:{number}: cannot parse frame ranges in {line.strip()!r}")
        videos.append(ranges)
    if not videos:
        raise DatasetError(f"{path}: no 'gt_frame' lines found")
    return videos


def ranges_to_labels(ranges: list[tuple[int, int]], num_frames: int) -> np.ndarray:
    """Per-frame 0/1 labels from 1-based inclusive ranges."""
    labels = np.zeros(num_frames, dtype=np.uint8)
    for a, b in ranges:
        labels[a - 1 : b] = 1
    return labels


class UCSDDataset(VideoDataset):
    """UCSD Ped1/Ped2 (see module docstring); ``subset`` is ``"ped1"`` or ``"ped2"``."""

    subset = "ped2"

    def __init__(self, root: str | Path, mask_min_area: int = 1):
        super().__init__(root)
        self.mask_min_area = mask_min_area
        self.name = self.subset
        self.release = self._find_release()

    def _find_release(self) -> Path | None:
        """The ``UCSDpedN`` folder of the original release, or ``None`` for the frames layout."""
        for candidate in (self.root / f"UCSD{self.subset}", self.root):
            if (candidate / "Test").is_dir():
                return candidate
        return None

    # -- layout ---------------------------------------------------------------------------
    def _frame_folders(self, split: Split) -> list[tuple[str, Path]]:
        if self.release is not None:
            prefix = "Train" if split == "train" else "Test"
            folders = [
                f
                for f in subfolders(self.release / prefix)
                if re.fullmatch(rf"{prefix}\d+", f.name)
            ]
            return [(f"{int(f.name[len(prefix) :]):02d}", f) for f in folders]
        split_dir = self.root / ("training" if split == "train" else "testing") / "frames"
        return [(f.name, f) for f in subfolders(split_dir)]

    def _labels_file(self) -> Path | None:
        name = f"UCSD{self.subset}.m"
        if self.release is not None:
            return first_existing(self.release, [f"Test/{name}", name])
        return first_existing(self.root, [f"gt/{name}", name, f"testing/{name}"])

    def _mask_files(self, index: int, frames_folder: Path) -> list[Path]:
        gt_name = f"Test{index + 1:03d}_gt"
        if self.release is not None:
            return list_images(self.release / "Test" / gt_name)
        return list_images(self.root / "gt" / "pixel_masks" / gt_name)

    # -- loading --------------------------------------------------------------------------
    def _load_split(self, split: Split) -> list[Video]:
        folders = self._frame_folders(split)
        if not folders:
            layout = {
                "train": ("Train/Train001", "training/frames/01"),
                "test": ("Test/Test001", "testing/frames/01"),
            }[split]
            expected = layout[0] if self.release is not None else layout[1]
            raise DatasetError(
                f"{self.release or self.root}: no {split} videos found "
                f"(expected folders like {expected})"
            )
        problems: list[str] = []
        videos = []
        ranges = self._test_ranges(len(folders), problems) if split == "test" else None
        for index, (video_id, folder) in enumerate(folders):
            try:
                frames = ImageFolderFrames(folder)
            except DatasetError as error:
                problems.extend(error.problems)
                continue
            video = Video(video_id, split, frames=frames)
            if ranges is not None and index < len(ranges):
                self._attach_ground_truth(video, index, ranges[index], problems)
            videos.append(video)
        raise_if(problems)
        return videos

    def _test_ranges(
        self, num_videos: int, problems: list[str]
    ) -> list[list[tuple[int, int]]] | None:
        path = self._labels_file()
        if path is None:
            problems.append(
                f"{self.release or self.root}: frame labels file UCSD{self.subset}.m not found"
            )
            return None
        ranges = parse_ucsd_labels(path)
        if len(ranges) != num_videos:
            problems.append(
                f"{path}: labels for {len(ranges)} test videos "
                f"but {num_videos} test video folders were found"
            )
        self.labels_path = path
        return ranges

    def _attach_ground_truth(
        self, video: Video, index: int, ranges: list[tuple[int, int]], problems: list[str]
    ) -> None:
        assert video.frames is not None
        n = video.frames.num_frames
        last = max(b for _, b in ranges)
        if last > n:
            problems.append(
                f"{self.labels_path}: test video {index + 1} labelled up to frame {last} "
                f"but {video.frames.location} has {n} frames"
            )
            return
        video.labels = ranges_to_labels(ranges, n)
        masks = self._mask_files(index, video.frames.location)
        if masks:
            problem = check_length(
                f"{masks[0].parent} (pixel masks)", len(masks), n, str(video.frames.location)
            )
            if problem:
                problems.append(problem)
                return
            video.masks = ImageFolderMasks(masks)
            video.tracks_loader = partial(tracks_from_masks, video.masks, self.mask_min_area)


class Ped2Dataset(UCSDDataset):
    """UCSD Ped2: 16 training and 12 test videos of 240x360 frames."""

    subset = "ped2"


class Ped1Dataset(UCSDDataset):
    """UCSD Ped1: 34 training and 36 test videos of 158x238 frames; masks for a subset."""

    subset = "ped1"
