"""The on-disk tube cache: one folder per dataset split (paper sections 3.1, 4.2).

A finished cache folder holds

* ``tubes.npy``: the regular sequences (section 3.1), channels-first
  ``(N, 2t+1, 3, 64, 64)`` ``uint8`` in frame order (forward); the reversed and middle-context
  views of section 3.3 are derived at training time (:mod:`bench.tasks`);
* ``intermittent.npy`` (training caches): one intermittent sequence per object (section 3.3,
  task 2), the same shape;
* ``index.npz``: per tube ``video``, ``frame`` (centre frame ``i``), ``box``,
  ``detection_row`` (row in the detections table), ``window_frames`` (frames read, after
  clamping) and, for training caches, ``intermittent_offsets`` and ``intermittent_frames``;
* ``meta.json``: the key of the inputs, the counts, the choices made; written last, so its
  presence marks the cache finished.

Tubes are ordered by the dataset's video order, then centre frame, then detection row. A build in
progress lives in ``<folder>.partial`` with a ``progress.json`` (:mod:`bench.tubes.build`).

Train/validation split (:meth:`TubeCache.train_val_split`, section 4.2): by the tube's centre
frame, frames ``0 .. floor(0.85 * num_frames) - 1`` of each training video are train, the rest
validation (a tube centred just before the cut may read a few validation frames).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.io import write_text
from bench.paper import TRAIN_FRACTION

FORMAT_VERSION = 1
CACHE_FILES = ("tubes.npy", "intermittent.npy", "index.npz", "meta.json", "progress.json")
# what bench.io.atomic_path names the temporary file of each (``meta.tmp.json``, ...)
_TMP_FILES = tuple(f"{Path(name).stem}.tmp{Path(name).suffix}" for name in CACHE_FILES)


class TubeCacheError(BenchError):
    """A tube cache folder is missing, unfinished, from other inputs, or of another format."""

    default_fix = "build it again with ssmtl tubes"


def jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, keys strings), for key
    comparison."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def write_json(path: Path, data: dict) -> None:
    """``data`` as sorted, one-space-indented JSON, atomically and flushed to disk (a resumed
    build trusts ``progress.json``, and ``meta.json`` marks a finished cache)."""
    write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n", fsync=True)


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or ``None`` if it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def partial_dir(out_dir: Path) -> Path:
    """The folder a build of ``out_dir`` runs in until it is finished."""
    return out_dir.parent / (out_dir.name + ".partial")


def check_removable(path: Path) -> None:
    """Raise unless ``path`` is a folder holding only files a tube cache writes."""
    if not path.is_dir():
        raise TubeCacheError(
            f"{path}: exists and is not a folder; refusing to replace it with a tube cache"
        )
    # ``*.tmp``: the temporary names of builds written before bench.io did the atomic writes
    foreign = [
        p.name
        for p in path.iterdir()
        if p.name not in CACHE_FILES + _TMP_FILES and not p.name.endswith(".tmp")
    ]
    if foreign:
        raise TubeCacheError(
            f"{path}: holds files that are not a tube cache's "
            f"({', '.join(sorted(foreign)[:5])}); refusing to delete it"
        )


def remove_cache_dir(path: Path) -> None:
    """Delete a stale cache or partial folder, refusing if it holds anything a cache never
    writes."""
    if path.exists():
        check_removable(path)
        shutil.rmtree(path)


class TubeCache:
    """A finished tube cache folder, memory-mapped read-only.

    ``tubes``: ``(N, 2t+1, 3, 64, 64)`` ``uint8`` regular sequences (forward order);
    ``intermittent``: the same shape for training caches (``None`` otherwise); per tube ``video``,
    ``frame`` (centre frame ``i``), ``box`` (the detection's box), ``detection_row`` (row in the
    detections table), ``window_frames`` (frames actually read, after clamping),
    ``intermittent_offsets`` and ``intermittent_frames`` (training caches).
    """

    def __init__(
        self,
        root: Path,
        meta: dict,
        tubes: np.ndarray,
        intermittent: np.ndarray | None,
        index: dict[str, np.ndarray],
    ):
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
    def open(cls, out_dir: str | Path, key: dict | None = None) -> TubeCache:
        """Open a finished cache; :class:`TubeCacheError` names the folder when it is missing,
        unfinished (no ``meta.json``), of another format version, or built for another ``key``."""
        root = Path(out_dir)
        meta_path = root / "meta.json"
        if not meta_path.is_file():
            partial = partial_dir(root)
            hint = f" (an unfinished build is in {partial})" if partial.exists() else ""
            raise TubeCacheError(
                f"{root}: not a finished tube cache, meta.json is missing{hint}; "
                "rebuild it with build_tube_cache"
            )
        meta = read_json(meta_path)
        if meta is None:
            raise TubeCacheError(
                f"{root}: meta.json is unreadable; delete the folder and rebuild it"
            )
        if meta.get("format") != FORMAT_VERSION:
            raise TubeCacheError(
                f"{root}: tube cache format {meta.get('format')!r}, "
                f"this code reads format {FORMAT_VERSION}; rebuild it"
            )
        if key is not None and meta.get("key") != jsonable(key):
            raise TubeCacheError(
                f"{root}: tube cache was built for other inputs (key mismatch); rebuild it"
            )
        try:
            tubes = np.load(root / "tubes.npy", mmap_mode="r")
            intermittent = None
            if meta.get("intermittent"):
                intermittent = np.load(root / "intermittent.npy", mmap_mode="r")
            with np.load(root / "index.npz", allow_pickle=False) as archive:
                index = {name: archive[name] for name in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise TubeCacheError(
                f"{root}: tube cache file unreadable ({error}); delete the folder and rebuild it"
            ) from error
        n = meta["counts"]["tubes"]
        shape = (n, *meta["tube_shape"])
        if (
            tubes.shape != shape
            or (intermittent is not None and intermittent.shape != shape)
            or len(index["frame"]) != n
        ):
            raise TubeCacheError(
                f"{root}: array shapes disagree with meta.json (expected {shape}); "
                "delete the folder and rebuild it"
            )
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

    @property
    def frame_stride(self) -> int:
        """The frame stride of the detections the cache was cut from (1: every frame)."""
        detections = self.meta.get("key", {}).get("detector", {}).get("detections", {})
        return int(detections.get("frame_stride", 1))

    def train_val_split(self, fraction: float = TRAIN_FRACTION) -> tuple[np.ndarray, np.ndarray]:
        """``(train, validation)`` tube indices: tubes centred in the first ``fraction`` of each
        training video's frames (frames ``0 .. floor(fraction * n) - 1``) are train, the rest
        validation (paper 4.2)."""
        if self.split != "train":
            raise ValueError(
                f"{self.root}: train/validation split needs a training cache, "
                f"this one is {self.split}"
            )
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        counts = self.num_frames
        uniques, inverse = np.unique(self.video, return_inverse=True)
        cut = np.array(
            [int(np.floor(fraction * counts[str(v)] + 1e-9)) for v in uniques], dtype=np.int64
        )
        if len(self):
            is_train = self.frame < cut[inverse.reshape(-1)]
        else:
            is_train = np.zeros(0, bool)
        return np.flatnonzero(is_train), np.flatnonzero(~is_train)
