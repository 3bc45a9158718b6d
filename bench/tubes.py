"""Object-centric temporal sequences ("tubes") and their on-disk cache (SSMTL paper, 3.1-3.4).

For each detected object in frame ``i`` the paper crops the *same* bounding box from the frames
``i-t .. i+t`` (no tracking, sections 3.1 and 6.3) and resizes every crop to 64x64. From such a
sequence the proxy tasks are derived (section 3.3):

* arrow of time: the sequence forward ``(i-t .. i+t)`` and reversed ``(i+t .. i-t)``
  (:func:`window_offsets`, :func:`reverse`);
* motion irregularity: the consecutive sequence and an intermittent one that keeps frame ``i``
  and "gradually" adds ``t`` previous and ``t`` succeeding frames with random gaps in
  ``{1, 2, 3, 4}`` (:func:`intermittent_offsets`);
* middle box prediction: the ``2t`` context crops as input, the middle crop as target
  (:func:`middle_context`).

:func:`crop_tubes` crops many tubes with one :func:`torchvision.ops.roi_align` call, and
:func:`build_tube_cache` writes every tube of a dataset split to a folder (``tubes.npy``, for the
training split also ``intermittent.npy``, ``index.npz`` and ``meta.json``), streaming frames in
blocks with bounded memory, atomically, and resumably; :class:`TubeCache` reads it back.

Choices where the paper is silent (all recorded in ``meta.json``):

* **Video ends** (``edge`` for the test split, ``train_edge`` for the training split). ``"clamp"``
  replaces a frame index outside the video by the first/last frame (the sequence repeats the edge
  frame); ``"skip"`` drops the detection. Defaults: test objects are clamped so that every
  detection gets a score; training detections whose regular window ``i-t .. i+t`` leaves the video
  are skipped (their sequences would be partly static, an easy and misleading sample for the
  arrow-of-time and motion tasks). Skipped detections are counted in ``meta.json``.
* **Intermittent gaps.** Gaps are drawn outward from frame ``i``, each uniform in
  ``{1 .. max_gap}``; when frames are short near a video end, each gap's upper bound is lowered so
  the whole sequence fits in the video (so inside the video, away from its ends, the gaps are the
  paper's i.i.d. uniform ones). A draw whose gaps are all 1 is the consecutive sequence, not an
  intermittent one, so it is rejected and redrawn (rejection keeps the other draws' distribution).
  Where no intermittent sequence fits (the side of a window that reaches a video end under
  ``"clamp"``, or exactly ``t`` frames on both sides) the gaps are drawn without the fit
  constraint and the frame indices are clamped. One intermittent sequence per object is drawn at
  build time, with the per-object generator ``np.random.default_rng([seed, detection_row])``
  (``detection_row`` = the row of the object in the detections table, so the draw does not depend
  on which other detections were skipped).
* **Crop geometry.** Boxes are in continuous pixel coordinates (``x_max`` exclusive), clipped to
  the frame and widened to at least one pixel around their centre; ``roi_align`` runs with
  ``aligned=True`` (pixel ``j`` covers ``[j, j+1)``) and the adaptive ``sampling_ratio=-1``, i.e.
  ``ceil(box_size / 64)`` samples per output pixel and axis. For boxes smaller than 64 pixels (all
  of Ped2) that is one bilinear sample per output pixel, the same as a bilinear resize of the crop
  (half-pixel centres, like ``cv2.resize(INTER_LINEAR)``); for larger boxes it averages a grid of
  samples per output pixel, an area-style anti-aliased downscale (exactly ``INTER_AREA`` for an
  integer factor). The float result is rounded to ``uint8``.
* **Storage.** Sequences are stored channels-first ``(N, 2t+1, 3, 64, 64)`` ``uint8`` in frame
  order (forward); reversed and middle-context views are derived at training time. Tubes are
  ordered by the dataset's video order, then centre frame, then detection row.
* **Train/validation split** (:meth:`TubeCache.train_val_split`): by the tube's centre frame, frames
  ``0 .. floor(0.85 * num_frames) - 1`` of each training video are train, the rest validation
  (a tube centred just before the cut may read a few validation frames).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
import torch

from bench.datasets.base import DatasetError, Video, VideoDataset

FORMAT_VERSION = 1
TUBE_SIZE = 64
SAMPLING_RATIO = -1  # adaptive: ceil(box_size / TUBE_SIZE) samples per output pixel and axis
MAX_GAP = 4
EDGE_POLICIES = ("clamp", "skip")
MAX_OBJECTS_PER_CALL = 128  # objects per roi_align call in a build: bounds the float crop buffer
CACHE_FILES = ("tubes.npy", "intermittent.npy", "index.npz", "meta.json", "progress.json")


class TubeCacheError(Exception):
    """A tube cache folder is missing, unfinished, from other inputs, or of another format."""


class DetectionsLike(Protocol):
    """What the tube builder reads from a detections table (:class:`bench.detection.table.Detections`)."""

    video: np.ndarray  # (N,) str, video ids
    frame: np.ndarray  # (N,) int, 0-based frame index
    boxes: np.ndarray  # (N, 4) float, x_min, y_min, x_max, y_max in pixels


# --- sequences -----------------------------------------------------------------------------------


def window_offsets(t: int) -> np.ndarray:
    """Offsets ``-t .. t`` of the regular (forward, consecutive) sequence around frame ``i``."""
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t}")
    return np.arange(-t, t + 1, dtype=np.int64)


def reverse(seq: Any, axis: int = 0) -> Any:
    """The sequence in reversed temporal order: ``(i-t .. i+t)`` becomes ``(i+t .. i-t)``.

    Works on a list/tuple, a numpy array (a view) or a torch tensor, along ``axis``.
    """
    if isinstance(seq, torch.Tensor):
        return torch.flip(seq, dims=(axis,))
    if isinstance(seq, np.ndarray):
        return np.flip(seq, axis=axis)
    return type(seq)(reversed(seq)) if isinstance(seq, (list, tuple)) else seq[::-1]


def intermittent_offsets(
    t: int,
    rng: np.random.Generator,
    max_gap: int = MAX_GAP,
    before: int | None = None,
    after: int | None = None,
) -> np.ndarray:
    """Offsets (length ``2t+1``, strictly increasing, ``0`` in the middle) of an intermittent sequence.

    Starting from frame ``i`` (offset 0), ``t`` previous and ``t`` succeeding frames are added one
    after the other, each ``gap`` frames further out, ``gap`` uniform in ``{1 .. max_gap}``. At least
    one gap is > 1 (an all-ones draw is rejected and redrawn). ``before``/``after``: how many frames
    the video has before/after frame ``i`` (``None`` = unlimited); when given, each gap is capped so
    the sequence stays inside the video. A side with fewer than ``t`` frames, or both sides when
    exactly ``t`` frames are on each (only the consecutive sequence would fit), is drawn without
    the cap and the caller clamps the frame indices. See the module docstring.
    """
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t}")
    if max_gap < 2:
        raise ValueError(f"max_gap must be >= 2 for an intermittent sequence, got {max_gap}")
    # a side with fewer than t frames cannot fit any sequence: drawn freely there (clamped later)
    budgets = [np.inf if b is None or b < t else b for b in (before, after)]
    if budgets[0] == budgets[1] == t:  # only the consecutive sequence fits: draw freely, clamp
        budgets = [np.inf, np.inf]
    while True:
        u = rng.random(2 * t)
        gaps = np.empty(2 * t, dtype=np.int64)
        for side in range(2):
            left = budgets[side]
            for k in range(t):
                # leave at least one frame for each of the t-1-k gaps still to draw on this side
                cap = int(min(max_gap, left - (t - 1 - k)))
                gap = 1 + int(u[side * t + k] * cap)
                gaps[side * t + k] = gap
                left -= gap
        if gaps.max() > 1:
            break
    previous = -np.cumsum(gaps[:t])[::-1]
    succeeding = np.cumsum(gaps[t:])
    return np.concatenate([previous, [0], succeeding]).astype(np.int64)


def middle_context(seq: Any, axis: int = 0) -> tuple[Any, Any]:
    """``(context, target)``: the sequence without its middle element (``2t`` items) and the middle item."""
    n = len(seq) if not isinstance(seq, (np.ndarray, torch.Tensor)) else seq.shape[axis]
    if n < 3 or n % 2 == 0:
        raise ValueError(f"a sequence of odd length >= 3 is needed, got length {n}")
    mid = n // 2
    if isinstance(seq, torch.Tensor):
        return torch.cat([seq.narrow(axis, 0, mid), seq.narrow(axis, mid + 1, mid)], dim=axis), seq.select(axis, mid)
    if isinstance(seq, np.ndarray):
        return np.delete(seq, mid, axis=axis), np.take(seq, mid, axis=axis)
    return seq[:mid] + seq[mid + 1 :], seq[mid]


def clamp_frames(center: np.ndarray, offsets: np.ndarray, num_frames: int) -> np.ndarray:
    """Frame indices ``center + offsets`` clamped to ``0 .. num_frames-1`` (edge frames repeat)."""
    center = np.asarray(center).reshape(-1, 1)
    return np.clip(center + np.asarray(offsets), 0, num_frames - 1)


# --- cropping --------------------------------------------------------------------------------------


def clip_boxes(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Boxes clipped to the frame, each at least one pixel wide and high (around its centre)."""
    boxes = boxes.clone()
    for lo, hi, size in ((0, 2, width), (1, 3, height)):
        a = boxes[:, lo].clamp(0, size)
        b = boxes[:, hi].clamp(0, size)
        small = (b - a) < 1
        centre = ((a + b) / 2).clamp(0.5, size - 0.5)
        boxes[:, lo] = torch.where(small, centre - 0.5, a)
        boxes[:, hi] = torch.where(small, centre + 0.5, b)
    return boxes


def crop_tubes(
    frames: torch.Tensor,
    frame_index: torch.Tensor,
    boxes: torch.Tensor,
    size: int = TUBE_SIZE,
    sampling_ratio: int = SAMPLING_RATIO,
) -> torch.Tensor:
    """Crop ``boxes[k]`` from ``frames[frame_index[k, j]]`` for every ``k, j``: ``(K, T, C, size, size)``.

    ``frames``: ``(F, C, H, W)`` float; ``frame_index``: ``(K, T)`` integer positions in ``frames``;
    ``boxes``: ``(K, 4)`` ``x_min, y_min, x_max, y_max`` pixels (clipped to the frame, see
    :func:`clip_boxes`). The same box is used in every frame of a tube (no tracking). All ``K*T``
    crops come from a single ``roi_align(aligned=True)`` call (see the module docstring for the
    sampling ratio).
    """
    if frames.ndim != 4 or frame_index.ndim != 2 or boxes.shape != (frame_index.shape[0], 4):
        raise ValueError(f"expected frames (F,C,H,W), frame_index (K,T), boxes (K,4); got {tuple(frames.shape)}, {tuple(frame_index.shape)}, {tuple(boxes.shape)}")
    k, t = frame_index.shape
    channels, height, width = frames.shape[1:]
    if k == 0:
        return frames.new_zeros((0, t, channels, size, size))
    if int(frame_index.min()) < 0 or int(frame_index.max()) >= frames.shape[0]:
        raise IndexError(f"frame_index must be in 0..{frames.shape[0] - 1}, got {int(frame_index.min())}..{int(frame_index.max())}")
    boxes = clip_boxes(boxes.to(device=frames.device, dtype=frames.dtype), height, width)
    rois = torch.cat([frame_index.reshape(-1, 1).to(device=frames.device, dtype=frames.dtype), boxes.repeat_interleave(t, dim=0)], dim=1)
    from torchvision.ops import roi_align  # imported here: torchvision costs ~1.6 s, and most stages never crop

    crops = roi_align(frames, rois, output_size=(size, size), spatial_scale=1.0, sampling_ratio=sampling_ratio, aligned=True)
    return crops.view(k, t, channels, size, size)


def frames_to_tensor(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB ``uint8`` ``(n, H, W, 3)`` frames as a contiguous float ``(n, 3, H, W)`` tensor (0..255)
    on ``device`` (moved as ``uint8``, a quarter of the float bytes)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).contiguous().float()


def to_uint8(crops: torch.Tensor) -> np.ndarray:
    """Crops of 0..255 frames rounded to ``uint8`` (in place; bilinear/area sampling of 0..255
    values stays in 0..255, so no clamp is needed)."""
    return crops.round_().to(torch.uint8).numpy()


# --- cache: planning -------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, keys strings), for key comparison."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def detections_fingerprint(detections: DetectionsLike) -> dict:
    """Row count and a SHA-256 of the ``video``, ``frame`` and ``boxes`` columns."""
    digest = hashlib.sha256()
    video = np.asarray(detections.video).astype(str)
    digest.update("\n".join(video.tolist()).encode())
    digest.update(np.ascontiguousarray(detections.frame, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(detections.boxes, dtype="<f4").tobytes())
    return {"rows": int(len(video)), "sha256": digest.hexdigest()}


def _policy(split: str, edge: str, train_edge: str) -> str:
    policy = train_edge if split == "train" else edge
    if policy not in EDGE_POLICIES:
        raise ValueError(f"edge policy must be one of {EDGE_POLICIES}, got {policy!r}")
    return policy


def tube_cache_key(
    dataset: VideoDataset,
    split: str,
    detections: DetectionsLike,
    t: int = 3,
    intermittent: bool | None = None,
    seed: int = 0,
    key: dict | None = None,
    edge: str = "clamp",
    train_edge: str = "skip",
    max_gap: int = MAX_GAP,
) -> dict:
    """Everything that determines a cache's content (stored as ``meta.json["key"]``)."""
    intermittent = split == "train" if intermittent is None else bool(intermittent)
    return _jsonable(
        {
            "format": FORMAT_VERSION,
            "dataset": dataset.name,
            "root": str(Path(dataset.root).resolve()),
            "split": split,
            "t": int(t),
            "size": TUBE_SIZE,
            "sampling_ratio": SAMPLING_RATIO,
            "edge": _policy(split, edge, train_edge),
            "intermittent": intermittent,
            "max_gap": int(max_gap) if intermittent else None,
            "seed": int(seed) if intermittent else None,
            "detector": key or {},
            "detections": detections_fingerprint(detections),
        }
    )


@dataclass
class _Plan:
    """The index of every tube of a build, known before any frame is read."""

    videos: list[Video]
    num_frames: dict[str, int]
    slices: dict[str, tuple[int, int]]  # tube rows of each video
    arrays: dict[str, np.ndarray]  # index.npz content
    counts: dict

    def __len__(self) -> int:
        return len(self.arrays["frame"])


def _plan(dataset: VideoDataset, split: str, detections: DetectionsLike, t: int, intermittent: bool, seed: int, policy: str, max_gap: int) -> _Plan:
    """Order the detections (dataset video order, frame, row), apply the edge policy, draw the
    intermittent offsets and compute every frame index; no frame is read."""
    videos = dataset.videos(split)
    rank = {video.id: r for r, video in enumerate(videos)}
    vid = np.asarray(detections.video).astype(str).reshape(-1)
    frame = np.asarray(detections.frame).astype(np.int64).reshape(-1)
    boxes = np.asarray(detections.boxes, dtype=np.float32).reshape(-1, 4)
    if not len(vid) == len(frame) == len(boxes):
        raise ValueError(f"detections columns differ in length: video {len(vid)}, frame {len(frame)}, boxes {len(boxes)}")
    uniques, inverse = np.unique(vid, return_inverse=True)
    unknown = [u for u in uniques.tolist() if u not in rank]
    if unknown:
        raise ValueError(f"detections name videos that {dataset.name} ({dataset.root}) has no {split} video for: {', '.join(unknown[:10])}")
    video_rank = np.array([rank[u] for u in uniques.tolist()], dtype=np.int64)[inverse.reshape(-1)] if len(vid) else np.zeros(0, np.int64)
    order = np.lexsort((np.arange(len(vid)), frame, video_rank))
    bounds = np.searchsorted(video_rank[order], np.arange(len(videos) + 1))
    offsets = window_offsets(t)
    width = 2 * t + 1
    names = ["video", "frame", "box", "detection_row", "window_frames"] + (["intermittent_offsets", "intermittent_frames"] if intermittent else [])
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
            raise ValueError(f"detections of {split} video {video.id} reference frame {int(f[bad][0])}, outside 0..{nf - 1}")
        keep = (f >= t) & (f <= nf - 1 - t) if policy == "skip" else np.ones(len(f), bool)
        info = {"frames": nf, "detections": int(len(rows)), "tubes": int(keep.sum()), "skipped": int((~keep).sum())}
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
            for j, (row, c) in enumerate(zip(rows.tolist(), f.tolist())):
                inter[j] = intermittent_offsets(t, np.random.default_rng([seed, row]), max_gap, c, nf - 1 - c)
            inter_frames = f[:, None] + inter
            info["clamped_intermittent"] = int(((inter_frames < 0) | (inter_frames >= nf)).any(axis=1).sum())
            parts["intermittent_offsets"].append(inter.astype(np.int16))
            parts["intermittent_frames"].append(np.clip(inter_frames, 0, nf - 1).astype(np.int32))
        per_video[video.id] = info
        slices[video.id] = (start, start + len(rows))
        start += len(rows)
    empty = {"video": np.zeros(0, "U1"), "frame": np.zeros(0, np.int32), "box": np.zeros((0, 4), np.float32), "detection_row": np.zeros(0, np.int64), "window_frames": np.zeros((0, width), np.int32), "intermittent_offsets": np.zeros((0, width), np.int16), "intermittent_frames": np.zeros((0, width), np.int32)}
    arrays = {name: np.concatenate(chunks) if chunks else empty[name] for name, chunks in parts.items()}
    totals = {"videos": len(videos), "detections": int(len(vid))}
    for name in ("tubes", "skipped", "clamped_windows", "clamped_intermittent"):
        if name != "clamped_intermittent" or intermittent:
            totals[name] = sum(info[name] for info in per_video.values())
    return _Plan(videos, num_frames, slices, arrays, {**totals, "per_video": per_video})


# --- cache: files ----------------------------------------------------------------------------------


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed ``.npz`` with fixed zip timestamps (byte-identical for identical arrays), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue())
    os.replace(tmp, path)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _check_removable(path: Path) -> None:
    """Raise unless ``path`` is a folder holding only files a tube cache writes."""
    if not path.is_dir():
        raise TubeCacheError(f"{path}: exists and is not a folder; refusing to replace it with a tube cache")
    foreign = [p.name for p in path.iterdir() if p.name not in CACHE_FILES and not p.name.endswith(".tmp")]
    if foreign:
        raise TubeCacheError(f"{path}: holds files that are not a tube cache's ({', '.join(sorted(foreign)[:5])}); refusing to delete it")


def _remove_cache_dir(path: Path) -> None:
    """Delete a stale cache or partial folder, refusing if it holds anything a cache never writes."""
    if path.exists():
        _check_removable(path)
        shutil.rmtree(path)


class _NpyRows:
    """Write rows of a preallocated ``.npy`` through short-lived memmap windows.

    Each :meth:`write` maps only the rows it writes and unmaps them again, so the process keeps no
    written pages mapped (resident memory does not grow with the cache size); the written pages
    live in the kernel's page cache, so a killed process loses nothing it wrote. :meth:`sync`
    (``fsync``, once per completed video, before ``progress.json`` records it) makes them durable.
    """

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = reader(handle)
            self.offset = handle.tell()
        if fortran:
            raise TubeCacheError(f"{path}: unexpected Fortran-order array")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def write(self, start: int, rows: np.ndarray) -> None:
        if len(rows) == 0:
            return
        if rows.shape[1:] != self.shape[1:] or start + len(rows) > self.shape[0]:
            raise ValueError(f"{self.path}: cannot write rows {start}..{start + len(rows)} of shape {rows.shape[1:]} into {self.shape}")
        window = np.memmap(self.path, dtype=self.dtype, mode="r+", offset=self.offset + start * self.row_bytes, shape=rows.shape)
        window[...] = rows
        del window  # unmapped; the dirty pages stay in the page cache

    def sync(self) -> None:
        with open(self.path, "rb+") as handle:
            os.fsync(handle.fileno())


class _FrameWindow:
    """Frames ``[start, start+n)`` of one video, reusing the overlap with the previous request."""

    def __init__(self, video: Video):
        self.video = video
        self.start = 0
        self.frames: np.ndarray | None = None

    def _read(self, lo: int, hi: int) -> np.ndarray:
        frames = self.video.read(lo, hi)
        if len(frames) != hi - lo:
            raise DatasetError(f"video {self.video.id}: read {len(frames)} frames for {lo}..{hi - 1}")
        return frames

    def get(self, lo: int, hi: int) -> np.ndarray:
        old = self.frames
        if old is not None and self.start <= lo < self.start + len(old):
            keep = old[lo - self.start : hi - self.start]
            end = self.start + len(old)
            frames = keep if hi <= end else np.concatenate([keep, self._read(end, hi)])
        else:
            frames = self._read(lo, hi)
        self.start, self.frames = lo, frames
        return frames


def _crop_chunk(frames: torch.Tensor, lo: int, c0: int, c1: int, sequences: list, boxes: np.ndarray, writers: dict[str, _NpyRows]) -> int:
    """Crop tubes ``c0..c1-1`` (every sequence kind in one ``roi_align`` call) and write them."""
    index = torch.from_numpy(np.concatenate([seq[c0:c1] for _, seq in sequences]).astype(np.int64) - lo)
    crops = to_uint8(crop_tubes(frames, index, torch.from_numpy(np.concatenate([boxes[c0:c1]] * len(sequences)))))
    for j, (name, _) in enumerate(sequences):
        writers[name].write(c0, crops[j * (c1 - c0) : (j + 1) * (c1 - c0)])
    return c1 - c0


def _crop_video(video: Video, rows: tuple[int, int], arrays: dict[str, np.ndarray], writers: dict[str, _NpyRows], batch_frames: int, pbar, pool: ThreadPoolExecutor | None = None) -> None:
    """Crop and write every tube of one video, one block of ``batch_frames`` centre frames at a time.

    A block reads only the frames its tubes use (at most ``batch_frames + 2 * reach`` frames, reach
    = ``t`` or ``max_gap * t``; frames shared with the previous block are kept, not decoded again)
    and crops at most :data:`MAX_OBJECTS_PER_CALL` objects per ``roi_align`` call (regular and
    intermittent sequences together). With a ``pool`` the chunks are cropped by its threads
    (torchvision's CPU ``roi_align`` is single-threaded) while this thread decodes the next block;
    at most ``2 * workers`` chunks are in flight. Returns when every tube of the video is written.
    """
    start, stop = rows
    if stop <= start:
        return
    centre = arrays["frame"][start:stop]
    sequences = [("tubes", arrays["window_frames"])]
    if "intermittent" in writers:
        sequences.append(("intermittent", arrays["intermittent_frames"]))
    window = _FrameWindow(video)
    first_block, last_block = int(centre[0]) // batch_frames, int(centre[-1]) // batch_frames
    cuts = start + np.searchsorted(centre, np.arange(first_block, last_block + 2) * batch_frames)
    pending: deque[Future] = deque()
    limit = 2 * pool._max_workers if pool is not None else 0

    def finish(future: Future) -> None:
        done = future.result()
        if pbar is not None:
            pbar.update(done)

    try:
        for b0, b1 in zip(cuts[:-1], cuts[1:]):
            if b1 <= b0:
                continue
            lo = min(int(index[b0:b1].min()) for _, index in sequences)
            hi = max(int(index[b0:b1].max()) for _, index in sequences) + 1
            frames = frames_to_tensor(window.get(lo, hi))
            for c0 in range(b0, b1, MAX_OBJECTS_PER_CALL):
                c1 = min(b1, c0 + MAX_OBJECTS_PER_CALL)
                if pool is None:
                    done = _crop_chunk(frames, lo, c0, c1, sequences, arrays["box"], writers)
                    if pbar is not None:
                        pbar.update(done)
                    continue
                while len(pending) >= limit:
                    finish(pending.popleft())
                pending.append(pool.submit(_crop_chunk, frames, lo, c0, c1, sequences, arrays["box"], writers))
            del frames
        while pending:
            finish(pending.popleft())
    finally:
        for future in pending:  # an error: let the chunks in flight end before the caller moves on
            future.cancel()
        wait(pending)


# --- cache: build and open -------------------------------------------------------------------------


def default_workers() -> int:
    """Threads for ``roi_align``: the CPUs this process may use, at most 8 (more oversubscribes
    torch's own threads and is slower)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def _partial_dir(out_dir: Path) -> Path:
    return out_dir.parent / (out_dir.name + ".partial")


def _resumable(partial: Path, key: dict, plan: _Plan, files: Sequence[str]) -> list[str] | None:
    """The videos a partial build with the same key has completed, or ``None`` if it can't be trusted."""
    progress = _read_json(partial / "progress.json")
    if not progress or progress.get("key") != key or progress.get("rows") != len(plan):
        return None
    done = progress.get("videos_done")
    ids = [v.id for v in plan.videos]
    if not isinstance(done, list) or done != ids[: len(done)]:
        return None
    if not (partial / "index.npz").is_file():
        return None
    for name in files:
        try:
            shape = _NpyRows(partial / name).shape
        except (OSError, ValueError, TubeCacheError):
            return None
        if shape[0] != len(plan):
            return None
    return done


def build_tube_cache(
    dataset: VideoDataset,
    split: str,
    detections: DetectionsLike,
    out_dir: str | Path,
    t: int = 3,
    intermittent: bool | None = None,
    seed: int = 0,
    batch_frames: int = 64,
    progress: bool = True,
    *,
    key: dict | None = None,
    edge: str = "clamp",
    train_edge: str = "skip",
    max_gap: int = MAX_GAP,
    workers: int | None = None,
) -> "TubeCache":
    """Crop every detection's tube of ``split`` into ``out_dir`` and return the opened cache.

    ``intermittent`` (default: ``split == "train"``) also stores one intermittent sequence per
    object. ``key``: the detector's parameters (model, confidence threshold, ...), recorded in the
    cache key. ``edge``/``train_edge``: what happens at video ends for test/train objects (module
    docstring). An ``out_dir`` whose ``meta.json`` has the same key is returned without work; the
    build runs in ``<out_dir>.partial``, resumes there after the last completed video when the key
    matches (otherwise the partial folder is discarded), and is renamed to ``out_dir`` once
    ``meta.json`` (written last) is in place. Unreadable frames raise the dataset's
    :class:`DatasetError` naming the file. ``workers``: threads that run ``roi_align`` (default
    :func:`default_workers`; 1 = no threads); the files do not depend on it or on ``batch_frames``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if batch_frames < 1:
        raise ValueError(f"batch_frames must be >= 1, got {batch_frames}")
    out_dir = Path(out_dir)
    intermittent = split == "train" if intermittent is None else bool(intermittent)
    policy = _policy(split, edge, train_edge)
    cache_key = tube_cache_key(dataset, split, detections, t, intermittent, seed, key, edge, train_edge, max_gap)
    meta = _read_json(out_dir / "meta.json")
    if meta is not None and meta.get("key") == cache_key:
        return TubeCache.open(out_dir, key=cache_key)

    if out_dir.exists():  # a stale cache is replaced at the end: fail now if it cannot be
        _check_removable(out_dir)
    plan = _plan(dataset, split, detections, t, intermittent, seed, policy, max_gap)
    files = ["tubes.npy"] + (["intermittent.npy"] if intermittent else [])
    tube_shape = (2 * t + 1, 3, TUBE_SIZE, TUBE_SIZE)
    partial = _partial_dir(out_dir)
    done = _resumable(partial, cache_key, plan, files) if partial.exists() else None
    if done is None:
        _remove_cache_dir(partial)
        partial.mkdir(parents=True)
        _save_npz(partial / "index.npz", plan.arrays)
        for name in files:
            array = np.lib.format.open_memmap(partial / name, mode="w+", dtype=np.uint8, shape=(len(plan), *tube_shape))
            array.flush()
            del array
        done = []
        _write_json(partial / "progress.json", {"key": cache_key, "rows": len(plan), "videos_done": [], "rows_done": 0})
    writers = {name.removesuffix(".npy"): _NpyRows(partial / name) for name in files}
    rows_done = plan.slices[done[-1]][1] if done else 0
    pbar = None
    if progress:
        from tqdm import tqdm

        pbar = tqdm(total=len(plan), initial=rows_done, unit="tube", desc=f"tubes {dataset.name} {split}")
    workers = default_workers() if workers is None else int(workers)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="tubes") if workers > 1 else None
    try:
        for video in plan.videos[len(done) :]:
            _crop_video(video, plan.slices[video.id], plan.arrays, writers, batch_frames, pbar, pool)
            for writer in writers.values():
                writer.sync()
            done.append(video.id)
            rows_done = plan.slices[video.id][1]
            _write_json(partial / "progress.json", {"key": cache_key, "rows": len(plan), "videos_done": done, "rows_done": rows_done})
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if pbar is not None:
            pbar.close()

    meta = {
        "format": FORMAT_VERSION,
        "key": cache_key,
        "t": int(t),
        "split": split,
        "dataset": {"name": dataset.name, "root": str(Path(dataset.root).resolve())},
        "detector": _jsonable(key or {}),
        "tube_shape": list(tube_shape),
        "dtype": "uint8",
        "layout": "N, 2t+1 frames (forward order), RGB channels, 64, 64",
        "sampling_ratio": SAMPLING_RATIO,
        "edge": policy,
        "intermittent": intermittent,
        "max_gap": int(max_gap) if intermittent else None,
        "seed": int(seed) if intermittent else None,
        "videos": plan.num_frames,
        "counts": plan.counts,
        "files": files + ["index.npz"],
    }
    (partial / "progress.json").unlink()
    _write_json(partial / "meta.json", _jsonable(meta))  # the completion marker, written last
    _remove_cache_dir(out_dir)
    os.replace(partial, out_dir)
    return TubeCache.open(out_dir, key=cache_key)


class TubeCache:
    """A finished tube cache folder, memory-mapped read-only.

    ``tubes``: ``(N, 2t+1, 3, 64, 64)`` ``uint8`` regular sequences (forward order);
    ``intermittent``: the same shape for training caches (``None`` otherwise); per tube ``video``,
    ``frame`` (centre frame ``i``), ``box`` (the detection's box), ``detection_row`` (row in the
    detections table), ``window_frames`` (frames actually read, after clamping),
    ``intermittent_offsets`` and ``intermittent_frames`` (training caches).
    """

    def __init__(self, root: Path, meta: dict, tubes: np.ndarray, intermittent: np.ndarray | None, index: dict[str, np.ndarray]):
        self.root = root
        self.meta = meta
        self.tubes = tubes
        self.intermittent = intermittent
        self.index = index
        self.video: np.ndarray = index["video"]
        self.frame: np.ndarray = index["frame"]
        self.box: np.ndarray = index["box"]
        self.detection_row: np.ndarray = index["detection_row"]
        self.window_frames: np.ndarray = index["window_frames"]
        self.intermittent_offsets: np.ndarray | None = index.get("intermittent_offsets")
        self.intermittent_frames: np.ndarray | None = index.get("intermittent_frames")

    @classmethod
    def open(cls, out_dir: str | Path, key: dict | None = None) -> "TubeCache":
        """Open a finished cache; :class:`TubeCacheError` names the folder when it is missing,
        unfinished (no ``meta.json``), of another format version, or built for another ``key``."""
        root = Path(out_dir)
        meta_path = root / "meta.json"
        if not meta_path.is_file():
            hint = f" (an unfinished build is in {_partial_dir(root)})" if _partial_dir(root).exists() else ""
            raise TubeCacheError(f"{root}: not a finished tube cache, meta.json is missing{hint}; rebuild it with build_tube_cache")
        meta = _read_json(meta_path)
        if meta is None:
            raise TubeCacheError(f"{root}: meta.json is unreadable; delete the folder and rebuild it")
        if meta.get("format") != FORMAT_VERSION:
            raise TubeCacheError(f"{root}: tube cache format {meta.get('format')!r}, this code reads format {FORMAT_VERSION}; rebuild it")
        if key is not None and meta.get("key") != _jsonable(key):
            raise TubeCacheError(f"{root}: tube cache was built for other inputs (key mismatch); rebuild it")
        try:
            tubes = np.load(root / "tubes.npy", mmap_mode="r")
            intermittent = np.load(root / "intermittent.npy", mmap_mode="r") if meta.get("intermittent") else None
            with np.load(root / "index.npz", allow_pickle=False) as archive:
                index = {name: archive[name] for name in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise TubeCacheError(f"{root}: tube cache file unreadable ({error}); delete the folder and rebuild it") from error
        n = meta["counts"]["tubes"]
        shape = (n, *meta["tube_shape"])
        if tubes.shape != shape or (intermittent is not None and intermittent.shape != shape) or len(index["frame"]) != n:
            raise TubeCacheError(f"{root}: array shapes disagree with meta.json (expected {shape}); delete the folder and rebuild it")
        return cls(root, meta, tubes, intermittent, index)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"TubeCache({self.root}, {len(self)} tubes, split={self.split}, t={self.t})"

    @property
    def key(self) -> dict:
        return self.meta["key"]

    @property
    def t(self) -> int:
        return int(self.meta["t"])

    @property
    def split(self) -> str:
        return self.meta["split"]

    @property
    def num_frames(self) -> dict[str, int]:
        """Frame count of every video of the split."""
        return {vid: int(n) for vid, n in self.meta["videos"].items()}

    def train_val_split(self, fraction: float = 0.85) -> tuple[np.ndarray, np.ndarray]:
        """``(train, validation)`` tube indices: tubes centred in the first ``fraction`` of each
        training video's frames (frames ``0 .. floor(fraction * n) - 1``) are train, the rest
        validation (paper 4.2)."""
        if self.split != "train":
            raise ValueError(f"{self.root}: train/validation split needs a training cache, this one is {self.split}")
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        counts = self.num_frames
        uniques, inverse = np.unique(self.video, return_inverse=True)
        cut = np.array([int(np.floor(fraction * counts[str(v)] + 1e-9)) for v in uniques], dtype=np.int64)
        is_train = self.frame < cut[inverse.reshape(-1)] if len(self) else np.zeros(0, bool)
        return np.flatnonzero(is_train), np.flatnonzero(~is_train)


__all__ = [
    "CACHE_FILES",
    "FORMAT_VERSION",
    "MAX_GAP",
    "SAMPLING_RATIO",
    "TUBE_SIZE",
    "TubeCache",
    "TubeCacheError",
    "build_tube_cache",
    "clamp_frames",
    "clip_boxes",
    "crop_tubes",
    "detections_fingerprint",
    "intermittent_offsets",
    "middle_context",
    "reverse",
    "tube_cache_key",
    "window_offsets",
]
