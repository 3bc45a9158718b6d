"""Weights load safely: a crafted pickle given as YOLO weights is refused before any of its code
runs, unless the user passes ``--trust-weights`` (docs/reliability.md)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from conftest import shared_path

from bench.cli import main
from bench.detection.yolo import YoloRunner
from bench.errors import InputError, UnsafeWeightsError
from bench.weights import load_ultralytics, refused_globals, trusting_weights


class Payload:
    """Unpickling this writes ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def crafted_zip(tmp_path: Path) -> tuple[Path, Path]:
    marker, path = tmp_path / "marker", tmp_path / "evil.pt"
    torch.save({"model": Payload(marker), "train_args": {}}, path)
    return path, marker


def crafted_pickle(tmp_path: Path) -> tuple[Path, Path]:
    marker, path = tmp_path / "marker", tmp_path / "bare.pt"
    path.write_bytes(pickle.dumps({"model": Payload(marker)}, protocol=2))
    return path, marker


@pytest.mark.parametrize("craft", [crafted_zip, crafted_pickle])
def test_crafted_pickle_is_refused_and_never_runs(tmp_path, craft):
    path, marker = craft(tmp_path)
    with pytest.raises(UnsafeWeightsError, match="--trust-weights") as error:
        YoloRunner(path)
    assert str(path) in str(error.value)
    assert not marker.exists()


def test_refusal_names_the_global(tmp_path):
    path, marker = crafted_zip(tmp_path)
    assert "builtins.exec" in refused_globals(path)
    with pytest.raises(UnsafeWeightsError, match="builtins.exec"):
        load_ultralytics(path)
    assert not marker.exists()


def test_cli_detect_refuses_crafted_weights_with_exit_2(tmp_path, capsys):
    path, marker = crafted_zip(tmp_path)
    root = tmp_path / "nowhere"
    args = ["detect", "ped2", "--root", str(root), "--split", "test", "--weights", str(path)]
    assert main([*args, "--out", str(tmp_path / "d.npz")]) == 2
    err = capsys.readouterr().err
    assert "evil.pt" in err and "--trust-weights" in err
    assert not marker.exists() and not (tmp_path / "d.npz").exists()


def test_trust_weights_loads_the_unsafe_way_with_a_warning(tmp_path, capsys):
    """The flag is what stands between the file and its code: with it, the payload runs."""
    path, marker = crafted_zip(tmp_path)
    with trusting_weights(), pytest.raises(Exception):  # noqa: B017 - not a real model
        load_ultralytics(path)
    assert marker.read_text() == "pwned"
    assert "weights_only=False" in capsys.readouterr().err


def test_a_broken_file_is_a_named_input_error_not_unsafe(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match="broken.pt") as error:
        load_ultralytics(path)
    assert not isinstance(error.value, UnsafeWeightsError)


@pytest.mark.shared
def test_real_checkpoint_loads_safely():
    weights = shared_path("models", "yolo11n_coco.pt")
    assert refused_globals(weights) == []
    runner = YoloRunner(weights)
    assert runner.num_classes == 80
