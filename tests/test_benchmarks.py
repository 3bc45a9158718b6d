"""Running-time benchmark (bench.suite.bench_fps.benchmark_fps, ``ssmtl bench fps``) on the tiny
synthetic preset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.cli import main as ssmtl
from bench.data import open_dataset
from bench.data.synth import generate
from bench.detection import PrecomputedDetector
from bench.model import SSMTL
from bench.score import MapConfig, object_scores
from bench.score.online import FPS_COMPONENTS, OnlineScorer, Stopwatch
from bench.suite.bench_fps import write_fps_run
from bench.tubes import build_tube_cache


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("fps") / "s"
    generate(root, seed=0, preset="tiny")
    return root


@pytest.mark.slow
def test_online_scores_equal_the_tube_cache_scores(tiny, tmp_path, monkeypatch):
    """Ring-buffer crops scored frame by frame give the scores of the offline test tubes (edges
    clamped)."""
    monkeypatch.setattr(
        "bench.score.online.default_batch_size", lambda device: 2
    )  # a frame's objects in several batches
    dataset = open_dataset("synthetic", tiny)
    video = dataset.videos("test")[0]
    detector = PrecomputedDetector(tiny / "detections" / "boxes_test.npz")
    table = detector.table.for_video(video.id)
    torch.manual_seed(0)
    model = SSMTL("shallow_narrow").eval()
    cache = build_tube_cache(dataset, "test", table, tmp_path / "tubes", t=3, progress=False)
    offline = object_scores(
        model, cache, np.zeros((len(table), 80), np.float32), progress=False
    )  # no class scores: zeros
    detector.reset(video.id)
    scorer, clock = (
        OnlineScorer(model, 3, video[0].shape[:2], torch.device("cpu"), MapConfig()),
        Stopwatch(torch.device("cpu")),
    )
    done = []
    for i in range(video.num_frames):
        done += scorer.push(video[i], detector.detect(video[i][None])[0], clock)
    done += scorer.flush(clock)
    assert [scored.frame for scored in done] == list(range(video.num_frames))
    np.testing.assert_array_equal(
        np.concatenate([scored.boxes for scored in done]), cache.index["box"]
    )
    for task in (*model.tasks, "score"):
        np.testing.assert_allclose(
            np.concatenate([scored.scores[task] for scored in done]),
            offline[task],
            atol=1e-5,
            err_msg=task,
        )
    assert done[-1].anomaly_map.shape == (24, 32)  # 96 x 128 frames, map_scale 4


@pytest.mark.slow
def test_fps_cli_writes_the_run_and_replaces_it(tiny, tmp_path):
    out = tmp_path / "metrics" / "fps.json"
    args = [
        "fps",
        "synthetic",
        "--root",
        str(tiny),
        "--detector",
        "precomputed",
        "--frames",
        "4",
        "--warmup",
        "2",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    assert ssmtl(["bench", *args]) == 0
    data = json.loads(out.read_text())
    assert data["paper"]["end_to_end_fps"] == 23.0 and len(data["runs"]) == 1
    run = data["runs"][0]
    assert (
        run["device"],
        run["detector"],
        run["arch"],
        run["frames"],
        run["warmup"],
        run["checkpoint"],
    ) == ("cpu", "precomputed", "shallow_narrow", 4, 2, None)
    ms = run["ms_per_frame"]
    assert set(ms) == {*FPS_COMPONENTS, "total"} and all(ms[name] > 0 for name in ms)
    parts = sum(ms[name] for name in FPS_COMPONENTS)
    assert (
        0.8 * ms["total"] <= parts <= ms["total"] + 1e-3
    )  # the components are the frame's time, bar bookkeeping
    assert run["end_to_end_fps"] == pytest.approx(1000 / ms["total"], rel=0.01)
    assert (
        run["objects_per_frame"] > 0 and run["ms_per_object"] > 0 and run["model_objects_per_s"] > 0
    )
    assert run["device_name"] and run["tasks"] == ["arrow", "motion", "middle", "distill"]
    assert (
        ssmtl(["bench", *args]) == 0
    )  # the same device, detector and arch: replaced, not appended
    assert len(json.loads(out.read_text())["runs"]) == 1
    write_fps_run(out, {**run, "arch": "deep_wide"})  # another arch: kept next to it
    assert [r["arch"] for r in json.loads(out.read_text())["runs"]] == [
        "shallow_narrow",
        "deep_wide",
    ]
    assert not out.with_name(out.name + ".tmp").exists()
