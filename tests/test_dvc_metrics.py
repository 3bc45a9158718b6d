"""What DVC compares: every file under ``metrics:`` holds numbers only, few enough that
``dvc exp show --only-changed`` fits a screen (issue 18)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from bench.report.dvc_metrics import is_number, leaves, summarize

REPO = Path(__file__).resolve().parents[1]
DVC_FILES = [REPO / "dvc.yaml", *sorted((REPO / "experiments").glob("*/dvc.yaml"))]
MAX_LEAVES = 30  # plus the changed params and deps: ~40 columns after a one-knob `dvc exp run`


def declared(dvc_file: Path, section: str) -> list[tuple[str, str]]:
    """(stage, cmd) of every stage of ``dvc_file`` with a ``section`` (metrics, outs) entry."""
    found = []
    for name, stage in yaml.safe_load(dvc_file.read_text())["stages"].items():
        body = stage.get("do", stage)  # foreach stages keep their definition under `do`
        if body.get(section):
            found.append((name, body["cmd"]))
    return found


def test_only_the_summary_stage_declares_metrics():
    for dvc_file in DVC_FILES:
        for name, cmd in declared(dvc_file, "metrics"):
            assert cmd.startswith("ssmtl summary "), f"{dvc_file}: stage {name} declares metrics"


def default_pipeline_folder(tmp_path: Path) -> Path:
    """metrics/synthetic with every part the default pipeline writes (the committed folder lacks
    the object-level training and the seeds: copied from their siblings)."""
    folder = tmp_path / "synthetic"
    shutil.copytree(REPO / "metrics" / "synthetic", folder)
    if not (folder / "train_object_level.json").exists():
        shutil.copy(folder / "train_frame_level.json", folder / "train_object_level.json")
    row = folder / "ablation" / "shallow_narrow" / "sn_all-s0.json"
    (folder / "seeds").mkdir(exist_ok=True)
    for seed in (1, 2, 3):
        shutil.copy(row, folder / "seeds" / f"sn_all-s{seed}.json")
    return folder


def test_the_default_pipeline_summary_is_a_few_numbers(tmp_path: Path):
    summary = summarize(default_pipeline_folder(tmp_path))
    found = leaves(summary)
    assert all(is_number(value) for value in found.values()), found
    assert len(found) <= MAX_LEAVES, sorted(found)
    # the parts a reader compares are all there
    for key in ("object_level.auc_micro", "train.object_level.best_epoch", "search.value"):
        assert key in found
    assert {"ablation.auc_micro_mean", "seeds.auc_micro_std", "single_task.sn_T1.auc_micro"} <= set(
        found
    )
    assert not any("seconds" in key or "per_s" in key for key in found)  # timings stay out


def test_committed_summaries_are_what_the_writer_writes():
    for folder in (REPO / "metrics").iterdir():
        committed = folder / "summary.json"
        if committed.exists():
            data = json.loads(committed.read_text())
            assert data == summarize(folder), f"{committed} is stale: ssmtl summary rewrites it"
            assert all(is_number(v) for v in leaves(data).values())


def test_missing_files_leave_their_part_out(tmp_path: Path):
    (tmp_path / "object_level.json").write_text(
        json.dumps({"auc_micro": 0.9, "rbdc": float("nan"), "per_video": {"01": {"auc": 1.0}}})
    )
    assert summarize(tmp_path) == {"object_level": {"auc_micro": 0.9}}


def test_plot_data_paths_point_into_metrics_from_their_dvc_file():
    """Top-level ``plots:`` paths are relative to the folder of their dvc.yaml, not to a stage's
    ``wdir``: a path that leaves metrics/ is a plot ``dvc plots show`` cannot load."""
    for dvc_file in DVC_FILES:
        for plot in yaml.safe_load(dvc_file.read_text()).get("plots", []):
            ((name, spec),) = plot.items()
            ys = spec.get("y", {})
            for path in ys if isinstance(ys, dict) else [name]:
                resolved = (dvc_file.parent / path.replace("${dataset.name}", "d")).resolve()
                assert resolved.is_relative_to(REPO / "metrics"), f"{dvc_file}: plot {name}: {path}"
