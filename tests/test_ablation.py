"""Table 4 machinery (bench.suite.ablation), the dataset views it evaluates with, and the CI gate's
rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from bench.data import open_dataset
from bench.data.subsample import EveryNthFrame, VideoSubset, subsample_tracks
from bench.data.synth import generate
from bench.metrics.evaluate import evaluate
from bench.paper import TASK_IDS as PAPER_TASKS
from bench.score import MapConfig
from bench.suite.ablation import RowProfile, load_rows, output_path, prepare_inputs, run_row
from bench.suite.gate import compare, tolerance, write_reference

REPO = Path(__file__).resolve().parents[1]


# --- the 17 rows of Table 4 -----------------------------------------------------------------------


def test_rows_are_the_paper_table_4():
    rows = load_rows(REPO / "experiments" / "ablation.yaml")
    assert len(rows) == 17
    single = [r for r in rows.values() if len(r.tasks) == 1]
    assert sorted(r.tasks[0] for r in single) == ["T1", "T2", "T3", "T4"] and {
        r.arch for r in single
    } == {"shallow_narrow"}
    for arch in ("shallow_narrow", "deep_narrow", "shallow_wide", "deep_wide"):
        combos = sorted(
            "+".join(r.tasks)
            for r in rows.values()
            if r.arch == arch and len(r.tasks) > 1 and r.level == "object"
        )
        assert combos == ["T1+T2+T3", "T1+T2+T3+T4", "T1+T3"], arch
    frame = [r for r in rows.values() if r.level == "frame"]
    assert [(r.arch, r.tasks) for r in frame] == [("deep_wide", ("T1", "T2", "T3", "T4"))]
    assert rows["sn_T1T3"].task_names == ("arrow", "middle")


def test_params_groups_hold_every_row_once():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    grouped = [row for rows in params["ablation"]["groups"].values() for row in rows.split(",")]
    assert sorted(grouped) == sorted(load_rows(REPO / "experiments" / "ablation.yaml"))


def test_output_path_per_row_and_seed():
    template = Path("m/{row}-s{seed}.json")
    assert output_path(template, "sn_T1", 2, rows=3, seeds=2) == Path("m/sn_T1-s2.json")
    assert output_path(Path("m/x.json"), "sn_T1", 0, rows=1, seeds=1) == Path(
        "m/x.json"
    )  # one run: the path as given
    with pytest.raises(
        ValueError, match=r"m/x-s\{seed\}.json: 2 rows need one file each; put \{row\} in the path"
    ):
        output_path(Path("m/x-s{seed}.json"), "sn_T1", 0, rows=2, seeds=1)
    with pytest.raises(ValueError, match=r"3 seeds need one file each; put \{seed\}"):
        output_path(Path("m/{row}.json"), "sn_T1", 0, rows=1, seeds=3)


def test_bad_row_names_file_and_row(tmp_path):
    path = tmp_path / "rows.yaml"
    path.write_text("rows:\n  x: {arch: shallow_narrow, tasks: [T5], level: object}\n")
    with pytest.raises(ValueError, match=r"rows.yaml: row x: unknown task 'T5'"):
        load_rows(path)


# --- dataset views --------------------------------------------------------------------------------


def test_subsample_tracks_keeps_every_nth_frame_renumbered():
    tracks = np.array(
        [
            [0, 0, 1, 1, 5, 5],
            [0, 1, 1, 1, 5, 5],
            [0, 2, 2, 2, 6, 6],
            [1, 5, 0, 0, 3, 3],
            [1, 6, 0, 0, 3, 3],
        ],
        float,
    )
    kept = subsample_tracks(tracks, 2)
    assert kept[:, :2].tolist() == [[0, 0], [0, 1], [1, 3]]  # frames 0, 2, 6 -> 0, 1, 3
    assert kept[:, 2:].tolist() == [[1, 1, 5, 5], [2, 2, 6, 6], [0, 0, 3, 3]]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "tiny", seed=0, preset="tiny")


@pytest.mark.slow
def test_every_nth_frame_view(tiny_root):
    dataset = open_dataset("synthetic", tiny_root)
    view = EveryNthFrame(dataset, 3)
    for full, sub in zip(dataset.videos("test"), view.videos("test"), strict=True):
        assert sub.id == full.id and sub.num_frames == -(-full.num_frames // 3)
        assert np.array_equal(sub.labels, full.labels[::3]) and np.array_equal(
            sub.kinds, full.kinds[::3]
        )
        assert np.array_equal(sub.tracks, subsample_tracks(full.tracks, 3))
    # scores that are the labels themselves give AUC 1 on the subsample too
    scores = {v.id: v.labels.astype(float) for v in view.videos("test")}
    assert evaluate(view, scores)["auc_micro"] == 1.0


def test_video_subset_view(tiny_root):
    dataset = open_dataset("synthetic", tiny_root)
    first = dataset.videos("test")[0].id
    view = VideoSubset(dataset, test=[first])
    assert [v.id for v in view.videos("test")] == [first]
    assert len(view.videos("train")) == len(dataset.videos("train"))
    with pytest.raises(Exception, match="no test video 99"):
        VideoSubset(dataset, test=["99"]).videos("test")


# --- one row end to end on the tiny preset --------------------------------------------------------


@pytest.mark.slow
def test_prepare_and_run_a_row(tiny_root, tmp_path, monkeypatch):
    from bench.pipeline import make_detector, run_detect

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    dataset = open_dataset("synthetic", tiny_root)
    sources = {}
    for split in ("train", "test"):
        detector = make_detector(
            "precomputed", "", 0.0, 640, str(tiny_root / "detections" / f"boxes_{split}.npz"), "cpu"
        )
        detections = run_detect(dataset, split, detector, tmp_path / f"{split}.npz")
        teachers = np.random.default_rng(0).random((len(detections), 1080), dtype=np.float32)
        np.save(tmp_path / f"{split}.npy", teachers)
        sources[split] = (tmp_path / f"{split}.npz", tmp_path / f"{split}.npy")
    meta = prepare_inputs(
        dataset,
        {"object": sources},
        t=1,
        seed=0,
        strides={"train": 4, "test": 2},
        out_dir=tmp_path / "inputs",
    )
    assert meta["t"] == 1 and meta["test_frame_stride"] == 2
    train_teachers = np.load(tmp_path / "inputs" / "object" / "train_teachers.npy")
    full = np.load(tmp_path / "train.npy")
    from bench.detection import Detections

    kept = Detections.load(tmp_path / "train.npz").frame % 4 == 0
    assert np.array_equal(train_teachers, full[kept])  # teacher row i still belongs to detection i

    rows = load_rows(REPO / "experiments" / "ablation.yaml")
    out = tmp_path / "metrics" / "sn_T1T3-s0.json"
    summary = run_row(
        rows["sn_T1T3"],
        0,
        dataset,
        tmp_path / "inputs",
        0.5,
        RowProfile(epochs=1, batch_size=16, device="cpu"),
        MapConfig(),
        0.1,
        0.1,
        out,
        tmp_path / "model.pt",
    )
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(summary))
    assert (
        written["tasks"] == ["T1", "T3"]
        and written["val"]["acc_motion"] is None
        and 0 <= written["val"]["acc_arrow"] <= 1
    )
    assert written["eval"]["frames"] == sum(-(-v.num_frames // 2) for v in dataset.videos("test"))
    assert {"auc_micro", "auc_macro", "rbdc", "tbdc"} <= set(written["eval"])

    import mlflow

    runs = mlflow.search_runs(experiment_names=["ssmtl-ablation"])
    child = runs[runs["tags.row"] == "sn_T1T3"]
    assert (
        len(child) == 1
        and child.iloc[0]["tags.tasks"] == "T1+T3"
        and child.iloc[0]["tags.level"] == "object"
    )
    parent_id = child.iloc[0]["tags.mlflow.parentRunId"]
    assert parent_id in set(runs["run_id"])  # nested under the sweep's parent run
    assert PAPER_TASKS["T4"] == "distill"


# --- the CI gate's decision rule ------------------------------------------------------------------


def test_gate_tolerance_and_verdicts():
    gate = {"sigmas": 3, "min_tolerance": 0.01}
    reference = {
        "p": {
            "auc_micro": {"mean": 0.80, "std": 0.02, "seeds": [0, 1, 2]},
            "auc_macro": {"mean": 0.90, "std": 0.001, "seeds": [0, 1, 2]},
        }
    }
    assert tolerance(reference["p"]["auc_micro"], gate) == pytest.approx(0.06)  # 3 * 0.02
    assert tolerance(reference["p"]["auc_macro"], gate) == 0.01  # 3 * 0.001 < the floor of 0.01
    lines = compare({"p": {"auc_micro": 0.745, "auc_macro": 0.895}}, reference, gate)
    assert [line[:4] for line in lines] == ["ok  ", "ok  "]  # 0.745 >= 0.74, 0.895 >= 0.89
    lines = compare({"p": {"auc_micro": 0.735, "auc_macro": 0.885}}, reference, gate)
    assert [line[:4] for line in lines] == ["FAIL", "FAIL"]
    lines = compare({"q": {"auc_micro": 0.99, "auc_macro": 0.99}}, reference, gate)
    assert (
        len(lines) == 1 and lines[0].startswith("FAIL") and "--profiles q" in lines[0]
    )  # no reference: never a pass


def test_gate_write_reference_keeps_the_profiles_that_did_not_run(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text("# how to measure\nreference: {}\n")
    old = {"mean": 0.5, "std": 0.1, "seeds": [0], "values": [0.5]}
    spec = {
        "profiles": {"a": {}, "b": {}},
        "reference": {"a": {"auc_micro": old, "auc_macro": old}},
    }
    write_reference(
        path,
        spec,
        {"b": [{"auc_micro": 0.8, "auc_macro": 0.9}, {"auc_micro": 0.6, "auc_macro": 0.7}]},
        [0, 1],
    )
    text = path.read_text()
    stored = yaml.safe_load(text)["reference"]
    assert text.startswith("# how to measure\n") and stored["a"]["auc_micro"] == old
    assert stored["b"]["auc_micro"]["mean"] == pytest.approx(0.7)
    assert stored["b"]["auc_micro"]["std"] == pytest.approx(
        0.1414, abs=1e-4
    )  # sample std of 0.8 and 0.6
    assert stored["b"]["auc_macro"]["values"] == [0.9, 0.7]
