"""How eq. (6) combines its heads (bench.score.heads, ``ssmtl score --head-scale``) and issue
16's head-scale experiment (bench.suite.head_scale): the eq6 row is the pipeline's own score,
standardisation uses the statistics it names, every head alone is evaluated."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import InputError, ParameterError
from bench.io import read_arrays
from bench.metrics.evaluate import evaluate
from bench.paper import TASKS as TASKS_ALL
from bench.pipeline import run_score
from bench.score import (
    HEAD_SCALES,
    MapConfig,
    combine_heads,
    frame_sizes,
    head_statistics,
    object_scores,
    validation_statistics,
    video_frame_scores,
)
from bench.score.heads import on_scale, standardise
from bench.score.objects import score_tasks
from bench.suite.checkpoint_inputs import CheckpointInputs
from bench.suite.head_scale import combined_scores, head_scale_experiment
from bench.train import load_checkpoint
from bench.tubes import TubeCache


def test_standardised_heads_have_the_statistics_they_were_given():
    rng = np.random.default_rng(0)
    test = {"arrow": rng.normal(3, 2, 500), "middle": rng.normal(0.1, 0.01, 500)}
    validation = {"arrow": rng.normal(1, 4, 300), "middle": rng.normal(0.2, 0.02, 300)}
    own = standardise(test, head_statistics(test))
    assert all(abs(v.mean()) < 1e-9 and v.std() == pytest.approx(1) for v in own.values())
    other = standardise(test, head_statistics(validation))
    mean, std = head_statistics(validation)["arrow"]
    assert np.allclose(other["arrow"], (test["arrow"] - mean) / std)
    rows = combined_scores(test, validation)
    combinations = {"eq6", "zscore_validation", "log_zscore_validation", "zscore_test"}
    assert set(rows) == combinations | {"log_zscore_test", "arrow_alone", "middle_alone"}
    assert np.allclose(rows["eq6"], (test["arrow"] + test["middle"]) / 2)
    # the plain mean follows the wide head; standardised, both count
    assert np.corrcoef(rows["eq6"], test["arrow"])[0, 1] > 0.99
    assert np.corrcoef(rows["zscore_test"], test["middle"])[0, 1] > 0.6
    assert standardise({"a": np.ones(3)}, {"a": (1.0, 0.0)})["a"].tolist() == [0, 0, 0]
    stats = head_statistics(validation)
    tasks = ("arrow", "middle")
    assert np.allclose(
        combine_heads(test, tasks, "zscore_validation", stats), rows["zscore_validation"]
    )
    assert np.allclose(combine_heads(test, tasks), rows["eq6"])


def test_combinations_average_only_the_heads_eq6_averages():
    # frame level without detector probabilities: eq. (6) drops T4, its own row stays
    rng = np.random.default_rng(1)
    test = {name: rng.normal(size=50) for name in ("arrow", "middle", "distill")}
    rows = combined_scores(test, test, ("arrow", "middle"))
    assert np.allclose(rows["eq6"], (test["arrow"] + test["middle"]) / 2)
    assert np.allclose(
        rows["zscore_test"],
        np.mean(
            list(
                standardise(
                    {k: test[k] for k in ("arrow", "middle")}, head_statistics(test)
                ).values()
            ),
            axis=0,
        ),
    )
    assert {"arrow_alone", "middle_alone", "distill_alone"} <= set(rows)


def test_the_log_scale_reads_probabilities_as_log_odds_and_errors_as_logs():
    heads = {"arrow": np.array([0.5, 0.9, 0.0, 1.0], np.float32), "middle": np.array([1.0, 0.1])}
    assert on_scale(heads, "eq6") is heads and on_scale(heads, "zscore_validation") is heads
    logged = on_scale(heads, "log_zscore_validation")
    assert logged["arrow"][:2] == pytest.approx([0.0, np.log(9)], rel=1e-6)
    low, high = logged["arrow"][2:]  # certain probabilities stay finite: float32's own bounds
    assert np.isfinite([low, high]).all() and low < -80 and 15 < high < 20
    assert logged["middle"] == pytest.approx([0.0, np.log(0.1)])


def test_log_scale_counts_a_certain_classifier_by_its_typical_values():
    # a classifier near 0 on most objects and near 1 on a few: on the probability scale its
    # standard deviation is the few spikes'; on the log-odds scale the bulk sets it
    rng = np.random.default_rng(2)
    p = 1 / (1 + np.exp(-rng.normal(-9, 2, 1000)))
    p[:5] = 0.99
    heads = {"motion": p, "middle": rng.normal(0.02, 0.002, 1000)}
    for scale in ("zscore_validation", "log_zscore_validation"):
        stats = head_statistics(on_scale(heads, scale))
        combined = combine_heads(heads, ("motion", "middle"), scale, stats)
        expected = np.mean(list(standardise(on_scale(heads, scale), stats).values()), axis=0)
        assert np.allclose(combined, expected)
    bulk = slice(5, None)
    linear = standardise(heads, head_statistics(heads))["motion"][bulk]
    logged = on_scale(heads, "log_zscore_validation")
    logodds = standardise(logged, head_statistics(logged))["motion"][bulk]
    assert linear.std() < 0.2 < 0.9 < logodds.std()


def test_dropped_heads_leave_eq6s_mean_and_are_named():
    assert score_tasks(("arrow", "motion", "middle"), None, drop_heads=("arrow",)) == (
        "motion",
        "middle",
    )
    # frame level: T4 leaves with imagenet_term none, T1 by choice
    assert score_tasks(TASKS_ALL, 1000, "none", ("arrow",)) == ("motion", "middle")
    with pytest.raises(ParameterError, match="unknown heads"):
        score_tasks(TASKS_ALL, None, drop_heads=("speed",))
    with pytest.raises(ParameterError, match="leaves no head"):
        score_tasks(("arrow",), None, drop_heads=("arrow",))
    rng = np.random.default_rng(3)
    test = {name: rng.normal(size=40) for name in ("arrow", "motion", "middle")}
    rows = combined_scores(test, test, ("arrow", "motion", "middle"), drop_heads=("arrow",))
    assert np.allclose(rows["eq6 without arrow"], (test["motion"] + test["middle"]) / 2)
    assert "log_zscore_validation without arrow" in rows and "arrow_alone" in rows


def test_head_scale_errors_are_named():
    heads = {"arrow": np.ones(3)}
    with pytest.raises(ParameterError, match="head_scale must be one of"):
        combine_heads(heads, ("arrow",), "zscore")
    with pytest.raises(InputError, match="validation objects' statistics of arrow"):
        combine_heads(heads, ("arrow",), "zscore_validation")


def test_cli_choices_are_the_score_modules():
    from bench.cli.args import HEAD_CHOICES, HEAD_SCALE_CHOICES

    assert HEAD_SCALE_CHOICES == HEAD_SCALES and HEAD_CHOICES == TASKS_ALL


def test_cli_imagenet_terms_are_the_score_modules():
    from bench.cli import build_parser
    from bench.score.objects import IMAGENET_TERMS

    for command in ("score", "head-scale"):
        action = next(
            a for a in build_parser()._subparsers._group_actions[0].choices[command]._actions
            if a.dest == "imagenet_term"
        )  # fmt: skip
        assert tuple(action.choices) == tuple(IMAGENET_TERMS) and action.default == "none"


@pytest.mark.slow
def test_the_eq6_row_is_the_pipelines_score(tiny_run, tmp_path):
    dataset, map_config = tiny_run.dataset, MapConfig()
    checkpoint = tiny_run.run_dir / "epoch_001.pt"
    inputs = CheckpointInputs(
        dataset, checkpoint, tiny_run.test_tubes, None, map_config, tmp_path / "h.json",
        train_tubes=tiny_run.train_tubes,
    )  # fmt: skip
    table = head_scale_experiment(inputs, resamples=0)
    model, _, _ = load_checkpoint(checkpoint)
    test = TubeCache.open(tiny_run.test_tubes)
    heads = object_scores(model, test, None, progress=False)
    frames = video_frame_scores(test, heads["score"], frame_sizes(dataset), map_config)
    expected = evaluate(dataset, frames, resamples=0)["auc_micro"]
    assert table["rows"]["eq6"]["auc_micro"] == pytest.approx(expected)
    assert set(table["rows"]) >= {"zscore_validation", "zscore_test", "arrow_alone"}
    train = TubeCache.open(tiny_run.train_tubes)
    assert 0 < table["validation_objects"] < len(train) and (tmp_path / "h.json").is_file()


@pytest.mark.slow
def test_score_with_validation_zscores_matches_the_experiment(tiny_run, tmp_path):
    """`ssmtl score --head-scale zscore_validation` scores what the head-scale experiment's
    zscore_validation row evaluates, and records the statistics it used."""
    dataset, checkpoint = tiny_run.dataset, tiny_run.run_dir / "epoch_001.pt"
    outs = {name: tmp_path / f"{name}.npz" for name in ("scores", "regions", "objects")}
    run_score(
        dataset, checkpoint, tiny_run.test_tubes, None, MapConfig(), outs["scores"],
        outs["regions"], outs["objects"], head_scale="zscore_validation",
        validation_tubes=tiny_run.train_tubes,
    )  # fmt: skip
    objects = read_arrays(outs["objects"], "objects")
    model, _, _ = load_checkpoint(checkpoint)
    stats = validation_statistics(model, TubeCache.open(tiny_run.train_tubes), None, progress=False)
    assert objects["validation_std/arrow"].item() == pytest.approx(stats["arrow"][1])
    expected = (objects["arrow"] - stats["arrow"][0]) / stats["arrow"][1]
    expected = (expected + (objects["middle"] - stats["middle"][0]) / stats["middle"][1]) / 2
    assert np.allclose(objects["score"], expected)
    assert not np.allclose(objects["score"], (objects["arrow"] + objects["middle"]) / 2)
    with pytest.raises(InputError, match="needs the validation objects"):
        run_score(
            dataset, checkpoint, tiny_run.test_tubes, None, MapConfig(), outs["scores"],
            outs["regions"], outs["objects"], head_scale="zscore_validation",
        )  # fmt: skip
    with pytest.raises(InputError, match="tube cache"):  # the test cache is not a training cache
        run_score(
            dataset, checkpoint, tiny_run.test_tubes, None, MapConfig(), outs["scores"],
            outs["regions"], outs["objects"], head_scale="zscore_validation",
            validation_tubes=tiny_run.test_tubes,
        )  # fmt: skip


@pytest.mark.slow
def test_score_on_the_log_scale_without_a_head(tiny_run, tmp_path):
    """`ssmtl score --head-scale log_zscore_validation --drop-heads arrow`: the score is the
    mean of the other heads on the log scale, standardised with the validation statistics it
    records (those of the log-scale values)."""
    dataset, checkpoint = tiny_run.dataset, tiny_run.run_dir / "epoch_001.pt"
    outs = {name: tmp_path / f"{name}.npz" for name in ("scores", "regions", "objects")}
    run_score(
        dataset, checkpoint, tiny_run.test_tubes, None, MapConfig(), outs["scores"],
        outs["regions"], outs["objects"], head_scale="log_zscore_validation",
        validation_tubes=tiny_run.train_tubes, drop_heads=("arrow",),
    )  # fmt: skip
    objects = read_arrays(outs["objects"], "objects")
    model, _, _ = load_checkpoint(checkpoint)
    cache = TubeCache.open(tiny_run.train_tubes)
    stats = validation_statistics(model, cache, None, False, "log_zscore_validation")
    assert objects["validation_mean/middle"].item() == pytest.approx(stats["middle"][0])
    assert stats["middle"][0] < 0  # the log of an error under 1
    kept = [t for t in model.tasks if t != "arrow"]
    logged = on_scale({t: objects[t] for t in kept}, "log_zscore_validation")
    expected = np.mean([(logged[t] - stats[t][0]) / stats[t][1] for t in kept], axis=0)
    assert np.allclose(objects["score"], expected)


def test_an_experiment_that_reads_validation_objects_names_missing_training_tubes(tmp_path):
    from bench.errors import InputError
    from bench.suite.head_scale import checkpoint_heads

    inputs = CheckpointInputs(None, tmp_path / "m.pt", tmp_path / "t", None, MapConfig(), tmp_path)
    with pytest.raises(InputError, match="--validation-tubes"):
        checkpoint_heads(inputs)
