"""Atomic writes (bench.io): a failed write leaves the old file and no temporary behind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.io import atomic_path, save_npy, write_json


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "metrics" / "result.json"
    write_json(path, {"auc": 0.9})
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text('{"auc": 0.')  # half a file, then a crash
        raise RuntimeError("killed")
    assert json.loads(path.read_text()) == {"auc": 0.9}
    assert sorted(p.name for p in path.parent.iterdir()) == ["result.json"]


def test_save_npy_writes_exactly_the_target(tmp_path):
    path = tmp_path / "teachers.npy"
    save_npy(path, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert np.array_equal(np.load(path), [[0, 1, 2], [3, 4, 5]])
    assert [p.name for p in tmp_path.iterdir()] == [
        "teachers.npy"
    ]  # np.save added no second suffix
