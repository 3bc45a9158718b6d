"""The report generator on small hand-made metrics folders: numbers, reasons, sources, files."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SHARED

from bench.cli import main
from bench.report import REFERENCE_COLUMNS, build_report, latex_escape, summarize
from bench.report.deviations import NO_REASON, REASONS, deviations_table, load_params
from bench.report.evidence import SMOKE_ONLY

REFERENCE = REPO / "experiments" / "reference.csv"
ABLATION = REPO / "experiments" / "ablation.yaml"


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def evaluation(micro: float, macro: float, **extra: float) -> dict:
    return {
        "auc_micro": micro,
        "auc_macro": macro,
        "auc_macro_strict": macro - 0.01,
        "auc_macro_padded": macro,
        "frames": 100,
        "videos": 4,
        "one_class_videos": [],
        **extra,
    }


def ablation(row: str, seed: int, val: dict, micro: float, macro: float) -> dict:
    keys = ("acc_arrow", "acc_motion", "mae_middle", "mae_distill", "joint_loss")
    return {
        "row": row,
        "dataset": "ped2",
        "seed": seed,
        "t": 3,
        "lam": 0.5,
        # 5 epochs: a reduced profile, not a smoke run (whose numbers leave Table 4)
        "profile": {"epochs": 5},
        "val": {k: val.get(k) for k in keys},
        "eval": evaluation(micro, macro),
        "seconds": {"train": 1.0, "score": 1.0},
    }


@pytest.fixture
def metrics(tmp_path: Path) -> Path:
    """synthetic: object level, search, fps; ped2: object level and two ablation rows x two
    seeds."""
    root = tmp_path / "metrics"
    write(root / "synthetic" / "object_level.json", evaluation(0.9, 0.95))
    write(
        root / "synthetic" / "train_object_level.json",
        {
            "best_epoch": 1,
            "config": {
                "arch": "shallow_narrow",
                "tasks": ["arrow", "middle"],
                "epochs": 5,  # reduced, no smoke run (< 3 epochs), which would leave Table 2
                "t": 3,
                "lam": 0.5,
                "seed": 0,
            },
        },
    )
    trials = [
        {"number": i, "t": t, "lam": lam, "state": "COMPLETE", "value": v}
        for i, (t, lam, v) in enumerate([(2, 0.2, 0.8), (3, 0.5, 0.6), (3, 0.2, 0.7)])
    ]
    write(
        root / "synthetic" / "search.json",
        {
            "dataset": "synthetic",
            "objective": "val_joint_loss",
            "sampler": "grid",
            "best": {"t": 3, "lam": 0.5, "value": 0.6, "trial": 1},
            "trials": trials,
            "profile": {},
        },
    )
    write(
        root / "synthetic" / "fps.json",
        {
            "runs": [
                {
                    "device": "cpu",
                    "end_to_end_fps": 4.24,
                    "ms_per_frame": {"detect": 100.0, "model": 135.3},
                    "objects_per_frame": 3.0,
                    "model_objects_per_s": 22.0,
                    "ms_per_object": 45.0,
                    "detector": "precomputed",
                    "arch": "shallow_narrow",
                }
            ]
        },
    )
    write(root / "ped2" / "object_level.json", evaluation(0.951, 0.972, rbdc=0.6, tbdc=0.85))
    write(
        root / "ped2" / "ablation" / "deep_wide" / "dw_all-s0.json",
        ablation(
            "dw_all",
            0,
            {"acc_arrow": 0.98, "acc_motion": 0.97, "mae_middle": 0.04, "mae_distill": 0.3},
            0.95,
            0.97,
        ),
    )
    write(
        root / "ped2" / "ablation" / "deep_wide" / "dw_all-s1.json",
        ablation(
            "dw_all",
            1,
            {"acc_arrow": 0.99, "acc_motion": 0.99, "mae_middle": 0.05, "mae_distill": 0.4},
            0.96,
            0.99,
        ),
    )
    write(
        root / "ped2" / "ablation" / "shallow_narrow" / "sn_T1-s0.json",
        ablation("sn_T1", 0, {"acc_arrow": 0.97}, 0.80, 0.9),
    )
    write(
        root / "ped2" / "ablation" / "shallow_narrow" / "sn_T1-s1.json",
        ablation("sn_T1", 1, {"acc_arrow": 0.99}, 0.82, 0.8),
    )
    return root


@pytest.fixture
def report(metrics: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    out = tmp_path / "reports"
    (out / "figures" / "ssmtl").mkdir(parents=True)
    (out / "figures" / "ssmtl" / "scores_01.png").write_bytes(b"")
    return out, build_report(metrics, REFERENCE, ABLATION, out)


def table(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)


def row(df: pd.DataFrame, **equal: str) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    for column, value in equal.items():
        mask &= df[column] == value
    assert mask.sum() == 1, equal
    return df[mask].iloc[0]


def test_reference_header_and_rows():
    with REFERENCE.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == REFERENCE_COLUMNS
    assert len(rows) == 245 and not any(r and r[0].startswith("#") for r in rows)


@pytest.mark.shared
def test_reference_equals_shared():
    shared = SHARED / "reference" / "ssmtl_reference.csv"
    if not shared.exists():
        pytest.skip(f"{shared} not available")
    read = lambda p: list(csv.reader(p.open(newline="", encoding="utf-8")))  # noqa: E731
    assert read(REFERENCE) == read(shared)


def test_summarize_is_mean_and_sample_std():
    stat = summarize([97.0, 99.0])
    assert (stat.mean, round(stat.std, 6), stat.n) == (98.0, round(2**0.5, 6), 2)
    assert stat.format(1) == "98.0 ± 1.4" and summarize([0.5]).format(2) == "0.50"


@pytest.mark.slow
def test_table4_mean_std_over_seeds_and_difference(report):
    t4 = table(report[0], "table4")
    dw = row(t4, row="dw_all", dataset="ped2")
    assert dw["seeds"] == "2 (seeds 0, 1)"
    assert (dw["auc_macro_ours"], dw["auc_macro_published"], dw["auc_macro_diff"]) == (
        "98.0 ± 1.4",
        "99.8",
        "-1.8",
    )
    assert (dw["auc_micro_ours"], dw["auc_micro_published"], dw["auc_micro_diff"]) == (
        "95.5 ± 0.7",
        "97.5",
        "-2.0",
    )
    assert (dw["val_acc_T1_ours"], dw["val_acc_T1_published"], dw["val_acc_T1_diff"]) == (
        "98.5 ± 0.7",
        "99.0",
        "-0.5",
    )
    assert (dw["val_mae_T3_ours"], dw["val_mae_T3_published"], dw["val_mae_T3_diff"]) == (
        "0.0450 ± 0.0071",
        "0.0408",
        "+0.0042",
    )
    assert (dw["val_mae_T4_ours"], dw["val_mae_T4_diff"]) == ("0.3500 ± 0.0707", "-0.0076")
    sn = row(t4, row="sn_T1", dataset="ped2")
    assert (
        sn["val_acc_T1_ours"],
        sn["val_acc_T1_diff"],
        sn["auc_macro_ours"],
        sn["auc_macro_diff"],
    ) == ("98.0 ± 1.4", "-0.1", "85.0 ± 7.1", "-4.4")
    assert sn["val_acc_T2_ours"] == "—" and "issue 1" in sn["published_source"]


@pytest.mark.slow
def test_table4_rows_not_run_and_unreadable(report):
    t4 = table(report[0], "table4")
    assert len(t4) == 17 * 2 and set(t4["dataset"]) == {"avenue", "ped2"}
    assert (
        row(t4, row="dw_T1T3", dataset="ped2")["seeds"]
        == "not run: no metrics/ped2/ablation/**/dw_T1T3-s*.json"
    )
    assert (
        row(t4, row="dw_T1T3", dataset="ped2")["auc_macro_published"]
        == "not available: unreadable in the seed text of Table 4"
    )
    assert row(t4, row="sn_T1", dataset="avenue")["seeds"].startswith("not run: no metrics/avenue/")


@pytest.mark.slow
def test_missing_dataset_is_not_run_with_a_reason(report):
    out = report[0]
    t2 = table(out, "table2")
    ours = t2[(t2["dataset"] == "avenue") & (t2["method"] == "SSMTL (ours)")]
    assert (
        len(ours) == 3
        and ours["auc_micro"]
        .str.startswith("not run: no metrics/avenue/ (dataset not selected")
        .all()
    )
    frame = row(t2, dataset="synthetic", level="frame", method="SSMTL (ours)")
    assert frame["auc_macro"] == (
        "not run: no metrics/synthetic/frame_level.json "
        "(the profile has no frame-level stage output)"
    )
    for name in ("table2", "table3", "table4", "search", "search_trials", "fps"):
        cells = table(out, name).to_numpy().ravel()
        assert not any(c.strip() == "" or c.lower() == "nan" for c in cells), name


@pytest.mark.slow
def test_table2_ours_and_published(report):
    t2 = table(report[0], "table2")
    ours = row(t2, dataset="synthetic", level="object", method="SSMTL (ours)")
    assert (ours["auc_micro"], ours["auc_macro"]) == ("90.0", "95.0")
    assert ours["source"] == "ours (shallow_narrow, T1+T3, 5 epochs, t=3, lambda=0.5)"
    readme = row(
        t2, dataset="ped2", level="object", source="SSMTL official repository README (object level)"
    )
    paper = row(
        t2,
        dataset="ped2",
        level="object",
        source="SSMTL CVPR 2021 paper",
        method="SSMTL (published)",
    )
    assert (readme["auc_micro"], readme["auc_macro"], paper["auc_micro"], paper["auc_macro"]) == (
        "97.5",
        "99.8",
        "not published",
        "99.8",
    )
    assert row(t2, dataset="shanghaitech", method="Liu et al. [27]")["auc_as_published"] == "72.8"


@pytest.mark.slow
def test_table3_ours_against_published(report):
    t3 = table(report[0], "table3")
    ours = row(t3, method="SSMTL (ours)")
    assert (ours["auc_micro"], ours["auc_macro"], ours["rbdc"], ours["tbdc"]) == (
        "95.1",
        "97.2",
        "60.0",
        "85.0",
    )
    diff = row(t3, method="ours - published (pp)")
    assert (diff["auc_micro"], diff["auc_macro"], diff["rbdc"], diff["tbdc"]) == (
        "-2.4",
        "-2.6",
        "-12.8",
        "-6.2",
    )
    assert row(t3, method="Ramachandra et al. [38]")["rbdc"] == "74.0"


@pytest.mark.slow
def test_search_and_fps(report):
    out = report[0]
    search = table(out, "search")
    ours = row(search, dataset="synthetic", source="ours")
    assert (ours["best_t"], ours["best_lambda"], ours["best_value"], ours["trials"]) == (
        "3",
        "0.5",
        "0.6000",
        "3",
    )
    paper = row(search, dataset="ped2", source="SSMTL CVPR 2021 paper, section 4.2")
    assert (paper["best_t"], paper["best_lambda"]) == ("3", "0.5")
    assert len(table(out, "search_trials")) == 3
    fps = table(out, "fps")
    assert row(fps, source="ours")["end_to_end_fps"] == "4.2"
    assert set(fps[fps["source"] == "SSMTL CVPR 2021 paper"]["end_to_end_fps"]) == {"23", "21"}


@pytest.mark.slow
def test_files_figures_and_links(report):
    out, written = report
    names = {p.relative_to(out).as_posix() for p in written}
    assert {
        "README.md",
        "tables/tables.tex",
        "tables/table4.csv",
        "figures/report/ablation_auc_ped2.png",
        "figures/report/search_synthetic.png",
    } <= names
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    assert not list(out.rglob("*.tmp"))
    readme = (out / "README.md").read_text()
    assert (
        "](figures/ssmtl/)" in readme
        and "](figures/report/)" in readme
        and "dvc repro report" in readme
    )


@pytest.mark.slow
def test_latex_escapes_underscores(report):
    tables = report[0] / "tables"
    tex = "".join(p.read_text() for p in sorted(tables.glob("*.tex")) if p.name != "tables.tex")
    body = "\n".join(line for line in tex.splitlines() if not line.startswith(("%", "\\label")))
    assert "shallow\\_narrow" in body and not re.search(r"(?<!\\)_", body)
    assert latex_escape("a_b & 5% ± 1") == r"a\_b \& 5\% $\pm$ 1"


def test_corrupt_json_names_the_file(metrics: Path, tmp_path: Path, capsys):
    (metrics / "ped2" / "late_fusion.json").write_text("{not json")
    with pytest.raises(ValueError, match="late_fusion.json"):
        build_report(metrics, REFERENCE, ABLATION, tmp_path / "out")
    args = [
        "report",
        "--metrics",
        str(metrics),
        "--reference",
        str(REFERENCE),
        "--ablation",
        str(ABLATION),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(args) == 2
    assert "late_fusion.json" in capsys.readouterr().err


def test_a_row_in_two_groups_is_refused(metrics: Path, tmp_path: Path):
    write(
        metrics / "ped2" / "ablation" / "deep_narrow" / "sn_T1-s0.json",
        ablation("sn_T1", 0, {"acc_arrow": 0.5}, 0.5, 0.5),
    )
    with pytest.raises(
        ValueError,
        match=r"shallow_narrow/sn_T1-s0.json: row sn_T1 seed 0 again "
        r"\(also in .*deep_narrow/sn_T1-s0.json\)",
    ):
        build_report(metrics, REFERENCE, ABLATION, tmp_path / "out")


def test_reference_missing_a_column(metrics: Path, tmp_path: Path):
    bad = tmp_path / "reference.csv"
    pd.read_csv(REFERENCE, dtype=str, keep_default_na=False).drop(columns="note").to_csv(
        bad, index=False
    )
    with pytest.raises(ValueError, match=r"reference\.csv: missing column\(s\) note"):
        build_report(metrics, bad, ABLATION, tmp_path / "out")


@pytest.mark.slow
def test_kinds_table_says_whether_each_single_task_row_wins_its_kind(metrics: Path, tmp_path: Path):
    kinds = {
        "sn_T1": (["T1"], [0.9, 0.7, 0.5, 0.5]),
        "sn_T2": (["T2"], [0.6, 0.6, 0.5, 0.5]),
        "sn_T1T3": (["T1", "T3"], [1.0, 1.0, 1.0, 1.0]),
    }
    for name, (tasks, values) in kinds.items():
        record = {
            **ablation(name, 0, {}, 0.7, 0.8),
            "dataset": "synthetic",
            "tasks": tasks,
            "profile": {"epochs": 5, "train_frame_stride": 5, "test_frame_stride": 1},
        }
        record["eval"]["auc_by_kind"] = dict(
            zip(
                ("wrong_direction", "irregular_motion", "unusual_appearance", "novel_object"),
                values,
                strict=True,
            )
        )
        write(metrics / "synthetic" / "single_task" / f"{name}-s0.json", record)
    out = tmp_path / "out"
    build_report(metrics, REFERENCE, ABLATION, out)
    df = table(out, "kinds")
    assert (
        row(df, row="sn_T1")["aimed_kind"] == "wrong_direction: best of the single-task rows"
    )  # 0.9 > 0.6
    assert (
        row(df, row="sn_T2")["aimed_kind"] == "irregular_motion: not best of the single-task rows"
    )  # 0.6 < 0.7
    assert (
        row(df, row="sn_T1T3")["aimed_kind"] == "—"
    )  # not a single-task row: the T1T3 row's 1.0 competes with nobody
    assert row(df, row="sn_T2")["auc_wrong_direction"] == "60.0"
    assert row(df, row="sn_T1")["profile"] == "epochs=5, train_frame_stride=5, test_frame_stride=1"
    assert "## AUC per anomaly kind" in (out / "README.md").read_text()


@pytest.mark.slow
def test_summary_is_copied_into_the_readme_block(metrics: Path, tmp_path: Path):
    from bench.report.summary import README_BEGIN, README_END

    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{README_BEGIN}\nold numbers\n{README_END}\n\nafter\n")
    out = tmp_path / "reports"
    build_report(metrics, REFERENCE, ABLATION, out, readme)
    summary = (out / "summary.md").read_text()
    assert "| synthetic | SSMTL object level | 90.0 |" in summary
    assert "shallow_narrow" in summary and "ped2" in summary
    text = readme.read_text()
    assert "old numbers" not in text and summary.strip() in text
    assert text.startswith("# title\n") and text.endswith("\nafter\n")
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="results:begin"):
        build_report(metrics, REFERENCE, ABLATION, out, readme)


# --- chance levels, intervals, flags, smoke runs, per-video, deviations ------------------------

#: Ped2-like per-video counts: 01 and 03 hold both classes, 02 is all abnormal (one-class).
PER_VIDEO = {
    "01": {
        "frames": 4,
        "abnormal_frames": 2,
        "auc": 0.75,
        "auc_padded": 0.8,
        "chance_padded": 0.7222,
    },
    "02": {
        "frames": 3,
        "abnormal_frames": 3,
        "auc": None,
        "auc_padded": 0.9,
        "chance_padded": 0.875,
    },
    "03": {"frames": 5, "abnormal_frames": 1, "auc": 0.4, "auc_padded": 0.5, "chance_padded": 0.6},
}


def ci(low: float, high: float) -> dict:
    return {"low": low, "high": high, "draws": 1000}


def with_evidence(result: dict, padded_chance: float = 0.684) -> dict:
    """An evaluation as the current `ssmtl evaluate` writes it: chance, ci95, per_video."""
    return {
        **result,
        "chance": {"auc_micro": 0.5, "auc_macro_strict": 0.5, "auc_macro_padded": padded_chance},
        "ci95": {
            "auc_micro": ci(0.921, 0.975),
            "auc_macro_strict": ci(0.9, 0.95),
            "auc_macro_padded": ci(0.93, 0.99),
            "rbdc": ci(0.55, 0.66),
            "tbdc": {"low": 0.8, "high": 0.9, "draws": 990},
        },
        "bootstrap": {"resamples": 1000, "seed": 0},
        "per_video": PER_VIDEO,
    }


@pytest.fixture
def evidence(metrics: Path, tmp_path: Path) -> Path:
    """ped2's object level with chance, ci95 and per_video; its frame level below the padded
    chance level; its frame-difference baseline with per_video but without chance or ci95."""
    ped2 = metrics / "ped2"
    write(ped2 / "object_level.json", with_evidence(evaluation(0.951, 0.972, rbdc=0.6, tbdc=0.85)))
    # 0.60 padded macro < 0.684 chance: below chance though far above 50
    write(ped2 / "frame_level.json", with_evidence(evaluation(0.7, 0.60)))
    write(ped2 / "frame_diff.json", {**evaluation(0.7, 0.8), "per_video": PER_VIDEO})
    # the data check's counts: the evaluations scored every test frame (test stride 1)
    write(
        ped2 / "dataset.json", {"dataset": "ped2", "splits": {"test": {"videos": 3, "frames": 100}}}
    )
    out = tmp_path / "evidence_out"
    build_report(metrics, REFERENCE, ABLATION, out)
    return out


@pytest.mark.slow
def test_every_auc_has_its_chance_level_and_interval(evidence: Path):
    t2 = table(evidence, "table2")
    ours = row(t2, dataset="ped2", level="object", method="SSMTL (ours)")
    assert (ours["auc_micro"], ours["auc_micro_ci95"]) == ("95.1", "[92.1, 97.5]")
    assert (ours["auc_macro_ci95"], ours["auc_macro_strict_ci95"]) == (
        "[93.0, 99.0]",
        "[90.0, 95.0]",
    )
    assert ours["chance (micro / padded / strict)"] == "50.0 / 68.4 / 50.0"
    # one run each: ped2 has no training summary in the fixture, the baseline trains nothing
    assert ours["seeds"] == "1 run (seed not recorded)"
    # a file without ci95 says so; its padded chance comes from per_video's counts
    # (01: 2 normal + 2 abnormal, 02: 3 abnormal, 03: 4 normal + 1 abnormal)
    base = row(t2, dataset="ped2", method="frame-difference baseline (ours, no training)")
    assert base["auc_micro_ci95"] == "not computed (no ci95.auc_micro)"
    assert base["seeds"] == "1 run (no training)"
    expected = (6.5 / 9 + 3.5 / 4 + (2 + 4 + 1 + 0.5) / 10) / 3
    assert base["chance (micro / padded / strict)"] == f"50.0 / {100 * expected:.1f} / 50.0"
    # an older file without chance or per_video: the padded level is never assumed
    synth = row(t2, dataset="synthetic", level="object", method="SSMTL (ours)")
    assert synth["chance (micro / padded / strict)"] == "50.0 / not computed / 50.0"
    assert "chance not computed (padded macro)" in synth["flags"]
    assert synth["seeds"] == "1 seed (seed 0)"
    # the published rows get the chance level of the same test labels
    paper = row(t2, dataset="ped2", level="object", source="SSMTL CVPR 2021 paper")
    assert paper["chance (micro / padded / strict)"].startswith("50.0 / 68.4 / 50.0")
    t3 = table(evidence, "table3")
    ours3 = row(t3, method="SSMTL (ours)")
    assert (ours3["rbdc_ci95"], ours3["tbdc_ci95"]) == (
        "[55.0, 66.0]",
        "[80.0, 90.0] (990 of 1000 draws)",
    )
    summary = (evidence / "summary.md").read_text()
    head = "| ped2 | SSMTL object level | 95.1 | [92.1, 97.5] | 97.2 / 96.2 |"
    assert f"{head} [93.0, 99.0] / [90.0, 95.0] | 50.0 / 68.4 / 50.0 |" in summary
    readme = (evidence / "README.md").read_text()
    assert "**padded macro**" in readme and "**strict macro**" in readme


@pytest.mark.slow
def test_a_result_below_chance_is_flagged(evidence: Path):
    t2 = table(evidence, "table2")
    frame = row(t2, dataset="ped2", level="frame", method="SSMTL (ours)")
    assert "⚠ below chance: padded macro 60.0 < 68.4" in frame["flags"]
    obj = row(t2, dataset="ped2", level="object", method="SSMTL (ours)")
    # no ped2 training summary in the fixture: the profile's epochs are not known, and say so
    assert "below chance" not in obj["flags"] and "not recorded: epochs" in obj["flags"]
    lines = (evidence / "summary.md").read_text().splitlines()
    flagged = [line for line in lines if "⚠ below chance: padded macro 60.0 < 68.4" in line]
    assert len(flagged) == 1 and flagged[0].startswith("| ped2 | SSMTL frame level |")


@pytest.mark.slow
def test_at_chance_proxy_accuracy_is_flagged(metrics: Path, tmp_path: Path):
    ablation_dir = metrics / "ped2" / "ablation" / "shallow_narrow"
    # T1 at the threshold (55% is at chance) and just above it
    # ... and trained with a searched t and lambda instead of the paper's
    searched = {**ablation("sn_T1T3", 0, {"acc_arrow": 0.55}, 0.8, 0.9), "t": 4, "lam": 0.1}
    write(ablation_dir / "sn_T1T3-s0.json", searched)
    write(
        ablation_dir / "sn_T1T2T3-s0.json",
        ablation("sn_T1T2T3", 0, {"acc_arrow": 0.56, "acc_motion": 0.5}, 0.8, 0.9),
    )
    out = tmp_path / "out"
    build_report(metrics, REFERENCE, ABLATION, out)
    t4 = table(out, "table4")
    flags = row(t4, row="sn_T1T3", dataset="ped2")["flags"]
    assert "⚠ T1 at chance: val acc 55.0 <= 55.0" in flags
    assert "t=4, lambda=0.1 (paper: t=3, lambda=0.5)" in flags
    flags = row(t4, row="sn_T1T2T3", dataset="ped2")["flags"]
    assert "T1 at chance" not in flags and "⚠ T2 at chance: val acc 50.0 <= 55.0" in flags
    assert "at chance" not in row(t4, row="dw_all", dataset="ped2")["flags"]


@pytest.mark.slow
def test_smoke_only_row_is_no_result(metrics: Path, tmp_path: Path):
    ablation_dir = metrics / "ped2" / "ablation"
    smoke = {**ablation("dn_all", 0, {"acc_arrow": 0.6}, 0.6123, 0.7456), "profile": {"epochs": 1}}
    write(ablation_dir / "deep_narrow" / "dn_all-s0.json", smoke)
    # 5 epochs but the objects of every 20th training frame: a smoke run too
    strided = {
        **ablation("dn_T1T3", 0, {"acc_arrow": 0.6}, 0.6345, 0.7567),
        "profile": {"epochs": 5, "train_frame_stride": 20},
    }
    write(ablation_dir / "deep_narrow" / "dn_T1T3-s0.json", strided)
    out = tmp_path / "out"
    build_report(metrics, REFERENCE, ABLATION, out)
    t4 = table(out, "table4")
    for name in ("dn_all", "dn_T1T3"):
        got = row(t4, row=name, dataset="ped2")
        assert got["auc_micro_ours"] == got["auc_macro_ours"] == SMOKE_ONLY
        assert got["val_acc_T1_ours"] == SMOKE_ONLY and got["auc_micro_diff"] == "—"
        assert got["seeds"] == "no result; 1 smoke run (seed 0) under Smoke runs"
    assert not any("61.2" in c or "63.5" in c for c in t4.to_numpy().ravel())
    smoke_df = table(out, "smoke")
    assert row(smoke_df, row="dn_all")["auc_micro"] == "61.2"
    assert row(smoke_df, row="dn_T1T3")["why smoke"] == "training frame stride 20 >= 20"
    readme = (out / "README.md").read_text()
    before, after = readme.split("## Smoke runs (pipeline checks, not results)")
    assert "61.2" not in before and "74.6" not in before and "| 61.2 | 74.6 |" in after
    assert row(t4, row="dw_all", dataset="ped2")["auc_macro_ours"] == "98.0 ± 1.4"


@pytest.mark.slow
def test_per_video_table(evidence: Path):
    per_video = table(evidence, "per_video")
    obj = per_video[
        (per_video["dataset"] == "ped2") & (per_video["level"] == "pipeline (object level)")
    ]
    assert list(obj["video"]) == ["01", "02", "03"]
    first = row(obj, video="01")
    assert [
        first[c] for c in ("frames", "abnormal_frames", "auc_strict", "auc_padded", "chance_padded")
    ] == [
        "4",
        "2",
        "75.0",
        "80.0",
        "72.2",
    ]
    assert first["flags"] == "none"
    one_class = row(obj, video="02")
    assert one_class["auc_strict"] == "—" and "one-class video" in one_class["flags"]
    low = row(obj, video="03")
    assert "⚠ below chance: strict 40.0 < 50.0" in low["flags"]
    assert "⚠ below chance: padded 50.0 < 60.0" in low["flags"]
    synth = row(per_video, dataset="synthetic", level="pipeline (object level)")
    assert synth["video"] == "not computed: no per_video in metrics/synthetic/object_level.json"
    assert "### ped2, pipeline (object level)" in (evidence / "README.md").read_text()


SMALL_PARAMS = """
dataset: {name: ped2, root: ../shared/data/ped2}
detection: {detector: yolo, weights: yolov3u.pt, confidence: auto, train_frame_stride: 1}
teachers: {imagenet: resnet50, detector_weights: yolo11n_coco.pt}
tubes: {t: auto}
train: {arch: deep_wide, lam: auto, epochs: 30, batch_size: 0, lr: 0.001}
frame_level: {arch: deep_wide}
scoring: {map_scale: 4}
"""


def deviation(df: pd.DataFrame, param: str, setting: str | None = None) -> pd.Series:
    return row(df, param=param, **({"setting": setting} if setting else {}))


def test_deviations_follow_params(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text(SMALL_PARAMS)
    df = deviations_table(load_params(path))
    assert list(deviation(df, "train.epochs")[["paper", "ours", "deviates", "reason"]]) == [
        "30 (4.2)",
        "30",
        "no",
        "—",
    ]
    assert deviation(df, "detection.detector")["deviates"] == "no"
    assert deviation(df, "teachers.detector_weights")["reason"] == REASONS["teacher_detector"]
    assert list(deviation(df, "tubes.t")[["paper", "ours", "deviates"]]) == [
        "3 (4.2, ped2)",
        "auto (= 3)",
        "no",
    ]
    assert deviation(df, "train.lam")["paper"] == "0.5 (4.2, ped2)"
    batch = deviation(df, "train.batch_size", "batch size (for train.arch)")
    assert (batch["paper"], batch["ours"], batch["deviates"]) == (
        "64 for deep_wide (4.2)",
        "0 (the paper's)",
        "no",
    )
    assert deviation(df, "dataset.root")["ours"] == "JPEG re-encoding (../shared/data/ped2)"
    assert deviation(df, "scoring.map_scale")["deviates"] == "paper silent"
    assert deviation(df, "ablation.epochs")["ours"] == "not set in params.yaml"
    # a changed param changes its row
    path.write_text(
        SMALL_PARAMS.replace("epochs: 30", "epochs: 5")
        .replace("t: auto", "t: 2")
        .replace("detector: yolo, weights: yolov3u.pt", "detector: yolo, weights: yolo11n_coco.pt")
    )
    df = deviations_table(load_params(path))
    assert list(deviation(df, "train.epochs")[["ours", "deviates", "reason"]]) == [
        "5",
        "yes",
        REASONS["epochs"],
    ]
    assert list(deviation(df, "tubes.t")[["ours", "deviates", "reason"]]) == ["2", "yes", NO_REASON]
    detector = deviation(df, "detection.detector")
    assert (detector["deviates"], detector["reason"]) == ("yes", REASONS["detector/yolo"])


@pytest.mark.slow
def test_deviations_in_the_report_files(metrics: Path, tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text(SMALL_PARAMS.replace("epochs: 30", "epochs: 7"))
    out = tmp_path / "out"
    args = ["report", "--metrics", str(metrics), "--reference", str(REFERENCE)]
    args += ["--ablation", str(ABLATION), "--out", str(out), "--params", str(path)]
    assert main(args) == 0
    assert deviation(table(out, "deviations"), "train.epochs")["ours"] == "7"
    assert "## Deviations from the paper" in (out / "README.md").read_text()
    assert "% Deviations from the paper" in (out / "tables" / "tables.tex").read_text()
    for name in ("deviations", "per_video", "smoke", "table2", "table3", "table4", "kinds"):
        cells = table(out, name).to_numpy().ravel()
        assert not any(c.strip() == "" or c.lower() == "nan" for c in cells), name
    path.write_text("- not a mapping\n")
    assert main(args) == 2


def test_below_chance_says_whether_its_interval_holds_chance():
    """A 1-epoch smoke row on 52 frames (synthetic dw_all_frame: 38.9 micro, CI [27.7, 54.6])
    is below chance within noise; an interval wholly below chance is a defect to chase."""
    from bench.report.evidence import auc_flags

    levels = {"auc_micro": 0.5, "auc_macro_strict": 0.5}
    noisy = auc_flags({"auc_micro": 0.389}, levels, {"auc_micro": (0.277, 0.546)})
    assert noisy == [
        "⚠ below chance: micro 38.9 < 50.0, within noise (95% CI [27.7, 54.6] holds chance)"
    ]
    wrong = auc_flags({"auc_micro": 0.30}, levels, {"auc_micro": (0.22, 0.41)})
    assert wrong == [
        "⚠ below chance: micro 30.0 < 50.0, significantly (95% CI [22.0, 41.0]): a defect to chase"
    ]
    assert auc_flags({"auc_micro": 0.45}, levels) == ["⚠ below chance: micro 45.0 < 50.0"]
    assert auc_flags({"auc_micro": 0.55}, levels, {"auc_micro": (0.45, 0.65)}) == [
        "⚠ 95% CI includes chance: micro"
    ]
