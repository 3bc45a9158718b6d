"""Object-centric temporal sequences ("tubes") and their on-disk cache (SSMTL paper, 3.1, 3.3).

For each detected object in frame ``i`` the paper crops the *same* bounding box from the frames
``i-t .. i+t`` (no tracking, sections 3.1 and 6.3) and resizes every crop to 64x64; task 2 of
section 3.3 adds an intermittent sequence with random gaps. One job per module:

* :mod:`~bench.tubes.windows`: which frames a sequence reads (regular, intermittent, clamped);
* :mod:`~bench.tubes.crop`: cutting the crops with ``roi_align``;
* :mod:`~bench.tubes.plan`: ordering a split's detections into tubes, the cache key;
* :mod:`~bench.tubes.build`: the streaming, atomic, resumable build of a cache folder;
* :mod:`~bench.tubes.cache`: the folder's format and :class:`TubeCache`, which reads it.

How the proxy tasks turn a tube into their inputs (reversed sequence, middle context, ...) is
:mod:`bench.tasks`; the paper's sizes (``T``, ``TUBE_SIZE``, ``MAX_GAP``) are :mod:`bench.paper`.
"""

from __future__ import annotations

from bench.tubes.build import MAX_OBJECTS_PER_CALL, build_tube_cache, default_workers
from bench.tubes.cache import CACHE_FILES, FORMAT_VERSION, TubeCache, TubeCacheError
from bench.tubes.crop import SAMPLING_RATIO, clip_boxes, crop_tubes, frames_to_tensor, to_uint8
from bench.tubes.plan import (
    EDGE_POLICIES,
    DetectionsLike,
    detections_fingerprint,
    tube_cache_key,
)
from bench.tubes.windows import clamp_frames, intermittent_offsets, window_offsets

__all__ = [
    "CACHE_FILES",
    "EDGE_POLICIES",
    "FORMAT_VERSION",
    "MAX_OBJECTS_PER_CALL",
    "SAMPLING_RATIO",
    "DetectionsLike",
    "TubeCache",
    "TubeCacheError",
    "build_tube_cache",
    "clamp_frames",
    "clip_boxes",
    "crop_tubes",
    "default_workers",
    "detections_fingerprint",
    "frames_to_tensor",
    "intermittent_offsets",
    "to_uint8",
    "tube_cache_key",
    "window_offsets",
]
