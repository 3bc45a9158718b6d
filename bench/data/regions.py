"""Region and track ground truth for RBDC/TBDC: AED track files, and tracks derived from masks.

Where a benchmark ships no track annotations (UCSD Ped1/Ped2, Avenue), tracks are derived from
the official pixel masks, documented here because published RBDC/TBDC numbers depend on it:

1. Regions: in each frame, the 8-connected components of the abnormal pixels; components
   smaller than ``min_area`` pixels (mask noise) are dropped. Each region becomes its bounding
   box ``x_min, y_min, x_max, y_max`` with exclusive maxima.
2. Tracks: a region continues the track of a region of the previous frame when their pixel
   sets overlap (at least one shared pixel); when it overlaps several, it takes the one it
   shares most pixels with. Two regions of one frame that continue the same track (a split)
   keep the track for the larger overlap and start a new track for the other. A region that
   overlaps nothing starts a new track; a track ends at the first frame where nothing
   continues it (no gap bridging).

Ramachandra & Jones (WACV 2020) annotated Ped1/Ped2/Avenue tracks by hand for their own
evaluation; those files are not redistributed here, so numbers computed on derived tracks are
close to, not identical with, numbers computed on theirs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from bench.data.base import TRACK_COLUMNS, DatasetError, MaskSource, empty_tracks

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def read_track_file(path: Path) -> np.ndarray:
    """Read an AED track file (rows ``track_id,frame_idx,x_min,y_min,x_max,y_max``)."""
    try:
        rows = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: unreadable track file ({error})") from error
    if rows.size == 0:
        return empty_tracks()
    if rows.shape[1] != len(TRACK_COLUMNS):
        raise DatasetError(
            f"{path}: expected {len(TRACK_COLUMNS)} columns {TRACK_COLUMNS}, found {rows.shape[1]}"
        )
    return rows


def write_track_file(path: Path, tracks: np.ndarray) -> None:
    """Write tracks in the AED format (integers, comma separated, no header)."""
    np.savetxt(path, tracks, delimiter=",", fmt="%d")


def frame_regions(mask: np.ndarray, min_area: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of one mask: ``(label image, boxes (n, 4))`` with exclusive maxima."""
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    if count == 0:
        return labels, np.zeros((0, 4), dtype=np.int64)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    keep = np.flatnonzero(areas >= min_area) + 1
    remap = np.zeros(count + 1, dtype=labels.dtype)
    remap[keep] = np.arange(1, len(keep) + 1)
    labels = remap[labels]
    slices = ndimage.find_objects(labels)
    boxes = np.array(
        [[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices], dtype=np.int64
    )
    return labels, boxes.reshape(-1, 4)


def link_regions(
    prev_labels: np.ndarray, labels: np.ndarray, prev_tracks: np.ndarray, next_id: int
) -> tuple[np.ndarray, int]:
    """Track ids of this frame's regions given the previous frame's (see module docstring)."""
    count = int(labels.max())
    track_ids = np.full(count, -1, dtype=np.int64)
    if count and len(prev_tracks):
        both = (labels > 0) & (prev_labels > 0)
        pairs = np.stack([labels[both], prev_labels[both]], axis=1)
        if len(pairs):
            keys, overlap = np.unique(pairs, axis=0, return_counts=True)
            for index in np.argsort(-overlap, kind="stable"):
                region, prev_region = keys[index]
                track = prev_tracks[prev_region - 1]
                if track_ids[region - 1] == -1 and track not in track_ids:
                    track_ids[region - 1] = track
    for region in np.flatnonzero(track_ids == -1):
        track_ids[region] = next_id
        next_id += 1
    return track_ids, next_id


def tracks_from_masks(masks: MaskSource, min_area: int = 1, batch: int = 64) -> np.ndarray:
    """Derive ground-truth tracks ``(K, 6)`` from a video's pixel masks (module docstring)."""
    rows: list[np.ndarray] = []
    prev_labels: np.ndarray | None = None
    prev_tracks = np.zeros(0, dtype=np.int64)
    next_id = 0
    for start in range(0, masks.num_frames, batch):
        for offset, mask in enumerate(masks.read(start, start + batch)):
            labels, boxes = frame_regions(mask, min_area)
            if prev_labels is None:
                prev_labels = np.zeros_like(labels)
            track_ids, next_id = link_regions(prev_labels, labels, prev_tracks, next_id)
            if len(boxes):
                frame = np.full((len(boxes), 1), start + offset)
                rows.append(np.hstack([track_ids[:, None], frame, boxes]).astype(np.float64))
            prev_labels, prev_tracks = labels, track_ids
    return np.vstack(rows) if rows else empty_tracks()
