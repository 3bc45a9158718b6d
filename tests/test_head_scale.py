"""Issue 16's head-scale experiment (bench.suite.head_scale): the eq6 row is the pipeline's own
score, standardisation uses the statistics it names, every head alone is evaluated."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import open_dataset
from bench.data.synth import generate
from bench.detection import load_precomputed
from bench.metrics.evaluate import evaluate
from bench.score import MapConfig, frame_sizes, object_scores, video_frame_scores
from bench.suite.head_scale import combined_scores, head_scale_experiment, standardise, statistics
from bench.train import TrainConfig, load_checkpoint, set_threads, train
from bench.tubes import build_tube_cache


def test_standardised_heads_have_the_statistics_they_were_given():
    rng = np.random.default_rng(0)
    test = {"arrow": rng.normal(3, 2, 500), "middle": rng.normal(0.1, 0.01, 500)}
    validation = {"arrow": rng.normal(1, 4, 300), "middle": rng.normal(0.2, 0.02, 300)}
    own = standardise(test, statistics(test))
    assert all(abs(v.mean()) < 1e-9 and v.std() == pytest.approx(1) for v in own.values())
    other = standardise(test, statistics(validation))
    mean, std = statistics(validation)["arrow"]
    assert np.allclose(other["arrow"], (test["arrow"] - mean) / std)
    rows = combined_scores(test, validation)
    assert set(rows) == {"eq6", "zscore_validation", "zscore_test", "arrow_alone", "middle_alone"}
    assert np.allclose(rows["eq6"], (test["arrow"] + test["middle"]) / 2)
    # the plain mean follows the wide head; standardised, both count
    assert np.corrcoef(rows["eq6"], test["arrow"])[0, 1] > 0.99
    assert np.corrcoef(rows["zscore_test"], test["middle"])[0, 1] > 0.6
    assert standardise({"a": np.ones(3)}, {"a": (1.0, 0.0)})["a"].tolist() == [0, 0, 0]


@pytest.mark.slow
def test_the_eq6_row_is_the_pipelines_score(tmp_path):
    set_threads(1)
    root = tmp_path / "tiny"
    generate(root, seed=0, preset="tiny")
    dataset = open_dataset("synthetic", root)
    boxes = {
        split: load_precomputed(root / "detections" / f"boxes_{split}.npz", confidence=0.5)
        for split in ("train", "test")
    }
    train_boxes = boxes["train"].filter(np.arange(len(boxes["train"])) % 9 == 0)
    cache = build_tube_cache(dataset, "train", train_boxes, tmp_path / "tr", t=1, progress=False)
    test = build_tube_cache(dataset, "test", boxes["test"], tmp_path / "te", t=1, progress=False)
    config = TrainConfig(tasks=("arrow", "middle"), epochs=1, batch_size=16, device="cpu")
    train(cache, None, config, checkpoint_dir=tmp_path / "run")
    checkpoint = tmp_path / "run" / "epoch_001.pt"
    map_config = MapConfig()
    table = head_scale_experiment(
        dataset, checkpoint, tmp_path / "te", None, tmp_path / "tr", None, map_config,
        tmp_path / "h.json", resamples=0,
    )  # fmt: skip
    model, _, _ = load_checkpoint(checkpoint)
    heads = object_scores(model, test, None, progress=False)
    frames = video_frame_scores(test, heads["score"], frame_sizes(dataset), map_config)
    expected = evaluate(dataset, frames, resamples=0)["auc_micro"]
    assert table["rows"]["eq6"]["auc_micro"] == pytest.approx(expected)
    assert set(table["rows"]) >= {"zscore_validation", "zscore_test", "arrow_alone"}
    assert 0 < table["validation_objects"] < len(cache) and (tmp_path / "h.json").is_file()
