"""Adapter for the synthetic-scenes dataset written by :func:`bench.data.synth.generate`.

Layout (the Ped2 frames layout plus ground truth): ``training/frames/VV/*.jpg``,
``testing/frames/VV/*.jpg``, ``gt/frame_labels/VV.npy``, ``gt/anomaly_kinds/VV.npy``,
``gt/pixel_masks/VV/*.png`` (0-based, same names as the frames), ``gt/tracks/VV.txt`` and
``meta.json``. Every missing or inconsistent file is reported at once in one :class:`DatasetError`.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np

from bench.data.base import DatasetError, Split, Video, VideoDataset
from bench.data.frames import ImageFolderFrames, ImageFolderMasks, list_images
from bench.data.regions import read_track_file


class SyntheticDataset(VideoDataset):
    name = "synthetic"

    @property
    def meta(self) -> dict:
        path = self.root / "meta.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise DatasetError(
                "meta.json: missing (not a finished synthetic dataset; regenerate it)"
            ) from None
        except (OSError, ValueError) as error:
            raise DatasetError(f"meta.json: unreadable ({error})") from None

    def _load_split(self, split: Split) -> list[Video]:
        problems: list[str] = []
        try:
            meta = self.meta
        except DatasetError as error:
            problems += error.problems
            meta = None
        frames_dir = Path("training" if split == "train" else "testing") / "frames"
        folders = (
            sorted(p for p in (self.root / frames_dir).glob("*") if p.is_dir())
            if (self.root / frames_dir).is_dir()
            else []
        )
        if not folders:
            problems.append(f"{frames_dir}: missing or has no video folders")
        if meta is not None:
            expected = [v["id"] for v in meta.get("videos", {}).get(split, [])]
            if [f.name for f in folders] != expected and folders:
                problems.append(
                    f"{frames_dir}: videos {[f.name for f in folders]} "
                    f"but meta.json lists {expected}"
                )
        videos = []
        for folder in folders:
            vid, files = folder.name, list_images(folder)
            if not files:
                problems.append(f"{frames_dir / vid}: no frame images")
                continue
            video = Video(vid, split, ImageFolderFrames(folder, files))
            if split == "test":
                video.labels = self._per_frame(
                    f"gt/frame_labels/{vid}.npy", len(files), frames_dir / vid, problems
                )
                video.kinds = self._per_frame(
                    f"gt/anomaly_kinds/{vid}.npy", len(files), frames_dir / vid, problems
                )
                if (
                    video.labels is not None
                    and video.kinds is not None
                    and not np.array_equal(video.kinds > 0, video.labels > 0)
                ):
                    problems.append(
                        f"gt/anomaly_kinds/{vid}.npy: non-zero kinds disagree "
                        f"with gt/frame_labels/{vid}.npy"
                    )
                masks = list_images(self.root / "gt" / "pixel_masks" / vid)
                if len(masks) != len(files):
                    problems.append(
                        f"gt/pixel_masks/{vid}: {len(masks)} masks "
                        f"but {frames_dir / vid} has {len(files)} frames"
                    )
                video.masks = ImageFolderMasks(masks)
                tracks = self.root / "gt" / "tracks" / f"{vid}.txt"
                if not tracks.is_file():
                    problems.append(f"gt/tracks/{vid}.txt: missing")
                video.tracks_loader = partial(read_track_file, tracks)
            videos.append(video)
        if problems:
            raise DatasetError(problems)
        return videos

    def _per_frame(
        self, relative: str, num_frames: int, frames: Path, problems: list[str]
    ) -> np.ndarray | None:
        """A per-frame uint8 array that must have one entry per frame of ``frames``."""
        try:
            array = np.load(self.root / relative, allow_pickle=False)
        except FileNotFoundError:
            problems.append(f"{relative}: missing")
            return None
        except (OSError, ValueError) as error:
            problems.append(f"{relative}: unreadable ({error})")
            return None
        if array.ndim != 1 or len(array) != num_frames:
            problems.append(
                f"{relative}: {array.size} labels (shape {array.shape}) "
                f"but {frames} has {num_frames} frames"
            )
            return None
        return array.astype(np.uint8)
