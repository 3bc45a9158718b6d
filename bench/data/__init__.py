"""Benchmark datasets behind one interface (:class:`VideoDataset`); one module per benchmark.

Adding a dataset means adding one module with a :class:`VideoDataset` subclass and one line in
:data:`DATASETS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.avenue import AvenueDataset
from bench.data.base import DatasetError, Split, Video, VideoDataset
from bench.data.shanghaitech import ShanghaiTechDataset
from bench.data.synthetic import SyntheticDataset
from bench.data.ucsd import Ped1Dataset, Ped2Dataset

DATASETS: dict[str, type[VideoDataset]] = {
    "ped1": Ped1Dataset,
    "ped2": Ped2Dataset,
    "avenue": AvenueDataset,
    "shanghaitech": ShanghaiTechDataset,
    "synthetic": SyntheticDataset,
}


def open_dataset(name: str, root: str | Path, **options: Any) -> VideoDataset:
    """Open the dataset ``name`` at ``root``; ``options`` go to the adapter (e.g. ``labels``)."""
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name](root, **options)


def check_dataset(dataset: VideoDataset, decode: bool = False, progress: bool = True) -> list[str]:
    """Every problem that keeps ``dataset`` from a full run (train and test frames, labels);
    ``decode``: also decode every frame (a truncated or corrupt image named by its file), with a
    progress bar on stderr when ``progress``."""
    problems: list[str] = []
    checked: list[Video] = []
    for split in ("train", "test"):
        try:
            videos = dataset.videos(split)
        except DatasetError as error:
            problems.extend(error.problems)
            continue
        if not videos:
            problems.append(f"{dataset.root}: no {split} videos")
        problems.extend(
            f"{dataset.name} {split} video {v.id}: no frames in {dataset.root}"
            for v in videos
            if not v.has_frames
        )
        if split == "test":
            problems.extend(
                f"{dataset.name} test video {v.id}: no frame labels"
                for v in videos
                if v.labels is None
            )
        checked.extend(v for v in videos if v.has_frames)
    if decode and checked:
        problems.extend(decode_frames(dataset.name, checked, progress))
    return problems


def decode_frames(name: str, videos: list[Video], progress: bool = True) -> list[str]:
    """Decode every frame of ``videos``; the problems, each naming its file."""
    from bench.progress import progress_bar

    total = sum(video.num_frames for video in videos)
    problems: list[str] = []
    with progress_bar(
        total=total, desc=f"decode {name} frames", unit="frame", disable=not progress
    ) as bar:
        for video in videos:
            problems.extend(video.frames.verify(bar.update))
    return problems


__all__ = [
    "DATASETS",
    "DatasetError",
    "Split",
    "Video",
    "VideoDataset",
    "check_dataset",
    "open_dataset",
]
