"""Atomic file writes: an interrupted write never leaves half a file where a finished one is
expected.

Everything is written to a temporary sibling (``name.tmp.ext``, the extension kept so that
``np.save`` and ``savefig`` add nothing) and renamed over the target only when writing succeeded.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import numpy as np


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; renamed over ``path`` when the block ends
    without an error, removed otherwise. Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str, fsync: bool = False) -> Path:
    """``fsync``: flush the file to disk before the rename, for a marker a resumed run trusts
    after a crash (the tube cache's ``progress.json`` and ``meta.json``)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        if fsync:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
    return Path(path)


def write_json(path: Path, data: dict) -> Path:
    return write_text(path, json.dumps(data, indent=2) + "\n")


def save_npy(path: Path, array: np.ndarray) -> Path:
    with atomic_path(path) as tmp:
        np.save(tmp, array)
    return Path(path)


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """An uncompressed ``.npz`` whose bytes depend only on ``arrays``: members sorted by name, zip
    timestamps fixed (``np.savez`` stamps the current time), no pickles."""
    with (
        atomic_path(path) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive,
    ):
        for name in sorted(arrays):
            buffer = BytesIO()
            array = np.ascontiguousarray(arrays[name])
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(member, buffer.getvalue())
    return Path(path)
