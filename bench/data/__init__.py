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


def check_dataset(dataset: VideoDataset) -> list[str]:
    """Every problem that keeps ``dataset`` from a full run (train and test frames, labels)."""
    problems: list[str] = []
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
