"""Issue 16's held-out head selection (bench.suite.selection, ``ssmtl head-selection``): the
heads picked on half the test videos are scored on the other half."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.cli import main as ssmtl
from bench.metrics.evaluate import evaluate
from bench.pipeline import run_score
from bench.score import MapConfig, combine_heads, head_statistics
from bench.score.heads import on_scale
from bench.suite.checkpoint_inputs import CheckpointInputs
from bench.suite.selection import (
    head_selection_experiment,
    held_out_selection,
    selection_candidates,
    video_halves,
)


def test_every_split_into_halves_once():
    splits = video_halves(["03", "01", "02", "04"])
    assert len(splits) == 6  # C(4, 2): each half is once the selection half, once held out
    for select, rest in splits:
        assert len(select) == 2 and sorted(select + rest) == ["01", "02", "03", "04"]
    assert len(video_halves([str(v) for v in range(12)])) == 924


def test_candidates_are_every_subset_on_every_scale_and_one_head_once():
    rng = np.random.default_rng(0)
    heads = ("arrow", "motion", "middle")
    test = {h: rng.uniform(0.01, 0.99, 40) for h in heads}
    validation = {h: rng.uniform(0.01, 0.99, 30) for h in heads}
    out = selection_candidates(test, validation, heads)
    assert len(out) == 7 * 3 and list(out)[0] == "eq6 arrow+motion+middle"
    assert {"eq6 arrow", "zscore_validation motion", "log_zscore_validation middle"} <= set(out)
    assert np.allclose(out["eq6 arrow+motion+middle"], np.mean(list(test.values()), axis=0))
    stats = head_statistics(on_scale(validation, "log_zscore_validation"))
    expected = combine_heads(test, ("motion", "middle"), "log_zscore_validation", stats)
    assert np.allclose(out["log_zscore_validation motion+middle"], expected)


def _videos(count: int, seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    labels = {f"{v:02d}": (np.arange(60) >= 40).astype(int) for v in range(count)}
    good = {v: y + rng.normal(0, 0.6, len(y)) for v, y in labels.items()}
    noise = {v: rng.normal(0, 1, len(y)) for v, y in labels.items()}
    return labels, {"noise": noise, "good": good}


def test_the_held_out_half_scores_what_the_selection_half_picked():
    labels, scores = _videos(6, 1)
    baseline = {
        v: y * 0.5 + np.random.default_rng(2).normal(0, 1, len(y)) for v, y in labels.items()
    }
    table = held_out_selection(labels, scores, {"eq6": "noise"}, baseline)
    assert table["splits"] == 20 and table["selection_videos"] == 3
    assert table["chosen"] == {"good": 20}
    held = table["held_out_auc_micro"]
    assert set(held) == {"selected", "eq6", "baseline", "oracle"}
    assert held["selected"]["mean"] > 0.8 > held["baseline"]["mean"] > held["eq6"]["mean"]
    assert held["oracle"]["mean"] >= held["selected"]["mean"]
    assert table["selected_wins"]["eq6"] == 1.0 and table["selected_minus"]["eq6"]["mean"] > 0.3
    assert table["all_videos_auc_micro"]["good"] > 0.8
    json.dumps(table)
    with pytest.raises(ValueError, match="unknown candidates"):
        held_out_selection(labels, scores, {"eq6": "missing"})


def test_a_choice_that_fits_the_selection_half_by_chance_is_caught():
    # "lucky" is good on the first three videos only: picked whenever they are the selection
    # half, and then at chance on the held-out half, while the fixed good row holds up
    labels, scores = _videos(6, 3)
    rng = np.random.default_rng(4)
    scores["lucky"] = {
        v: (labels[v] * 3.0 if v in ("00", "01", "02") else rng.normal(0, 1, 60)) for v in labels
    }
    table = held_out_selection(labels, scores, {"good": "good"})
    assert table["chosen"]["lucky"] >= 1
    assert (
        table["held_out_auc_micro"]["selected"]["mean"]
        < table["held_out_auc_micro"]["good"]["mean"]
    )


@pytest.mark.slow
def test_the_deviation_row_is_what_ssmtl_score_scores(tiny_run, tmp_path):
    """The experiment's deviation (log scale without T1; the tiny run has T1 and T3: T3 alone)
    on all test videos is the AUC of `ssmtl score --head-scale log_zscore_validation
    --drop-heads arrow`; the CLI writes the table and names a baseline missing a video."""
    dataset, checkpoint = tiny_run.dataset, tiny_run.run_dir / "epoch_001.pt"
    how = {"head_scale": "log_zscore_validation", "drop_heads": ("arrow",)}
    inputs = CheckpointInputs(
        dataset, checkpoint, tiny_run.test_tubes, None, MapConfig(), tmp_path / "s.json",
        train_tubes=tiny_run.train_tubes,
    )  # fmt: skip
    table = head_selection_experiment(inputs, **how)
    assert table["fixed"] == {
        "eq6": "eq6 arrow+middle",
        "deviation": "log_zscore_validation middle",
    }
    outs = [tmp_path / f"{name}.npz" for name in ("scores", "regions", "objects")]
    frames = run_score(
        dataset, checkpoint, tiny_run.test_tubes, None, MapConfig(), *outs,
        validation_tubes=tiny_run.train_tubes, **how,
    )  # fmt: skip
    expected = evaluate(dataset, frames, resamples=0)["auc_micro"]
    assert table["all_videos_auc_micro"]["log_zscore_validation middle"] == pytest.approx(expected)
    assert table["all_videos_rows"]["deviation"] == pytest.approx(expected)
    assert json.loads((tmp_path / "s.json").read_text())["splits"] == table["splits"]
    baseline = tmp_path / "baseline.npz"
    np.savez(baseline, **{v: s for v, s in list(frames.items())[1:]})
    args = [
        "head-selection", "synthetic", "--root", str(tiny_run.root), "--model", str(checkpoint),
        "--tubes", str(tiny_run.test_tubes), "--validation-tubes", str(tiny_run.train_tubes),
        "--out", str(tmp_path / "cli.json"),
    ]  # fmt: skip
    assert ssmtl(args) == 0 and (tmp_path / "cli.json").is_file()
    assert ssmtl([*args, "--baseline-scores", str(baseline)]) == 2


def test_the_report_table_reads_every_run_and_pools_them(tmp_path):
    from bench.io import write_json
    from bench.report.load import MetricsDir
    from bench.report.selection import head_selection_table, held_out_estimate

    assert head_selection_table(MetricsDir(tmp_path)).empty
    assert held_out_estimate(MetricsDir(tmp_path)) is None
    labels, scores = _videos(4, 5)
    fixed = {"eq6": "noise", "deviation": "good"}
    for run in ("frame", "frame_seed1"):
        table = held_out_selection(labels, scores, fixed, scores["noise"])
        table["baseline"] = "artifacts/ped2/scores/frame_diff.npz"
        write_json(tmp_path / "ped2" / "head_selection_frame" / f"{run}.json", table)
    out = head_selection_table(MetricsDir(tmp_path))
    first = out[out["run"] == "frame level frame"]
    assert list(first["row"]) == [
        "heads picked on the other half (6 splits; most often good 6x)",
        "the deviation (good)", "eq. (6) as published (noise)",
        "baseline: frame_diff (nothing to choose)",
        "best on the held-out half itself (upper bound)",
    ]  # fmt: skip
    assert first["picked row beats it"].iloc[2] == "100% of splits"
    pooled = out[out["run"] == "frame level, mean over 2 runs"]
    assert len(pooled) == 5 and pooled["held-out micro AUC"].iloc[0].endswith("± 0.0")
    write_json(tmp_path / "ped2" / "head_selection" / "s10_seed0.json", table)
    both = head_selection_table(MetricsDir(tmp_path))
    assert list(both["run"][:5]) == ["object level s10_seed0"] * 5  # the object level first
    assert both.iloc[5:].reset_index(drop=True).equals(out)
    line = held_out_estimate(MetricsDir(tmp_path))  # the frame level's runs only
    assert line.startswith("its choice of heads scored on held-out test videos: ")
    assert "± 0.0 over 2 runs, the baseline (frame_diff) " in line
    assert list(pooled["row"])[3] == "baseline (nothing to choose)"
