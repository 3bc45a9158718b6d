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
        "profile": {"epochs": 2},
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
                "epochs": 2,
                "t": 3,
                "lam": 0.5,
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
    assert ours["source"] == "ours (shallow_narrow, T1+T3, 2 epochs, t=3, lambda=0.5)"
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
    tex = (report[0] / "tables" / "tables.tex").read_text()
    assert "shallow\\_narrow" in tex and not re.search(r"(?<!\\)_", tex)
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
