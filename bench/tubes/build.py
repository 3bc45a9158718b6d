"""Building a tube cache: every object-centric sequence of a split, cut once (paper 3.1, 3.3).

:func:`build_tube_cache` crops the regular sequence of every detection (section 3.1) and, for the
training split, its intermittent sequence (section 3.3, task 2) into a cache folder
(:mod:`bench.tubes.cache`). It streams the frames of each video in blocks with bounded memory,
writes atomically (the build runs in ``<folder>.partial``, renamed when ``meta.json`` is in
place) and resumably (after the last completed video of an interrupted build with the same key).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import torch

from bench.data.base import DatasetError, Video, VideoDataset
from bench.io import check_free_space, save_npz
from bench.paper import MAX_GAP, TUBE_SIZE, T
from bench.tubes.cache import (
    FORMAT_VERSION,
    TubeCache,
    TubeCacheError,
    check_removable,
    jsonable,
    partial_dir,
    read_json,
    remove_cache_dir,
    write_json,
)
from bench.tubes.crop import SAMPLING_RATIO, crop_tubes, frames_to_tensor, is_grey, to_uint8
from bench.tubes.plan import DetectionsLike, Plan, edge_policy, plan_tubes, tube_cache_key

MAX_OBJECTS_PER_CALL = 128  # objects per roi_align call in a build: bounds the float crop buffer


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
            if version == (1, 0):
                reader = np.lib.format.read_array_header_1_0
            else:
                reader = np.lib.format.read_array_header_2_0
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
            raise ValueError(
                f"{self.path}: cannot write rows {start}..{start + len(rows)} "
                f"of shape {rows.shape[1:]} into {self.shape}"
            )
        offset = self.offset + start * self.row_bytes
        window = np.memmap(self.path, self.dtype, mode="r+", offset=offset, shape=rows.shape)
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
            raise DatasetError(
                f"video {self.video.id}: read {len(frames)} frames for {lo}..{hi - 1}"
            )
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


def _crop_chunk(
    frames: torch.Tensor,
    lo: int,
    c0: int,
    c1: int,
    sequences: list,
    boxes: np.ndarray,
    writers: dict[str, _NpyRows],
    grey: bool,
) -> int:
    """Crop tubes ``c0..c1-1`` (every sequence kind in one ``roi_align`` call) and write them;
    ``grey``: whether the block's frames are grey (:func:`bench.tubes.crop.is_grey`)."""
    positions = np.concatenate([seq[c0:c1] for _, seq in sequences]).astype(np.int64) - lo
    chunk_boxes = np.concatenate([boxes[c0:c1]] * len(sequences))
    crops = crop_tubes(
        frames, torch.from_numpy(positions), torch.from_numpy(chunk_boxes), grey=grey
    )
    crops = to_uint8(crops)
    for j, (name, _) in enumerate(sequences):
        writers[name].write(c0, crops[j * (c1 - c0) : (j + 1) * (c1 - c0)])
    return c1 - c0


def _crop_video(
    video: Video,
    rows: tuple[int, int],
    arrays: dict[str, np.ndarray],
    writers: dict[str, _NpyRows],
    batch_frames: int,
    pbar,
    pool: ThreadPoolExecutor | None = None,
) -> None:
    """Crop and write every tube of one video, one block of ``batch_frames`` centre frames at a
    time.

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
    block_starts = np.arange(first_block, last_block + 2) * batch_frames
    cuts = start + np.searchsorted(centre, block_starts)
    pending: deque[Future] = deque()
    limit = 2 * pool._max_workers if pool is not None else 0

    def finish(future: Future) -> None:
        done = future.result()
        if pbar is not None:
            pbar.update(done)

    try:
        for b0, b1 in zip(cuts[:-1], cuts[1:], strict=True):
            if b1 <= b0:
                continue
            lo = min(int(index[b0:b1].min()) for _, index in sequences)
            hi = max(int(index[b0:b1].max()) for _, index in sequences) + 1
            frames = frames_to_tensor(window.get(lo, hi))
            grey = is_grey(frames)  # once per block, not per chunk
            for c0 in range(b0, b1, MAX_OBJECTS_PER_CALL):
                c1 = min(b1, c0 + MAX_OBJECTS_PER_CALL)
                chunk = (frames, lo, c0, c1, sequences, arrays["box"], writers, grey)
                if pool is None:
                    done = _crop_chunk(*chunk)
                    if pbar is not None:
                        pbar.update(done)
                    continue
                while len(pending) >= limit:
                    finish(pending.popleft())
                pending.append(pool.submit(_crop_chunk, *chunk))
            del frames
        while pending:
            finish(pending.popleft())
    finally:
        for future in pending:  # an error: let the chunks in flight end before the caller moves on
            future.cancel()
        wait(pending)


def default_workers() -> int:
    """Threads for ``roi_align``: the CPUs this process may use, at most 8 (more oversubscribes
    torch's own threads and is slower)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def _resumable(partial: Path, key: dict, plan: Plan, files: Sequence[str]) -> list[str] | None:
    """The videos a partial build with the same key has completed, or ``None`` if it can't be
    trusted."""
    progress = read_json(partial / "progress.json")
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


def _start_partial(
    partial: Path, plan: Plan, files: Sequence[str], tube_shape: tuple, cache_key: dict
) -> None:
    """A fresh ``partial`` folder: the index, zero-filled tube arrays, an empty progress record.
    The arrays are sparse files filled as the build goes: a full disk would end the build hours
    later (a SIGBUS writing the memory map), so their full size is checked free first."""
    remove_cache_dir(partial)
    needed = len(files) * len(plan) * int(np.prod(tube_shape))  # uint8
    check_free_space(partial.parent, needed, "tube cache")
    partial.mkdir(parents=True)
    save_npz(partial / "index.npz", plan.arrays)
    for name in files:
        array = np.lib.format.open_memmap(
            partial / name, mode="w+", dtype=np.uint8, shape=(len(plan), *tube_shape)
        )
        array.flush()
        del array
    progress = {"key": cache_key, "rows": len(plan), "videos_done": [], "rows_done": 0}
    write_json(partial / "progress.json", progress)


def build_tube_cache(
    dataset: VideoDataset,
    split: str,
    detections: DetectionsLike,
    out_dir: str | Path,
    t: int = T,
    intermittent: bool | None = None,
    seed: int = 0,
    batch_frames: int = 64,
    progress: bool = True,
    *,
    key: dict | None = None,
    edge: str = "clamp",
    train_edge: str = "clamp",
    max_gap: int = MAX_GAP,
    workers: int | None = None,
) -> TubeCache:
    """Crop every detection's tube of ``split`` into ``out_dir`` and return the opened cache.

    ``intermittent`` (default: ``split == "train"``) also stores one intermittent sequence per
    object. ``key``: the detector's parameters (model, confidence threshold, ...), recorded in the
    cache key. ``edge``/``train_edge``: what happens at video ends for test/train objects
    (:mod:`bench.tubes.plan`). An ``out_dir`` whose ``meta.json`` has the same key is returned
    without work; the build runs in ``<out_dir>.partial``, resumes there after the last completed
    video when the key matches (otherwise the partial folder is discarded), and is renamed to
    ``out_dir`` once ``meta.json`` (written last) is in place. Unreadable frames raise the
    dataset's :class:`DatasetError` naming the file. ``workers``: threads that run ``roi_align``
    (default :func:`default_workers`; 1 = no threads); the files do not depend on it or on
    ``batch_frames``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if batch_frames < 1:
        raise ValueError(f"batch_frames must be >= 1, got {batch_frames}")
    out_dir = Path(out_dir)
    intermittent = split == "train" if intermittent is None else bool(intermittent)
    policy = edge_policy(split, edge, train_edge)
    cache_key = tube_cache_key(
        dataset, split, detections, t, intermittent, seed, key, edge, train_edge, max_gap
    )
    meta = read_json(out_dir / "meta.json")
    if meta is not None and meta.get("key") == cache_key:
        return TubeCache.open(out_dir, key=cache_key)

    if out_dir.exists():  # a stale cache is replaced at the end: fail now if it cannot be
        check_removable(out_dir)
    plan = plan_tubes(dataset, split, detections, t, intermittent, seed, policy, max_gap)
    files = ["tubes.npy"] + (["intermittent.npy"] if intermittent else [])
    tube_shape = (2 * t + 1, 3, TUBE_SIZE, TUBE_SIZE)
    partial = partial_dir(out_dir)
    done = _resumable(partial, cache_key, plan, files) if partial.exists() else None
    if done is None:
        _start_partial(partial, plan, files, tube_shape, cache_key)
        done = []
    writers = {name.removesuffix(".npy"): _NpyRows(partial / name) for name in files}
    rows_done = plan.slices[done[-1]][1] if done else 0
    pbar = None
    if progress:
        from bench.progress import progress_bar

        desc = f"tubes {dataset.name} {split}"
        pbar = progress_bar(total=len(plan), initial=rows_done, unit="tube", desc=desc)
    workers = default_workers() if workers is None else int(workers)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="tubes") if workers > 1 else None
    try:
        for video in plan.videos[len(done) :]:
            _crop_video(
                video, plan.slices[video.id], plan.arrays, writers, batch_frames, pbar, pool
            )
            for writer in writers.values():
                writer.sync()
            done.append(video.id)
            rows_done = plan.slices[video.id][1]
            record = {
                "key": cache_key,
                "rows": len(plan),
                "videos_done": done,
                "rows_done": rows_done,
            }
            write_json(partial / "progress.json", record)
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
        "dataset": {"name": dataset.name, "root": str(dataset.root)},  # as given: no absolute path
        "detector": jsonable(key or {}),
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
    write_json(partial / "meta.json", jsonable(meta))  # the completion marker, written last
    remove_cache_dir(out_dir)
    os.replace(partial, out_dir)
    return TubeCache.open(out_dir, key=cache_key)
