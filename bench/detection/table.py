"""A column table of the object detections of one dataset split (SSMTL, section 3.1).

One row per detected object:

=================  ==========  ==============================================================
column             dtype       meaning
=================  ==========  ==============================================================
``video``          unicode     video id (as :class:`bench.data.Video.id`)
``frame``          int32       0-based frame index in that video
``boxes``          float32     ``(N, 4)`` ``x_min, y_min, x_max, y_max`` in frame pixels
                               (``x_max``/``y_max`` exclusive, continuous coordinates)
``confidence``     float32     detector confidence in [0, 1]
``class_id``       int16       COCO class index, ``-1`` when unknown
``class_scores``   float32     ``(N, 80)`` the detector's 80 COCO class probabilities of the box;
                               all-NaN rows when unknown (precomputed boxes, motion proposals)
=================  ==========  ==============================================================

Rows are kept sorted by ``(video, frame)``; the order of the rows of one frame is preserved
(a stable sort). ``meta`` is a JSON-serialisable dict (detector name and parameters, dataset,
split) stored beside the columns, so a cache can tell which run produced a file.

Files are ``.npz`` archives of plain arrays (no pickles); :meth:`Detections.save` writes
``<path>.tmp`` and renames it over ``path`` so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import InputError
from bench.paper import COCO_CLASSES

COLUMNS = ("video", "frame", "boxes", "confidence", "class_id", "class_scores")


class DetectionsFileError(InputError):
    """A detections file is missing, unreadable or lacks a column; the message names the file."""

    default_fix = "give the .npz that ssmtl detect wrote (write it again if it was cut short)"


@dataclass
class Detections:
    """Detections of one dataset split (see module docstring)."""

    video: np.ndarray
    frame: np.ndarray
    boxes: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    class_scores: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.frame)
        self.video = np.asarray(self.video, dtype=str).reshape(-1)
        if self.video.dtype.kind != "U":  # an empty str array is '<U1' already; keep unicode
            self.video = self.video.astype("U1")
        self.frame = np.asarray(self.frame, dtype=np.int32).reshape(-1)
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        self.class_id = np.asarray(self.class_id, dtype=np.int16).reshape(-1)
        self.class_scores = np.asarray(self.class_scores, dtype=np.float32).reshape(
            -1, COCO_CLASSES
        )
        lengths = {
            "video": len(self.video),
            "frame": n,
            "boxes": len(self.boxes),
            "confidence": len(self.confidence),
            "class_id": len(self.class_id),
            "class_scores": len(self.class_scores),
        }
        if len(set(lengths.values())) != 1:
            raise ValueError(f"Detections columns have different lengths: {lengths}")
        if n and not _is_sorted(self.video, self.frame):
            order = np.lexsort((self.frame, self.video))  # stable: keeps the order within a frame
            self._take(order)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def empty(cls, meta: dict | None = None) -> Detections:
        return cls(
            video=np.zeros(0, dtype="U1"),
            frame=np.zeros(0, dtype=np.int32),
            boxes=np.zeros((0, 4), dtype=np.float32),
            confidence=np.zeros(0, dtype=np.float32),
            class_id=np.zeros(0, dtype=np.int16),
            class_scores=np.zeros((0, COCO_CLASSES), dtype=np.float32),
            meta=dict(meta or {}),
        )

    @classmethod
    def from_frames(
        cls,
        video: str,
        first_frame: int,
        frames: Sequence,
        meta: dict | None = None,
    ) -> Detections:
        """Rows from per-frame results (objects with ``boxes``, ``confidence``, ``class_id``,
        ``class_scores``, e.g. :class:`bench.detection.base.FrameDetections`) of
        consecutive frames starting at ``first_frame``."""
        counts = [len(f.boxes) for f in frames]
        total = int(sum(counts))
        if total == 0:
            return cls.empty(meta)
        frame = np.repeat(np.arange(first_frame, first_frame + len(frames), dtype=np.int32), counts)
        return cls(
            video=np.full(total, video),
            frame=frame,
            boxes=np.concatenate([np.asarray(f.boxes, np.float32).reshape(-1, 4) for f in frames]),
            confidence=np.concatenate(
                [np.asarray(f.confidence, np.float32).reshape(-1) for f in frames]
            ),
            class_id=np.concatenate([np.asarray(f.class_id, np.int16).reshape(-1) for f in frames]),
            class_scores=np.concatenate(
                [np.asarray(f.class_scores, np.float32).reshape(-1, COCO_CLASSES) for f in frames]
            ),
            meta=dict(meta or {}),
        )

    @staticmethod
    def concat(parts: Iterable[Detections], meta: dict | None = None) -> Detections:
        """Rows of all ``parts`` (re-sorted); ``meta`` defaults to the first part's."""
        parts = list(parts)
        if not parts:
            return Detections.empty(meta)
        return Detections(
            video=(
                np.concatenate([p.video for p in parts])
                if any(len(p) for p in parts)
                else np.zeros(0, "U1")
            ),
            frame=np.concatenate([p.frame for p in parts]),
            boxes=np.concatenate([p.boxes for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            class_scores=np.concatenate([p.class_scores for p in parts]),
            meta=dict(parts[0].meta if meta is None else meta),
        )

    # -- access ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"Detections({len(self)} rows, {len(self.videos)} videos, meta={self.meta})"

    @property
    def videos(self) -> list[str]:
        """The video ids that have at least one row, in table order."""
        return [str(v) for v in np.unique(self.video)]

    @property
    def has_class_scores(self) -> np.ndarray:
        """``bool`` per row: the 80 class scores are known (no NaN)."""
        return ~np.isnan(self.class_scores).any(axis=1)

    def filter(self, mask: np.ndarray) -> Detections:
        """The rows where the boolean ``mask`` is true (or the given integer rows, in order)."""
        mask = np.asarray(mask)
        if mask.dtype == bool and mask.shape != (len(self),):
            raise ValueError(f"mask has shape {mask.shape}, expected ({len(self)},)")
        return Detections(
            video=self.video[mask],
            frame=self.frame[mask],
            boxes=self.boxes[mask],
            confidence=self.confidence[mask],
            class_id=self.class_id[mask],
            class_scores=self.class_scores[mask],
            meta=dict(self.meta),
        )

    def for_video(self, video: str) -> Detections:
        """The rows of one video (contiguous, since the table is sorted)."""
        lo, hi = self.video_slice(video)
        return self.filter(np.arange(lo, hi))

    def video_slice(self, video: str) -> tuple[int, int]:
        """``(start, stop)`` row range of ``video`` in this sorted table (empty when absent)."""
        lo = int(np.searchsorted(self.video, video, side="left"))
        hi = int(np.searchsorted(self.video, video, side="right"))
        return lo, hi

    def regions(self, video: str) -> np.ndarray:
        """Rows ``frame, x_min, y_min, x_max, y_max, confidence`` (float64) of one video, the
        predicted-region layout of :mod:`bench.data.base`."""
        part = self.for_video(video)
        return np.column_stack([part.frame, part.boxes, part.confidence]).astype(np.float64)

    # -- files ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` archive atomically (``path.tmp`` then :func:`os.replace`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        arrays = {name: getattr(self, name) for name in COLUMNS}
        arrays["meta"] = np.asarray(json.dumps(self.meta, sort_keys=True, default=str))
        try:
            with open(tmp, "wb") as handle:  # a file object: np.savez would append '.npz' to a name
                np.savez(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    @classmethod
    def load(cls, path: str | Path) -> Detections:
        """Read a file written by :meth:`save`; :class:`DetectionsFileError` names the file when it
        is missing, corrupt, or lacks a column."""
        path = Path(path)
        if not path.is_file():
            raise DetectionsFileError(f"{path}: detections file does not exist")
        try:
            with np.load(path, allow_pickle=False) as archive:
                missing = [name for name in COLUMNS if name not in archive.files]
                if missing:
                    raise DetectionsFileError(
                        f"{path}: not a detections file, missing column(s) {', '.join(missing)}"
                    )
                columns = {name: archive[name] for name in COLUMNS}
                meta = json.loads(str(archive["meta"])) if "meta" in archive.files else {}
        except DetectionsFileError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as error:
            raise DetectionsFileError(f"{path}: cannot read detections file ({error})") from error
        try:
            detections = cls(**columns, meta=meta)
        except ValueError as error:
            raise DetectionsFileError(f"{path}: inconsistent detections file ({error})") from error
        if not np.isfinite(detections.boxes).all():  # would be cut into tubes of nothing
            raise DetectionsFileError(f"{path}: boxes hold NaN or infinite coordinates")
        return detections

    # -- internals ------------------------------------------------------------------------
    def _take(self, order: np.ndarray) -> None:
        for name in COLUMNS:
            setattr(self, name, getattr(self, name)[order])


def _is_sorted(video: np.ndarray, frame: np.ndarray) -> bool:
    if len(video) < 2:
        return True
    same = video[1:] == video[:-1]
    return bool(np.all((video[1:] > video[:-1]) | (same & (frame[1:] >= frame[:-1]))))


__all__ = ["COLUMNS", "Detections", "DetectionsFileError"]
