"""The report's Ped2 study tables: seed row, convergence, head scale (report/diagnosis.py)."""

import json
from pathlib import Path

from bench.report.diagnosis import convergence_table, headline_run, seeds_table
from bench.report.load import NA, MetricsDir


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def study(root: Path, with_headline_copy: bool = True) -> MetricsDir:
    """Ped2 study metrics: seed 0 evaluated only by score_object, seeds 1 and 2 by convergence."""
    ped2 = root / "ped2"
    train0 = {"best_epoch": 2, "val_joint_loss": 0.6, "val_acc_arrow": 0.95, "train_tubes": 3009}
    write(ped2 / "convergence" / "s10_seed0_train.json", train0)
    if with_headline_copy:
        write(ped2 / "train_object_level.json", train0)
    write(
        ped2 / "object_level.json", {"auc_micro": 0.86, "auc_macro_strict": 0.93, "per_video": {}}
    )
    for seed, auc in ((1, 0.80), (2, 0.83)):
        row = {"epoch": 3, "auc_micro": auc, "auc_macro_strict": 0.9}
        write(ped2 / "convergence" / f"s10_seed{seed}.json", {"best_epoch": 3, "rows": [row]})
    return MetricsDir(root)


def test_the_headline_run_joins_its_seed_set_from_object_level(tmp_path):
    metrics = study(tmp_path)
    run, table = headline_run(metrics, "ped2")
    assert run == "s10_seed0" and table["best_epoch"] == 2
    assert table["rows"][0]["auc_micro"] == 0.86 and "per_video" not in table["rows"][0]
    seeds = seeds_table(metrics)
    assert len(seeds[seeds["dataset"] == "ped2"]) == 1  # the single-seed object row gives way
    row = seeds[seeds["dataset"] == "ped2"].iloc[0]
    assert row.iloc[2] == "s10_seed0, s10_seed1, s10_seed2 (n=3)"
    assert row.iloc[3] == "83.0 ± 3.0"
    conv = convergence_table(metrics)
    assert list(conv["run"]) == ["s10_seed0", "s10_seed1", "s10_seed2"]
    assert list(conv["selected"]) == ["yes", "yes", "yes"]


def test_without_the_headline_copy_no_row_is_invented(tmp_path):
    metrics = study(tmp_path, with_headline_copy=False)
    assert headline_run(metrics, "ped2") is None
    seeds = seeds_table(metrics)
    assert list(seeds[seeds["dataset"] == "ped2"].iloc[:, 2]) == [
        "0 (n=1)",
        "s10_seed1, s10_seed2 (n=2)",
    ]


def test_head_scale_rows_per_run_and_combination(tmp_path):
    from bench.report.diagnosis import head_scale_table

    ci = {"auc_micro": {"low": 0.8, "high": 0.95}}
    rows = {"eq6": {"auc_micro": 0.86, "ci95": ci}, "zscore_validation": {"auc_micro": 0.9}}
    write(tmp_path / "ped2" / "head_scale" / "s10_seed1.json", {"rows": rows})
    table = head_scale_table(MetricsDir(tmp_path))
    assert list(table["combination"]) == ["eq6", "zscore_validation"]
    assert list(table["auc_micro"]) == ["86.0", "90.0"]
    assert list(table["micro 95% CI"])[0] == "[80.0, 95.0]"
    assert head_scale_table(MetricsDir(tmp_path / "none")).empty
    rows = {"eq6": {"auc_micro": 0.80}, "zscore_validation": {"auc_micro": 0.84}}
    write(tmp_path / "ped2" / "head_scale" / "s10_seed2.json", {"rows": rows})
    spread = head_scale_table(MetricsDir(tmp_path)).iloc[-2:]
    assert list(spread["run"]) == ["mean ± std (n=2)"] * 2
    assert list(spread["auc_micro"]) == ["83.0 ± 4.2", "87.0 ± 4.2"]
    before = head_scale_table(MetricsDir(tmp_path))
    frame = tmp_path / "ped2" / "head_scale_frame"
    write(frame / "frame.json", {"rows": {"eq6": {"auc_micro": 0.59}}})
    with_frame = head_scale_table(MetricsDir(tmp_path))
    assert list(with_frame.iloc[-1][["run", "auc_micro"]]) == ["frame level frame", "59.0"]
    # the frame level is its own row, never pooled into the object level's mean ± std
    assert with_frame.iloc[:-1].equals(before)
    write(frame / "frame_seed1.json", {"rows": {"eq6": {"auc_micro": 0.61}}})
    pooled = head_scale_table(MetricsDir(tmp_path)).iloc[-1]
    assert list(pooled[["run", "auc_micro"]]) == ["frame level mean ± std (n=2)", "60.0 ± 1.4"]
    assert list(pooled[["rbdc", "tbdc"]]) == [NA, NA]  # no object regions at frame level
    assert head_scale_table(MetricsDir(tmp_path)).iloc[: len(before)].equals(before)


def test_seeds_stage_rows_are_read_from_their_evaluation(tmp_path):
    synthetic = tmp_path / "synthetic"
    write(synthetic / "object_level.json", {"auc_micro": 0.9})
    write(synthetic / "train_object_level.json", {"config": {"seed": 0}})
    for seed, auc in ((1, 0.8), (2, 0.7)):
        row = {"row": "sn_all", "seed": seed, "eval": {"auc_micro": auc}}
        write(synthetic / "seeds" / f"sn_all-s{seed}.json", row)
    seeds = seeds_table(MetricsDir(tmp_path))
    row = seeds[seeds["dataset"] == "synthetic"].iloc[0]
    assert row.iloc[2] == "0, 1, 2 (n=3)" and row.iloc[3] == "80.0 ± 10.0"


def test_table3_has_the_seed_mean_row_and_its_difference_to_the_published(tmp_path):
    from bench.report.load import load_reference
    from bench.report.tables import SEEDS_METHOD, table3

    reference = Path(__file__).resolve().parents[1] / "experiments" / "reference.csv"
    table = table3(load_reference(reference), study(tmp_path))
    seeds = table[table["method"] == SEEDS_METHOD]
    assert list(seeds["seeds"]) == ["s10_seed0, s10_seed1, s10_seed2 (n=3)"]
    assert seeds["auc_micro"].iloc[0] == "83.0 ± 3.0"
    difference = table[table["method"] == "ours over seeds - published (pp)"]
    assert difference["auc_micro"].iloc[0] == "-14.5"  # 83.0 - 97.5 (the official README)


def test_readme_results_table_has_the_seed_mean_row_below_seed_0(tmp_path):
    from bench.report.summary import summary_table

    table = summary_table(study(tmp_path))
    assert list(table["run"][:2]) == [
        "SSMTL object level",
        "SSMTL object level, mean ± std over seeds",
    ]
    assert table["micro AUC"].iloc[1] == "83.0 ± 3.0"


def test_frame_level_seed_rows_come_from_the_frame_models_at_more_seeds(tmp_path):
    from bench.report.summary import summary_table
    from bench.report.tables import SEEDS_METHOD, table2

    metrics = study(tmp_path)
    ped2 = tmp_path / "ped2"
    write(ped2 / "frame_level.json", {"auc_micro": 0.70, "auc_macro_strict": 0.8})
    write(ped2 / "train_frame_level.json", {"config": {"seed": 0}})
    for seed, auc in ((1, 0.74), (2, 0.78)):  # `ssmtl evaluate` output: flat figures
        write(ped2 / "frame_seeds" / f"frame_level-s{seed}.json", {"auc_micro": auc})
    seeds = seeds_table(metrics)
    frame = seeds[(seeds["dataset"] == "ped2") & (seeds["level"] == "frame")]
    assert list(frame["seeds"]) == ["0, 1, 2 (n=3)"] and frame["auc_micro"].iloc[0] == "74.0 ± 4.0"
    object_rows = seeds[(seeds["dataset"] == "ped2") & (seeds["level"] == "object")]
    assert list(object_rows["seeds"]) == ["s10_seed0, s10_seed1, s10_seed2 (n=3)"]
    table = summary_table(metrics)
    i = list(table["run"]).index("SSMTL frame level")
    assert table["run"].iloc[i + 1] == "SSMTL frame level, mean ± std over seeds"
    assert table["micro AUC"].iloc[i + 1] == "74.0 ± 4.0"
    from bench.report.load import load_reference

    reference = Path(__file__).resolve().parents[1] / "experiments" / "reference.csv"
    t2 = table2(load_reference(reference), metrics)
    rows = t2[(t2["method"] == SEEDS_METHOD) & (t2["dataset"] == "ped2")]
    assert sorted(rows["level"]) == ["frame", "object"]


def test_a_level_at_one_seed_gets_no_mean_over_seeds_row_in_any_table(tmp_path):
    """Table 2, Table 3 and the README summary give "mean ± std over seeds" rows only to levels
    trained at two seeds or more; the seeds table still lists the single seed with its note."""
    from bench.report.load import load_reference
    from bench.report.summary import summary_table
    from bench.report.tables import SEEDS_METHOD, table2, table3

    metrics = study(tmp_path, with_headline_copy=False)
    write(tmp_path / "ped2" / "frame_level.json", {"auc_micro": 0.70})
    write(tmp_path / "ped2" / "train_frame_level.json", {"config": {"seed": 0}})
    csv = Path(__file__).resolve().parents[1] / "experiments" / "reference.csv"
    reference = load_reference(csv)
    t2 = table2(reference, metrics)
    rows = t2[(t2["method"] == SEEDS_METHOD) & (t2["dataset"] == "ped2")]
    assert list(rows["seeds"]) == ["s10_seed1, s10_seed2 (n=2)"]  # not "0 (n=1)" twice
    t3 = table3(reference, metrics)
    assert list(t3[t3["method"] == SEEDS_METHOD]["seeds"]) == ["s10_seed1, s10_seed2 (n=2)"]
    runs = list(summary_table(metrics)["run"])
    assert "SSMTL frame level, mean ± std over seeds" not in runs
    assert runs.count("SSMTL object level, mean ± std over seeds") == 1
    seeds = seeds_table(metrics)
    frame = seeds[(seeds["dataset"] == "ped2") & (seeds["level"] == "frame")]
    assert list(frame.iloc[:, 2]) == ["0 (n=1)"] and "only 1 seed" in frame["note"].iloc[0]


def test_gpu_runs_name_their_device_and_level_and_pool_their_seeds(tmp_path):
    """Runs of experiments/ped2_gpu: the convergence table names the device each trained on and
    the level; the seeds table pools sn_gpu_seed0..2 like the CPU study's seeds."""
    ped2 = tmp_path / "ped2" / "convergence"
    for seed, auc in ((0, 0.90), (1, 0.92), (2, 0.94)):
        config = {"level": "object", "device": "cuda", "autocast": "bf16"}
        train = {"train_tubes": 25510, "device": "NVIDIA H200", "config": config}
        write(ped2 / f"sn_gpu_seed{seed}_train.json", train)
        row = {"epoch": 30, "auc_micro": auc, "auc_macro_strict": 0.95}
        write(ped2 / f"sn_gpu_seed{seed}.json", {"best_epoch": 30, "rows": [row]})
    config = {"level": "frame", "device": "cuda"}
    write(ped2 / "frame_gpu_train.json", {"device": "NVIDIA H200", "config": config})
    write(ped2 / "frame_gpu.json", {"best_epoch": 5, "rows": [{"epoch": 5, "auc_micro": 0.7}]})
    metrics = MetricsDir(tmp_path)
    conv = convergence_table(metrics)
    assert list(conv["device"]) == ["cuda (NVIDIA H200)"] * 4
    assert list(conv["level"]) == ["frame", "object", "object", "object"]
    assert list(conv["precision"]) == [NA, "bf16", "bf16", "bf16"]  # frame_gpu: not recorded
    seeds = seeds_table(metrics)
    row = seeds[seeds.iloc[:, 2].str.startswith("sn_gpu_seed0")].iloc[0]
    assert row.iloc[3] == "92.0 ± 2.0"


def test_gpu_model_table_reads_the_bench_rows(tmp_path):
    from bench.report.performance import gpu_model_table

    assert gpu_model_table(MetricsDir(tmp_path)).empty
    rows = [
        {"arch": "deep_wide", "device": "cuda", "device_name": "NVIDIA H200", "batch_size": 64,
         "precision": "bf16", "channels_last": True, "compile": False,
         "train_samples_per_s": 5123.4, "score_objects_per_s": 20012.0},
    ]  # fmt: skip
    write(tmp_path / "gpu" / "bench_model.json", rows)
    table = gpu_model_table(MetricsDir(tmp_path))
    assert list(table.iloc[0]) == [
        "deep_wide", "NVIDIA H200", 64, "bf16", "on", "off", "5,123", "20,012",
    ]  # fmt: skip


def test_a_suspects_seed_set_stays_out_of_the_headline_tables(tmp_path):
    """A second seed set (the batch-size suspect s10b256_seed*) is in the seeds table but not
    in Tables 2-3 or the summary: those show the set that holds the headline run."""
    from bench.report.diagnosis import headline_seed_rows, seed_rows

    metrics = study(tmp_path)
    for seed in (0, 1, 2):
        row = {"epoch": 3, "auc_micro": 0.5 + seed / 10, "auc_macro_strict": 0.9}
        write(tmp_path / "ped2" / "convergence" / f"s10b256_seed{seed}.json",
              {"best_epoch": 3, "rows": [row]})  # fmt: skip
    sets = [r["seeds"] for r in seed_rows(metrics) if r["dataset"] == "ped2"]
    assert any(s.startswith("s10b256_seed0") for s in sets)
    shown = [r["seeds"] for r in headline_seed_rows(metrics) if r["dataset"] == "ped2"]
    assert shown == ["s10_seed0, s10_seed1, s10_seed2 (n=3)"]


def test_table2_shows_the_frame_level_deviation_beside_the_published_levels(tmp_path):
    from bench.report.load import load_reference
    from bench.report.tables import DEVIATION_METHOD, table2

    metrics = study(tmp_path)
    reference = load_reference(
        Path(__file__).resolve().parents[1] / "experiments" / "reference.csv"
    )
    assert DEVIATION_METHOD not in set(table2(reference, metrics)["method"])
    ped2 = tmp_path / "ped2"
    write(ped2 / "train_frame_level.json", {"config": {"seed": 0, "epochs": 6}})
    result = {"auc_micro": 0.87, "auc_macro_strict": 0.95, "per_video": {}}
    write(ped2 / "deviation" / "frame_level.json", result)
    table = table2(reference, metrics)
    rows = table[table["method"] == DEVIATION_METHOD]
    assert list(rows["level"]) == ["frame"] and list(rows["auc_micro"]) == ["87.0"]
    assert "optimistic" in rows["note"].iloc[0]  # chosen on the test set, and it says so


def test_the_readme_summary_lists_the_deviation_once_without_seed_rows_of_its_own(tmp_path):
    from bench.report.summary import summary_table

    metrics = study(tmp_path)
    ped2 = tmp_path / "ped2"
    write(ped2 / "train_frame_level.json", {"config": {"seed": 0, "epochs": 6}})
    write(ped2 / "frame_level.json", {"auc_micro": 0.62, "per_video": {}})
    for seed in (1, 2):
        write(ped2 / "frame_seeds" / f"frame_level-s{seed}.json", {"auc_micro": 0.6})
    before = summary_table(metrics)
    write(ped2 / "deviation" / "frame_level.json", {"auc_micro": 0.87, "per_video": {}})
    after = summary_table(metrics)
    added = after.iloc[len(before) :]
    assert len(added) == 1 and added["micro AUC"].iloc[0] == "87.0"
    assert "chosen on test" in added["run"].iloc[0]
