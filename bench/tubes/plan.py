"""Planning a tube cache: which tubes it holds and which frames each reads (paper 3.1, 3.3).

Before any frame is read, :func:`plan_tubes` orders the detections (the dataset's video order,
then centre frame, then detection row), applies the edge policy, draws each object's
intermittent sequence (section 3.3, task 2) and computes every frame index. The cache key
(:func:`tube_cache_key`) names everything the content depends on.

Choices where the paper is silent (all recorded in ``meta.json``):

* **Video ends** (``edge`` for the test split, ``train_edge`` for the training split).
  ``"clamp"`` replaces a frame index outside the video by the first/last frame (the sequence
  repeats the edge frame); ``"skip"`` drops the detection. Default ``"clamp"`` for both splits:
  the paper's detector runs on every frame, so every test object is scored, and training sees
  the same partly static edge sequences that scoring will, so an edge object is not anomalous
  merely for being at an edge. Clamped and skipped detections are counted in ``meta.json``.
* **One intermittent sequence per object** is drawn at build time, with the per-object generator
  ``np.random.default_rng([seed, detection_row])`` (``detection_row`` = the row of the object in
  the detections table, so the draw does not depend on which other detections were skipped).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bench.data.base import Video, VideoDataset
from bench.paper import MAX_GAP, TUBE_SIZE, T
from bench.tubes.cache import FORMAT_VERSION, jsonable
from bench.tubes.crop import SAMPLING_RATIO
from bench.tubes.windows import intermittent_offsets, window_offsets

EDGE_POLICIES = ("clamp", "skip")


class DetectionsMismatch(ValueError):
    """Detections that do not fit the dataset's split (an unknown video, a frame past its end):
    ``bench.pipeline.run_tubes`` names the file in a ``ProvenanceError``."""


class DetectionsLike(Protocol):
    """What the tube builder reads from a detections table
    (:class:`bench.detection.table.Detections`)."""

    video: np.ndarray  # (N,) str, video ids
    frame: np.ndarray  # (N,) int, 0-based frame index
    boxes: np.ndarray  # (N, 4) float, x_min, y_min, x_max, y_max in pixels


def detections_fingerprint(detections: DetectionsLike) -> dict:
    """Row count and a SHA-256 of the ``video``, ``frame`` and ``boxes`` columns."""
    digest = hashlib.sha256()
    video = np.asarray(detections.video).astype(str)
    digest.update("\n".join(video.tolist()).encode())
    digest.update(np.ascontiguousarray(detections.frame, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(detections.boxes, dtype="<f4").tobytes())
    return {"rows": int(len(video)), "sha256": digest.hexdigest()}


def videos_fingerprint(dataset: VideoDataset, split: str) -> dict:
    """The videos of a split by content, not location: their count, frame total and a SHA-256
    of ``id:frames`` lines. A copy of the dataset in another folder gives the same key, so the
    same tubes keep the same cache (and DVC hash) in every clone."""
    videos = dataset.videos(split)
    lines = [f"{video.id}:{video.num_frames}" for video in videos]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return {"videos": len(videos), "frames": sum(v.num_frames for v in videos), "sha256": digest}


def edge_policy(split: str, edge: str, train_edge: str) -> str:
    """The video-end policy of ``split`` (module docstring), checked."""
    policy = train_edge if split == "train" else edge
    if policy not in EDGE_POLICIES:
        raise ValueError(f"edge policy must be one of {EDGE_POLICIES}, got {policy!r}")
    return policy


def tube_cache_key(
    dataset: VideoDataset,
    split: str,
    detections: DetectionsLike,
    t: int = T,
    intermittent: bool | None = None,
    seed: int = 0,
    key: dict | None = None,
    edge: str = "clamp",
    train_edge: str = "clamp",
    max_gap: int = MAX_GAP,
) -> dict:
    """Everything that determines a cache's content (stored as ``meta.json["key"]``)."""
    intermittent = split == "train" if intermittent is None else bool(intermittent)
    return jsonable(
        {
            "format": FORMAT_VERSION,
            "dataset": dataset.name,
            "videos": videos_fingerprint(dataset, split),
            "split": split,
            "t": int(t),
            "size": TUBE_SIZE,
            "sampling_ratio": SAMPLING_RATIO,
            "edge": edge_policy(split, edge, train_edge),
            "intermittent": intermittent,
            "max_gap": int(max_gap) if intermittent else None,
            "seed": int(seed) if intermittent else None,
            "detector": key or {},
            "detections": detections_fingerprint(detections),
        }
    )


@dataclass
class Plan:
    """The index of every tube of a build, known before any frame is read."""

    videos: list[Video]
    num_frames: dict[str, int]
    slices: dict[str, tuple[int, int]]  # tube rows of each video
    arrays: dict[str, np.ndarray]  # index.npz content
    counts: dict

    def __len__(self) -> int:
        return len(self.arrays["frame"])


def _empty_index(width: int) -> dict[str, np.ndarray]:
    """``index.npz`` of a split without tubes (dtypes as a non-empty one's)."""
    return {
        "video": np.zeros(0, "U1"),
        "frame": np.zeros(0, np.int32),
        "box": np.zeros((0, 4), np.float32),
        "detection_row": np.zeros(0, np.int64),
        "window_frames": np.zeros((0, width), np.int32),
        "intermittent_offsets": np.zeros((0, width), np.int16),
        "intermittent_frames": np.zeros((0, width), np.int32),
    }


def plan_tubes(
    dataset: VideoDataset,
    split: str,
    detections: DetectionsLike,
    t: int,
    intermittent: bool,
    seed: int,
    policy: str,
    max_gap: int,
) -> Plan:
    """Order the detections (dataset video order, frame, row), apply the edge policy, draw the
    intermittent offsets and compute every frame index; no frame is read."""
    videos = dataset.videos(split)
    rank = {video.id: r for r, video in enumerate(videos)}
    vid = np.asarray(detections.video).astype(str).reshape(-1)
    frame = np.asarray(detections.frame).astype(np.int64).reshape(-1)
    boxes = np.asarray(detections.boxes, dtype=np.float32).reshape(-1, 4)
    if not len(vid) == len(frame) == len(boxes):
        raise ValueError(
            f"detections columns differ in length: video {len(vid)}, frame {len(frame)}, "
            f"boxes {len(boxes)}"
        )
    uniques, inverse = np.unique(vid, return_inverse=True)
    unknown = [u for u in uniques.tolist() if u not in rank]
    if unknown:
        raise DetectionsMismatch(
            f"detections name videos that {dataset.name} ({dataset.root}) has no {split} video "
            f"for: {', '.join(unknown[:10])}"
        )
    if len(vid):
        ranks = np.array([rank[u] for u in uniques.tolist()], dtype=np.int64)
        video_rank = ranks[inverse.reshape(-1)]
    else:
        video_rank = np.zeros(0, np.int64)
    order = np.lexsort((np.arange(len(vid)), frame, video_rank))
    bounds = np.searchsorted(video_rank[order], np.arange(len(videos) + 1))
    offsets = window_offsets(t)
    width = 2 * t + 1
    names = ["video", "frame", "box", "detection_row", "window_frames"]
    if intermittent:
        names += ["intermittent_offsets", "intermittent_frames"]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    slices, num_frames, per_video = {}, {}, {}
    start = 0
    for r, video in enumerate(videos):
        rows = order[bounds[r] : bounds[r + 1]]
        nf = int(video.num_frames)
        num_frames[video.id] = nf
        f = frame[rows]
        bad = (f < 0) | (f >= nf)
        if bad.any():
            raise DetectionsMismatch(
                f"detections of {split} video {video.id} reference frame {int(f[bad][0])}, "
                f"outside 0..{nf - 1}"
            )
        keep = (f >= t) & (f <= nf - 1 - t) if policy == "skip" else np.ones(len(f), bool)
        info = {
            "frames": nf,
            "detections": int(len(rows)),
            "tubes": int(keep.sum()),
            "skipped": int((~keep).sum()),
        }
        rows, f = rows[keep], f[keep]
        windows = f[:, None] + offsets[None]
        info["clamped_windows"] = int(((windows < 0) | (windows >= nf)).any(axis=1).sum())
        parts["video"].append(np.repeat(np.array([video.id]), len(rows)))
        parts["frame"].append(f.astype(np.int32))
        parts["box"].append(boxes[rows])
        parts["detection_row"].append(rows.astype(np.int64))
        parts["window_frames"].append(np.clip(windows, 0, nf - 1).astype(np.int32))
        if intermittent:
            inter = np.zeros((len(rows), width), np.int64)
            for j, (row, c) in enumerate(zip(rows.tolist(), f.tolist(), strict=True)):
                rng = np.random.default_rng([seed, row])
                inter[j] = intermittent_offsets(t, rng, max_gap, c, nf - 1 - c)
            inter_frames = f[:, None] + inter
            outside = (inter_frames < 0) | (inter_frames >= nf)
            info["clamped_intermittent"] = int(outside.any(axis=1).sum())
            parts["intermittent_offsets"].append(inter.astype(np.int16))
            parts["intermittent_frames"].append(np.clip(inter_frames, 0, nf - 1).astype(np.int32))
        per_video[video.id] = info
        slices[video.id] = (start, start + len(rows))
        start += len(rows)
    empty = _empty_index(width)
    arrays = {
        name: np.concatenate(chunks) if chunks else empty[name] for name, chunks in parts.items()
    }
    totals = {"videos": len(videos), "detections": int(len(vid))}
    for name in ("tubes", "skipped", "clamped_windows", "clamped_intermittent"):
        if name != "clamped_intermittent" or intermittent:
            totals[name] = sum(info[name] for info in per_video.values())
    return Plan(videos, num_frames, slices, arrays, {**totals, "per_video": per_video})
