"""The convergence table (bench.suite.convergence): one row per evaluated epoch, each equal to
scoring and evaluating that epoch's checkpoint directly; epoch selection rules."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import open_dataset
from bench.data.synth import generate
from bench.detection import load_precomputed
from bench.metrics.evaluate import evaluate
from bench.score import MapConfig, frame_sizes, object_scores, video_frame_scores
from bench.suite.convergence import convergence_table, parse_epochs
from bench.train import TrainConfig, load_checkpoint, set_threads, train
from bench.tubes import build_tube_cache


def test_parse_epochs():
    assert parse_epochs("all") is None
    assert parse_epochs("selected") == set()
    assert parse_epochs("1,2,8") == {1, 2, 8}
    with pytest.raises(ValueError, match="epochs must be"):
        parse_epochs("last")


@pytest.mark.slow
def test_rows_equal_direct_evaluation_of_each_epoch(tmp_path):
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
    config = TrainConfig(tasks=("arrow", "middle"), epochs=2, batch_size=16, device="cpu")
    train(cache, None, config, checkpoint_dir=tmp_path / "run")
    map_config = MapConfig()
    table = convergence_table(
        dataset,
        tmp_path / "run",
        tmp_path / "te",
        None,
        map_config,
        tmp_path / "c.json",
        resamples=0,
    )
    assert [row["epoch"] for row in table["rows"]] == [1, 2]
    assert table["best_epoch"] in (1, 2) and (tmp_path / "c.json").is_file()
    for row in table["rows"]:
        model, _, _ = load_checkpoint(tmp_path / "run" / f"epoch_{row['epoch']:03d}.pt")
        heads = object_scores(model, test, None, progress=False)
        frames = video_frame_scores(test, heads["score"], frame_sizes(dataset), map_config)
        assert row["auc_micro"] == pytest.approx(
            evaluate(dataset, frames, resamples=0)["auc_micro"]
        )
        assert set(row["per_head"]) == {"arrow", "middle"}
        assert row["val_joint_loss"] > 0
    selected = convergence_table(
        dataset,
        tmp_path / "run",
        tmp_path / "te",
        None,
        map_config,
        tmp_path / "s.json",
        resamples=0,
        epochs="selected",
    )
    assert [row["epoch"] for row in selected["rows"]] == [table["best_epoch"]]
