"""Views of a dataset: its test split at every n-th frame (:class:`EveryNthFrame`) and a subset
of its videos (:class:`VideoSubset`, the CI profile).

Every n-th frame: the evaluation side of a frame subsample.

A CPU profile may score only the objects of every n-th test frame (frames ``0, n, 2n, ...``,
the same rule as ``ssmtl detect --frame-stride``). Its frame scores then form a shorter video
of ``ceil(N / n)`` frames, and this view gives the matching ground truth: labels, anomaly kinds
and tracks of those frames, renumbered ``frame // n``. The frame-level AUC over such a
subsample is an unbiased estimate of the full-test AUC. Frames themselves are not exposed: the
view exists for evaluation only (tubes are always cut from the full-rate video).
"""

from __future__ import annotations

import numpy as np

from bench.data.base import DatasetError, Split, Video, VideoDataset


def subsample_tracks(tracks: np.ndarray, n: int) -> np.ndarray:
    """Track rows ``(track_id, frame, box)`` of frames ``0, n, 2n, ...``, renumbered
    ``frame // n``."""
    kept = tracks[tracks[:, 1] % n == 0].copy()
    kept[:, 1] //= n
    return kept


class EveryNthFrame(VideoDataset):
    """The test ground truth of ``dataset`` at frames ``0, n, 2n, ...`` (``n = 1``: unchanged)."""

    def __init__(self, dataset: VideoDataset, n: int) -> None:
        if n < 1:
            raise ValueError(f"frame stride must be >= 1, got {n}")
        super().__init__(dataset.root)
        self.name, self.base, self.n = dataset.name, dataset, n

    def _load_split(self, split: Split) -> list[Video]:
        return [self._subsample(video) for video in self.base.videos(split)]

    def _subsample(self, video: Video) -> Video:
        n = self.n
        labels = None if video.labels is None else video.labels[::n]
        kinds = None if video.kinds is None else video.kinds[::n]
        loader = (
            None if video.tracks_loader is None else (lambda: subsample_tracks(video.tracks, n))
        )
        return Video(
            id=video.id, split=video.split, labels=labels, tracks_loader=loader, kinds=kinds
        )


class VideoSubset(VideoDataset):
    """``dataset`` restricted to some videos of each split (``None``: all of that split)."""

    def __init__(
        self, dataset: VideoDataset, train: list[str] | None = None, test: list[str] | None = None
    ) -> None:
        super().__init__(dataset.root)
        self.name, self.base, self.keep = dataset.name, dataset, {"train": train, "test": test}

    def _load_split(self, split: Split) -> list[Video]:
        videos = self.base.videos(split)
        wanted = self.keep[split]
        if wanted is None:
            return videos
        missing = sorted(set(wanted) - {video.id for video in videos})
        if missing:
            raise DatasetError(f"{self.root}: no {split} video {', '.join(missing)}")
        return [video for video in videos if video.id in wanted]
