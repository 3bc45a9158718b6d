"""The convergence table (bench.suite.convergence): one row per evaluated epoch, each equal to
scoring and evaluating that epoch's checkpoint directly; epoch selection rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.metrics.evaluate import evaluate
from bench.score import MapConfig, frame_sizes, object_scores, video_frame_scores
from bench.suite.convergence import convergence_table, parse_epochs
from bench.train import load_checkpoint
from bench.tubes import TubeCache


def test_parse_epochs():
    assert parse_epochs("all") is None
    assert parse_epochs("selected") == set()
    assert parse_epochs("1,2,8") == {1, 2, 8}
    with pytest.raises(ValueError, match="epochs must be"):
        parse_epochs("last")


@pytest.mark.slow
def test_rows_equal_direct_evaluation_of_each_epoch(tiny_run, tmp_path):
    dataset, map_config = tiny_run.dataset, MapConfig()
    test = TubeCache.open(tiny_run.test_tubes)
    table = convergence_table(
        dataset, tiny_run.run_dir, tiny_run.test_tubes, None, map_config, tmp_path / "c.json",
        resamples=0,
    )  # fmt: skip
    assert [row["epoch"] for row in table["rows"]] == [1, 2]
    assert table["best_epoch"] in (1, 2) and (tmp_path / "c.json").is_file()
    for row in table["rows"]:
        model, _, _ = load_checkpoint(tiny_run.run_dir / f"epoch_{row['epoch']:03d}.pt")
        heads = object_scores(model, test, None, progress=False)
        frames = video_frame_scores(test, heads["score"], frame_sizes(dataset), map_config)
        assert row["auc_micro"] == pytest.approx(
            evaluate(dataset, frames, resamples=0)["auc_micro"]
        )
        assert set(row["per_head"]) == {"arrow", "middle"}
        assert row["val_joint_loss"] > 0
    selected = convergence_table(
        dataset, tiny_run.run_dir, tiny_run.test_tubes, None, map_config, tmp_path / "s.json",
        resamples=0, epochs="selected",
    )  # fmt: skip
    # the selected epoch and the last one (a run cut by its time budget shows where it stopped)
    assert [row["epoch"] for row in selected["rows"]] == sorted({table["best_epoch"], 2})
    assert table["epochs_trained"] == selected["epochs_trained"] == 2


def test_tubes_of_another_t_are_a_named_error():
    from types import SimpleNamespace

    from bench.errors import ProvenanceError
    from bench.suite.convergence import check_same_t

    cache = SimpleNamespace(t=2, root=Path("artifacts/ped2/tubes/test"))
    check_same_t(cache, Path("run/best.pt"), 2)
    with pytest.raises(ProvenanceError, match=r"tubes/test: tubes built with t=2.*--t 3"):
        check_same_t(cache, Path("run/best.pt"), 3)
