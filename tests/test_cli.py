"""The CLI contract: data synth / data check round trip, and evaluate's output and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bench.cli import build_parser, main, set_threads
from bench.data import open_dataset


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "synthetic"
    assert main(["data", "synth", "--out", str(root), "--preset", "tiny", "--seed", "3"]) == 0
    return root


@pytest.mark.slow
def test_synth_then_check_round_trips(synthetic_root: Path, capsys):
    capsys.readouterr()
    assert main(["data", "check", "synthetic", "--root", str(synthetic_root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    meta = json.loads((synthetic_root / "meta.json").read_text())
    labels = [np.load(p) for p in sorted((synthetic_root / "gt" / "frame_labels").glob("*.npy"))]
    assert summary["dataset"] == "synthetic"
    assert summary["splits"]["test"] == {
        "videos": len(labels),
        "frames": sum(map(len, labels)),
        "abnormal_frames": int(sum(video_labels.sum() for video_labels in labels)),
    }
    assert summary["splits"]["train"]["videos"] == len(
        list((synthetic_root / "training" / "frames").iterdir())
    )
    assert meta["seed"] == 3


def test_synth_refuses_to_overwrite(synthetic_root: Path, capsys):
    assert main(["data", "synth", "--out", str(synthetic_root), "--preset", "tiny"]) == 2
    assert "overwrite" in capsys.readouterr().err


def write_scores(path: Path, scores: dict[str, np.ndarray]) -> Path:
    np.savez(path, **scores)
    return path


def test_evaluate_prints_micro_and_macro(synthetic_root: Path, tmp_path: Path, capsys):
    dataset = open_dataset("synthetic", synthetic_root)
    labels = dataset.test_labels()
    rng = np.random.default_rng(0)
    scores = {k: y + rng.normal(0, 0.8, len(y)) for k, y in labels.items()}
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "synthetic",
                "--root",
                str(synthetic_root),
                "--scores",
                str(write_scores(tmp_path / "s.npz", scores)),
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    keys = sorted(labels)
    micro = roc_auc_score(
        np.concatenate([labels[k] for k in keys]), np.concatenate([scores[k] for k in keys])
    )
    assert result["auc_micro"] == pytest.approx(micro, abs=1e-9)
    assert result["frames"] == sum(len(y) for y in labels.values())
    assert 0 <= result["auc_macro"] <= 1 and 0 <= result["auc_macro_strict"] <= 1


@pytest.mark.slow
def test_evaluate_with_ground_truth_regions_is_perfect(
    synthetic_root: Path, tmp_path: Path, capsys
):
    dataset = open_dataset("synthetic", synthetic_root)
    scores = {k: y.astype(float) for k, y in dataset.test_labels().items()}
    regions = {
        k: np.hstack([t[:, 1:], np.ones((len(t), 1))]) for k, t in dataset.test_tracks().items()
    }
    np.savez(tmp_path / "r.npz", **regions)
    capsys.readouterr()
    args = [
        "evaluate",
        "synthetic",
        "--root",
        str(synthetic_root),
        "--scores",
        str(write_scores(tmp_path / "s.npz", scores)),
        "--regions",
        str(tmp_path / "r.npz"),
        "--json",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert (
        result["auc_micro"] == 1.0
        and result["rbdc"] == pytest.approx(1.0)
        and result["tbdc"] == pytest.approx(1.0)
    )


def test_evaluate_names_the_video_whose_length_disagrees(
    synthetic_root: Path, tmp_path: Path, capsys
):
    labels = open_dataset("synthetic", synthetic_root).test_labels()
    first = sorted(labels)[0]
    scores = {k: np.zeros(len(y)) for k, y in labels.items()}
    scores[first] = np.zeros(len(labels[first]) - 1)
    assert (
        main(
            [
                "evaluate",
                "synthetic",
                "--root",
                str(synthetic_root),
                "--scores",
                str(write_scores(tmp_path / "s.npz", scores)),
            ]
        )
        == 2
    )
    assert (
        f"video {first} has {len(labels[first]) - 1} scores but {len(labels[first])} frames"
        in capsys.readouterr().err
    )


def test_evaluate_ped2_perfect_scores(ped2_root: Path, tmp_path: Path, capsys):
    labels = open_dataset("ped2", ped2_root).test_labels()
    path = write_scores(tmp_path / "s.npz", {k: y.astype(np.float32) for k, y in labels.items()})
    assert (
        main(["evaluate", "ped2", "--root", str(ped2_root), "--scores", str(path), "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["auc_micro"] == 1.0 and result["frames"] == 2010
    assert result["one_class_videos"] == ["08", "09", "10", "11"]  # fully abnormal test videos


def test_fuse_averages_normalised_scores(tmp_path: Path):
    np.savez(tmp_path / "object.npz", v=np.array([0.0, 2.0, 4.0]))
    np.savez(tmp_path / "frame.npz", v=np.array([10.0, 10.0, 30.0]))
    args = [
        "fuse",
        "--object-scores",
        str(tmp_path / "object.npz"),
        "--frame-scores",
        str(tmp_path / "frame.npz"),
        "--out",
        str(tmp_path / "f.npz"),
    ]
    assert main(args) == 0
    assert np.allclose(np.load(tmp_path / "f.npz")["v"], [0.0, 0.25, 1.0])


def test_leading_threads_option_pins_torch(capsys):
    import torch

    before = torch.get_num_threads()
    parser = build_parser()
    try:
        args = parser.parse_args(["--threads", "1", "report"])
        set_threads(args.threads)
        assert args.command == "report" and torch.get_num_threads() == 1
        with pytest.raises(SystemExit):  # only a leading one: the commands do not take it
            parser.parse_args(["tubes", "--threads", "3"])
        assert torch.get_num_threads() == 1
        set_threads(
            parser.parse_args(["--threads", "0", "report"]).threads
        )  # 0: torch's default, left alone
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_threads_option_needs_a_number(capsys):
    for bad in ("two", "-1"):  # a usage error, exit 2 (a ranged option)
        with pytest.raises(SystemExit) as exit_:
            main(["--threads", bad, "report"])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "--threads" in err and bad in err
    with pytest.raises(SystemExit, match="whole number"):
        set_threads(-1)


def test_ablation_run_refuses_one_file_for_several_rows(
    synthetic_root: Path, tmp_path: Path, capsys
):
    rows = Path(__file__).resolve().parents[1] / "experiments" / "ablation.yaml"
    common = [
        "ablation",
        "run",
        "synthetic",
        "--root",
        str(synthetic_root),
        "--rows",
        str(rows),
        "--inputs",
        str(tmp_path),
        "--search",
        str(tmp_path / "search.json"),
        "--model",
        str(tmp_path / "{row}-s{seed}.pt"),
    ]
    assert main([*common, "--row", "sn_T1,sn_T2", "--out", str(tmp_path / "metrics.json")]) == 2
    assert (
        "metrics.json: 2 rows need one file each; put {row} in the path" in capsys.readouterr().err
    )
    assert main([*common, "--row", "sn_T1,sn_T5", "--out", str(tmp_path / "{row}.json")]) == 2
    assert "no row 'sn_T5'" in capsys.readouterr().err


def test_evaluate_gives_chance_levels_intervals_and_the_per_video_table(
    synthetic_root: Path, tmp_path: Path, capsys
):
    labels = open_dataset("synthetic", synthetic_root).test_labels()
    rng = np.random.default_rng(1)
    scores = {k: y + rng.normal(0, 1.0, len(y)) for k, y in labels.items()}
    path = write_scores(tmp_path / "s.npz", scores)
    args = ["evaluate", "synthetic", "--root", str(synthetic_root), "--scores", str(path)]
    capsys.readouterr()
    assert main([*args, "--json", "--bootstrap", "200"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["chance"]["auc_micro"] == 0.5 and result["bootstrap"]["resamples"] == 200
    for key in ("auc_micro", "auc_macro_padded"):
        interval = result["ci95"][key]
        assert interval["low"] <= result[key] <= interval["high"] and interval["draws"] == 200
    assert sorted(result["per_video"]) == sorted(labels)
    first = sorted(labels)[0]
    assert result["per_video"][first]["frames"] == len(labels[first])
    assert main([*args, "--bootstrap", "0"]) == 0
    text = capsys.readouterr().out
    assert "chance 0.5000" in text and "95% CI" not in text


def test_rows_run_at_the_papers_t_and_lambda_unless_searched_is_asked_for(
    synthetic_root: Path, tmp_path: Path, capsys
):
    from bench.cli.ablation import hyperparameters
    from bench.cli.args import resolve_auto

    parser = build_parser()
    common = ["ablation", "prepare", "ped2", "--root", str(synthetic_root)]
    common += ["--detections", str(tmp_path), "--teachers", str(tmp_path), "--out", str(tmp_path)]
    args = parser.parse_args(common)
    assert args.hyperparameters == "paper" and hyperparameters(args) == (3, 0.5)
    args = parser.parse_args([*common[:2], "avenue", *common[3:]])
    assert hyperparameters(args) == (3, 0.2)
    (tmp_path / "search.json").write_text(json.dumps({"best": {"t": 4, "lam": 0.1}}))
    searched = [*common, "--hyperparameters", "searched"]
    assert hyperparameters(
        parser.parse_args([*searched, "--search", str(tmp_path / "search.json")])
    ) == (4, 0.1)
    with pytest.raises(ValueError, match="needs --search"):
        hyperparameters(parser.parse_args(searched))
    # rows refuse inputs prepared at another t
    (tmp_path / "meta.json").write_text(json.dumps({"t": 4}))
    run = ["ablation", "run", "synthetic", "--root", str(synthetic_root), "--row", "sn_T1"]
    run += [
        "--inputs",
        str(tmp_path),
        "--out",
        str(tmp_path / "m.json"),
        "--model",
        str(tmp_path / "m.pt"),
    ]
    assert main(run) == 2
    assert "prepared at t = 4" in capsys.readouterr().err
    # auto: the paper's per-dataset settings; a number is kept
    assert resolve_auto("auto", "avenue", "confidence") == 0.8
    assert resolve_auto("auto", "shanghaitech", "lam") == 0.2
    assert resolve_auto("auto", "synthetic", "lam") == 0.5  # the synthetic scenes take Ped2's
    assert resolve_auto(0.3, "avenue", "lam") == 0.3
    train = parser.parse_args(["train", "--tubes", "x", "--out", "m.pt", "--metrics", "m.json"])
    assert train.lam == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args(
            ["train", "--tubes", "x", "--out", "m", "--metrics", "m", "--lam", "high"]
        )
