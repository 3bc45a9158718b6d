"""Inputs that do not belong together, and inputs the user got wrong, get named errors
(docs/reliability.md): the other split's or dataset's detections or tube cache, a fused pair that
differs in its videos, teachers of other detections, a malformed ablation file, a full disk before
a tube cache is allocated."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bench.cli import main
from bench.data import DatasetError, open_dataset
from bench.errors import DiskSpaceError, InputError, ParameterError, ProvenanceError
from bench.io import save_npz


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> SimpleNamespace:
    """The tiny synthetic dataset, its train-split detections (oracle boxes) and t=1 cache."""
    from bench.pipeline import make_detector, run_detect, run_tubes

    tmp = tmp_path_factory.mktemp("provenance")
    root = tmp / "synthetic"
    assert main(["data", "synth", "--out", str(root), "--preset", "tiny", "--seed", "3"]) == 0
    dataset = open_dataset("synthetic", root)
    boxes = str(root / "detections/boxes_train.npz")
    detector = make_detector("precomputed", "", 0.0, 640, boxes, "cpu")
    run_detect(dataset, "train", detector, tmp / "det_train.npz", frame_stride=4)
    cache = run_tubes(dataset, "train", tmp / "det_train.npz", tmp / "tubes_train", 1, 0)
    return SimpleNamespace(root=root, dataset=dataset, tmp=tmp, cache=cache)


# --- the split's and the dataset's provenance ----------------------------------------------------


@pytest.mark.slow  # builds a tiny tube cache
def test_tubes_refuse_the_other_splits_detections(tiny, tmp_path):
    from bench.pipeline import run_tubes

    with pytest.raises(ProvenanceError, match="det_train.npz: detections of the train split"):
        run_tubes(tiny.dataset, "test", tiny.tmp / "det_train.npz", tmp_path / "tubes", 1, 0)
    assert not (tmp_path / "tubes").exists()  # refused before any work


@pytest.mark.slow  # builds a tiny tube cache
def test_tubes_refuse_another_datasets_detections(tiny, tmp_path):
    from bench.pipeline import run_tubes

    other = SimpleNamespace(name="ped2")
    with pytest.raises(ProvenanceError, match="dataset 'synthetic', not 'ped2'"):
        run_tubes(other, "train", tiny.tmp / "det_train.npz", tmp_path / "tubes", 1, 0)


@pytest.mark.slow  # builds a tiny tube cache
def test_score_refuses_a_training_tube_cache_before_loading_the_model(tiny, tmp_path):
    from bench.pipeline import run_score
    from bench.score import MapConfig

    outs = [tmp_path / f"{name}.npz" for name in ("scores", "regions", "objects")]
    with pytest.raises(ProvenanceError, match="tube cache of the train split") as error:
        run_score(tiny.dataset, tmp_path / "absent.pt", tiny.cache.root, None, MapConfig(), *outs)
    assert "--split test" in str(error.value)
    assert not any(out.exists() for out in outs)


@pytest.mark.slow  # builds a tiny tube cache
def test_score_refuses_another_datasets_cache(tiny, tmp_path):
    from bench.pipeline import run_score
    from bench.score import MapConfig

    outs = [tmp_path / f"{name}.npz" for name in ("scores", "regions", "objects")]
    with pytest.raises(ProvenanceError, match="dataset 'synthetic', not 'ped2'"):
        run_score(SimpleNamespace(name="ped2"), tmp_path / "m.pt", tiny.cache.root, None,
                  MapConfig(), *outs)  # fmt: skip


@pytest.mark.slow  # builds a tiny tube cache
def test_train_refuses_another_datasets_cache(tiny, tmp_path):
    from bench.pipeline import run_train
    from bench.train import TrainConfig

    config = TrainConfig(tasks=("middle",), epochs=1, device="cpu")
    with pytest.raises(ProvenanceError, match="tube cache of dataset 'synthetic'"):
        run_train(tiny.cache.root, None, config, tmp_path / "m.pt", tmp_path / "m.json", "ped2")
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.slow  # builds a tiny tube cache and trains one epoch
def test_train_metrics_record_what_precision_auto_resolved_to(tiny, tmp_path, monkeypatch):
    """``auto`` is bf16 only where the device computes it natively; on a CPU without AVX-512
    BF16 (emulated bf16, ~20x slower) it trains in fp32, and the metrics say which it was."""
    import json

    import bench.train as train_module
    from bench.pipeline import run_train
    from bench.train import TrainConfig

    monkeypatch.setattr(train_module, "native_bf16", lambda device: False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    config = TrainConfig(tasks=("middle",), epochs=1, batch_size=8, device="cpu")
    run_train(tiny.cache.root, None, config, tmp_path / "m.pt", tmp_path / "m.json", "synthetic")
    recorded = json.loads((tmp_path / "m.json").read_text())["config"]
    assert recorded["precision"] == "auto" and recorded["autocast"] == "fp32"


@pytest.mark.slow  # builds a tiny tube cache
def test_teachers_of_other_detections_are_refused(tiny, tmp_path):
    from bench.pipeline import load_subsampled

    teachers = tmp_path / "teachers.npy"
    np.save(teachers, np.zeros((3, 8), np.float32))
    with pytest.raises(ProvenanceError, match="teachers.npy: teachers of shape"):
        load_subsampled(tiny.tmp / "det_train.npz", teachers, 1)
    teachers.write_bytes(teachers.read_bytes()[:70])  # truncated
    with pytest.raises(InputError, match="teachers.npy: unreadable teachers file"):
        load_subsampled(tiny.tmp / "det_train.npz", teachers, 1)


# --- fusion ---------------------------------------------------------------------------------------


def test_fusion_refuses_a_pair_that_differs_in_its_videos(tmp_path, capsys):
    from bench.score import late_fusion

    one, two = {"01": np.arange(5.0), "02": np.arange(4.0)}, {"01": np.arange(5.0)}
    with pytest.raises(ProvenanceError, match="only in object-level scores: 02"):
        late_fusion(one, two)
    with pytest.raises(ProvenanceError, match="01: 5 vs 4 frames"):
        late_fusion({"01": np.arange(5.0)}, {"01": np.arange(4.0)})
    a, b = save_npz(tmp_path / "a.npz", one), save_npz(tmp_path / "b.npz", two)
    out = tmp_path / "fused.npz"
    code = main(["fuse", "--object-scores", str(a), "--frame-scores", str(b), "--out", str(out)])
    assert code == 2 and "only in" in capsys.readouterr().err and not out.exists()


# --- malformed inputs ---------------------------------------------------------------------------


def test_truncated_npz_of_load_npz_is_a_named_error(tmp_path):
    from bench.metrics.evaluate import load_npz

    path = save_npz(tmp_path / "s.npz", {"01": np.arange(100.0)})
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DatasetError, match="s.npz: unreadable .npz file.*truncated"):
        load_npz(path)


@pytest.mark.parametrize(
    "text",
    ["- just a list\n", "rows: [1, 2]\n", "rows:\n  r1: {arch: shallow_narrow}\n", "rows: {\n"],
)
def test_malformed_ablation_file_is_a_named_error(tmp_path, text):
    from bench.suite.ablation import load_rows

    path = tmp_path / "ablation.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match="ablation.yaml"):
        load_rows(path)


def test_ablation_output_without_a_placeholder_is_a_named_error():
    from bench.suite.ablation import output_path

    with pytest.raises(InputError, match=r"out.json: 3 rows need one file each; put \{row\}"):
        output_path(Path("out.json"), "r1", 0, rows=3, seeds=1)


def test_bad_training_and_scoring_parameters_are_parameter_errors():
    from bench.score import MapConfig
    from bench.score.objects import score_tasks
    from bench.train import TrainConfig

    for bad in ({"epochs": 0}, {"tasks": ("nosuch",)}, {"arch": "nosuch"}, {"precision": "x"}):
        with pytest.raises(ParameterError):
            TrainConfig(**bad)
    with pytest.raises(ParameterError):
        MapConfig().at_stride(0)
    with pytest.raises(ParameterError, match="imagenet_term"):
        score_tasks(("middle",), None, imagenet_term="nosuch")


# --- disk space -----------------------------------------------------------------------------------


@pytest.mark.slow  # builds a tiny tube cache
def test_a_tube_cache_that_does_not_fit_is_refused_before_allocation(tiny, tmp_path, monkeypatch):
    from bench.pipeline import run_tubes

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**6, 10**6 - 1000, 1000))
    with pytest.raises(DiskSpaceError, match=r"tube cache needs \d+ bytes") as error:
        run_tubes(tiny.dataset, "train", tiny.tmp / "det_train.npz", tmp_path / "tubes", 2, 0)
    assert "only 1000 bytes" in str(error.value)
    assert not (tmp_path / "tubes").exists()
