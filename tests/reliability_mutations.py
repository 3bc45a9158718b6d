"""The bad inputs of the reliability matrix (tests/reliability_matrix.py): mutations that turn
a valid file or folder ``valid`` into a bad one at ``bad``, generic (missing, empty, truncated,
garbage, pickled...) and per kind of file (scores, detections, boxes, teachers, tube caches)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

# --- generic file mutations ---------------------------------------------------------------------


def _missing(valid: Path, bad: Path) -> None:
    pass


def _empty(valid: Path, bad: Path) -> None:
    bad.write_bytes(b"")


def _truncated(valid: Path, bad: Path) -> None:
    data = valid.read_bytes()
    bad.write_bytes(data[: len(data) // 2])


def _garbage(valid: Path, bad: Path) -> None:
    bad.write_bytes(bytes(range(256)) * 4)


def _directory(valid: Path, bad: Path) -> None:
    bad.mkdir()


def _text(valid: Path, bad: Path) -> None:
    bad.write_text("not an array file\n")


def _pickled(valid: Path, bad: Path) -> None:
    with bad.open("wb") as handle:  # np.save of an object array: loading it would unpickle
        np.save(handle, np.array([{"a": 1}], dtype=object), allow_pickle=True)


FILE_MUTATIONS: dict[str, Callable[[Path, Path], None]] = {
    "missing": _missing,
    "empty (0 bytes)": _empty,
    "truncated (half the bytes)": _truncated,
    "garbage bytes": _garbage,
    "a directory": _directory,
    "a text file": _text,
    "pickled object array": _pickled,
}


def _npz_edit(edit: Callable[[dict[str, np.ndarray]], None]) -> Callable[[Path, Path], None]:
    """A mutation that loads the valid .npz, edits its arrays and writes them to ``bad``."""

    def mutate(valid: Path, bad: Path) -> None:
        with np.load(valid) as archive:
            arrays = {name: np.array(archive[name]) for name in archive.files}
        edit(arrays)
        with bad.open("wb") as handle:
            np.savez(handle, **arrays)

    return mutate


def _npy_edit(edit: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path, Path], None]:
    def mutate(valid: Path, bad: Path) -> None:
        with bad.open("wb") as handle:
            np.save(handle, edit(np.load(valid)))

    return mutate


def _set(name: str, value: Callable[[np.ndarray], np.ndarray]) -> Callable[[dict], None]:
    def edit(arrays: dict[str, np.ndarray]) -> None:
        arrays[name] = value(arrays[name])

    return edit


def _first_video(edit: Callable[[np.ndarray], np.ndarray]) -> Callable[[dict], None]:
    def apply(arrays: dict[str, np.ndarray]) -> None:
        first = sorted(arrays)[0]
        arrays[first] = edit(arrays[first])

    return apply


def _poison(value: float) -> Callable[[np.ndarray], np.ndarray]:
    def edit(array: np.ndarray) -> np.ndarray:
        out = array.astype(np.float32).copy()
        out.flat[len(out.flat) // 2] = value
        return out

    return edit


def _drop_first(arrays: dict[str, np.ndarray]) -> None:
    del arrays[sorted(arrays)[0]]


def _extra_video(arrays: dict[str, np.ndarray]) -> None:
    arrays["99"] = np.zeros(40, np.float32)


SCORES_EDITS: dict[str, Callable[[Path, Path], None]] = {
    "NaN in a video's scores": _npz_edit(_first_video(_poison(np.nan))),
    "infinity in a video's scores": _npz_edit(_first_video(_poison(np.inf))),
    "a video missing": _npz_edit(_drop_first),
    "a video the dataset does not have": _npz_edit(_extra_video),
    "one frame short": _npz_edit(_first_video(lambda a: a[:-1])),
    "one frame too many": _npz_edit(_first_video(lambda a: np.append(a, a[-1]))),
    "2-D scores": _npz_edit(_first_video(lambda a: a[:, None])),
    "text instead of numbers": _npz_edit(_first_video(lambda a: a.astype(str))),
    "no videos at all": _npz_edit(lambda arrays: arrays.clear()),
}

DETECTIONS_EDITS: dict[str, Callable[[Path, Path], None]] = {
    "NaN box coordinate": _npz_edit(_set("boxes", _poison(np.nan))),
    "infinite box coordinate": _npz_edit(_set("boxes", _poison(np.inf))),
    "boxes of 3 columns": _npz_edit(_set("boxes", lambda a: a[:, :3])),
    "member `boxes` missing": _npz_edit(lambda arrays: arrays.pop("boxes")),
    # (no `meta`: a file of an older version, accepted without provenance; docs/reliability.md)
    "a frame index past the video's end": _npz_edit(_set("frame", lambda a: a + 10_000)),
    "a negative frame index": _npz_edit(_set("frame", lambda a: a - 10_000)),
    "a video the dataset does not have": _npz_edit(_set("video", lambda a: np.full_like(a, "99"))),
    "columns of different lengths": _npz_edit(_set("confidence", lambda a: a[:-1])),
}

BOXES_EDITS: dict[str, Callable[[Path, Path], None]] = {
    "NaN box coordinate": _npz_edit(_first_video(_poison(np.nan))),
    "infinite box coordinate": _npz_edit(_first_video(_poison(np.inf))),
    "rows of 3 columns": _npz_edit(_first_video(lambda a: a[:, :3])),
    "1-D array": _npz_edit(_first_video(lambda a: a.ravel())),
    "a video the dataset does not have": _npz_edit(_extra_video),
}

TEACHERS_EDITS: dict[str, Callable[[Path, Path], None]] = {
    "one row short (other detections)": _npy_edit(lambda a: a[:-1]),
    "1-D": _npy_edit(lambda a: a[:, 0]),
    "NaN in a row": _npy_edit(_poison(np.nan)),
    "infinity in a row": _npy_edit(_poison(np.inf)),
    "text instead of numbers": _npy_edit(lambda a: a.astype(str)),
}

TUBE_CACHE_EDITS: dict[str, Callable[[Path, Path], None]] = {}


def _cache_edit(edit: Callable[[Path], None]) -> Callable[[Path, Path], None]:
    """A copy of the valid cache folder at ``bad``, then ``edit(bad)``."""

    def mutate(valid: Path, bad: Path) -> None:
        shutil.copytree(valid, bad)
        edit(bad)

    return mutate


def _meta(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        meta = json.loads((folder / "meta.json").read_text())
        edit(meta)
        (folder / "meta.json").write_text(json.dumps(meta))

    return apply


def _halve(name: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])

    return apply


TUBE_CACHE_EDITS = {
    "missing folder": lambda valid, bad: None,
    "an empty folder": lambda valid, bad: bad.mkdir(),
    "a file, not a folder": _text,
    "meta.json missing": _cache_edit(lambda f: (f / "meta.json").unlink()),
    "meta.json empty": _cache_edit(lambda f: (f / "meta.json").write_text("")),
    "meta.json not JSON": _cache_edit(lambda f: (f / "meta.json").write_text("{nope")),
    "meta.json truncated": _cache_edit(_halve("meta.json")),
    "tubes.npy missing": _cache_edit(lambda f: (f / "tubes.npy").unlink()),
    "tubes.npy truncated": _cache_edit(_halve("tubes.npy")),
    "index.npz missing": _cache_edit(lambda f: (f / "index.npz").unlink()),
    "index.npz truncated": _cache_edit(_halve("index.npz")),
    "another dataset's cache": _cache_edit(_meta(lambda m: m.update(dataset="ped2"))),
}
