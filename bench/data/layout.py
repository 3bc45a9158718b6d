"""Small helpers the adapters share to find files in the several layouts users have."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.base import DatasetError, FrameSource
from bench.data.frames import VIDEO_EXTENSIONS, ImageFolderFrames, VideoFileFrames


def first_existing(root: Path, candidates: list[str]) -> Path | None:
    """The first ``root/candidate`` that exists, or ``None``."""
    for candidate in candidates:
        path = root / candidate
        if path.exists():
            return path
    return None


def subfolders(folder: Path) -> list[Path]:
    """Sorted visible subfolders of ``folder`` (empty when it does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_npy(path: Path) -> np.ndarray:
    """``np.load`` without pickles, raising :class:`DatasetError` naming the file."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: unreadable .npy file ({error})") from error


def check_length(what: str, length: int, expected: int, reference: str) -> str | None:
    """A problem line when ``length`` disagrees with the frame count, else ``None``."""
    if length != expected:
        return f"{what}: {length} entries but {reference} has {expected} frames"
    return None


def raise_if(problems: list[str]) -> None:
    if problems:
        raise DatasetError(problems)


def discover_frame_sources(
    root: Path, video_dirs: list[str], frame_dirs: list[str]
) -> dict[str, FrameSource]:
    """Frame sources keyed by video id, from the first candidate folder that holds any.

    ``video_dirs`` hold one video file per video (id = file stem); ``frame_dirs`` hold one
    folder of images per video (id = folder name). Video files win when both exist.
    """
    for candidate in video_dirs:
        folder = root / candidate
        files = (
            sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
            if folder.is_dir()
            else []
        )
        if files:
            return {p.stem: VideoFileFrames(p) for p in files}
    for candidate in frame_dirs:
        folders = subfolders(root / candidate)
        if folders:
            return {f.name: ImageFolderFrames(f) for f in folders}
    return {}
