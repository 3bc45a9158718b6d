"""Atomic file writes: an interrupted write never leaves half a file where a finished one is
expected.

Reading: :func:`read_arrays` opens an ``.npy``/``.npz`` input with a named error
(:class:`~bench.errors.InputError`: the file, what is wrong, what to do) for a missing, truncated
or pickled file, instead of a ``BadZipFile`` or ``ValueError`` traceback. :func:`check_free_space`
refuses a large output before writing it when the disk cannot hold it.

Everything is written to a temporary sibling (``name.tmp.ext``, the extension kept so that
``np.save`` and ``savefig`` add nothing) and renamed over the target only when writing succeeded.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import numpy as np

from bench.errors import DiskSpaceError, InputError


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


def read_arrays(path: Path, what: str = "array file") -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (by member name) or an ``.npy`` (under ``""``), loaded without
    pickles; :class:`~bench.errors.InputError` naming ``path`` when it is missing, truncated, not
    an array file or holds pickled objects."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} does not exist", file=path, fix="check the path")
    try:
        loaded = np.load(path, mmap_mode="r", allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return {"": loaded}
        with loaded as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise InputError(
            f"unreadable {what}: not a complete .npy/.npz of plain arrays "
            f"({type(error).__name__}: {error})",
            file=path,
            fix="it may be truncated by an interrupted copy or run; write it again",
        ) from error


def check_free_space(folder: Path, needed: int, what: str = "output") -> None:
    """:class:`~bench.errors.DiskSpaceError` unless the file system of ``folder`` (or its
    nearest existing parent) has ``needed`` bytes free, with a 5% margin."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < needed * 1.05:
        raise DiskSpaceError(
            f"the {what} needs {needed} bytes ({needed / 2**30:.2f} GiB, plus a 5% margin) "
            f"but only {free} bytes ({free / 2**30:.2f} GiB) are free there",
            file=folder,
            fix=f"free {(needed * 1.05 - free) / 2**30:.2f} GiB or write it elsewhere",
        )
