"""The paper's Table 4 (the ablation: architectures x proxy tasks, validation accuracy/MAE and
AUC), mean ± std over seeds next to the published numbers; and the table of AUC per anomaly
kind of the synthetic scenes (our single-task experiment, which the paper has no table for)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bench.data.synth import AIMED_TASK, KIND_NAMES
from bench.report.load import (
    DATASETS,
    NA,
    MetricsDir,
    is_number,
    number,
    published_cell,
    select,
    tasks_label,
)

if TYPE_CHECKING:
    from bench.suite.ablation import Row


@dataclass(frozen=True)
class Metric:
    """One column group of Table 4: where our value is, how the reference names it."""

    name: str
    section: str  # "val" or "eval" in an ablation file
    key: str
    scale: float
    decimals: int
    task: str | None  # the proxy task it needs, None for AUCs
    ref_metric: str
    ref_averaging: str


T4_METRICS = (
    Metric("val_acc_T1", "val", "acc_arrow", 100.0, 1, "T1", "val_acc_T1", ""),
    Metric("val_acc_T2", "val", "acc_motion", 100.0, 1, "T2", "val_acc_T2", ""),
    Metric("val_mae_T3", "val", "mae_middle", 1.0, 4, "T3", "val_mae_T3", ""),
    Metric("val_mae_T4", "val", "mae_distill", 1.0, 4, "T4", "val_mae_T4", ""),
    Metric("auc_micro", "eval", "auc_micro", 100.0, 1, None, "frame_auc", "micro"),
    Metric("auc_macro", "eval", "auc_macro", 100.0, 1, None, "frame_auc", "macro"),
)
T4_COLUMNS = [
    "row",
    "dataset",
    "arch",
    "tasks",
    "level",
    "seeds",
    *[f"{m.name}_{k}" for m in T4_METRICS for k in ("ours", "published", "diff")],
    "published_source",
]


@dataclass(frozen=True)
class Stat:
    """A metric over seeds: mean, sample standard deviation, seed count."""

    mean: float
    std: float
    n: int

    def format(self, decimals: int) -> str:
        if self.n == 1:
            return f"{self.mean:.{decimals}f}"
        return f"{self.mean:.{decimals}f} ± {self.std:.{decimals}f}"


def summarize(values: Sequence[float]) -> Stat:
    """Mean and sample standard deviation (0 for one value)."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Stat(statistics.fmean(values), std, len(values))


def ablation_stats(records: list[dict[str, Any]]) -> dict[str, Stat]:
    """Per Table 4 metric, the mean and std over seeds (in the table's units)."""
    stats = {}
    for metric in T4_METRICS:
        values = [number(r.get(metric.section), metric.key, r["label"]) for r in records]
        present = [metric.scale * v for v in values if v is not None]
        if present:
            stats[metric.name] = summarize(present)
    return stats


def t4_published(ref: pd.DataFrame, dataset: str, spec: Row, metric: Metric) -> pd.DataFrame:
    """Table 4's row, or the README's where Table 4 has no readable number; rows with a value
    first."""
    keys = dict(
        dataset=dataset,
        arch=spec.arch,
        tasks="+".join(spec.tasks),
        level=spec.level,
        metric=metric.ref_metric,
        averaging=metric.ref_averaging,
    )
    rows = select(ref, **keys)
    rows = rows[rows["table"].isin(["4", "readme"])]
    order = np.lexsort(((rows["table"] != "4").to_numpy(), (rows["value"] == "").to_numpy()))
    return rows.iloc[order]


def t4_cells(
    ref: pd.DataFrame, dataset: str, spec: Row, stats: dict[str, Stat], ran: bool, label: str
) -> tuple[list[str], set[str]]:
    """Ours, published and the difference for every metric of a row; the published sources."""
    cells, sources = [], set()
    for metric in T4_METRICS:
        if metric.task and metric.task not in spec.tasks:
            cells += [NA, NA, NA]
            continue
        rows = t4_published(ref, dataset, spec, metric)
        sources |= set(rows["source"].iloc[:1])
        pub = published_cell(rows)
        stat = stats.get(metric.name)
        if stat:
            ours = stat.format(metric.decimals)
        elif ran:
            ours = f"not computed: no {metric.section}.{metric.key} in {label}"
        else:
            ours = "not run (see seeds)"
        diff = f"{stat.mean - float(pub):+.{metric.decimals}f}" if stat and is_number(pub) else NA
        cells += [ours, pub, diff]
    return cells, sources


def t4_datasets(ref: pd.DataFrame, metrics: MetricsDir) -> list[str]:
    """The datasets Table 4 has numbers for, and those we ran the ablation on."""
    published = set(select(ref, table="4")["dataset"])
    return [d for d in DATASETS if d in published or (metrics.root / d / "ablation").is_dir()]


def seeds_cell(metrics: MetricsDir, dataset: str, records: list[dict[str, Any]], label: str) -> str:
    """How many seeds (and which), or why there are none."""
    if records:
        return f"{len(records)} (seeds {', '.join(str(r['seed']) for r in records)})"
    return f"not run: no {label}" if metrics.ran(dataset) else metrics.not_run(dataset)


def table4(
    ref: pd.DataFrame, metrics: MetricsDir, specs: Mapping[str, Row]
) -> tuple[pd.DataFrame, dict[str, dict[str, dict[str, Stat]]]]:
    """Table 4: every ablation row x dataset; also returns the statistics (dataset -> row ->
    metric)."""
    rows, all_stats = [], {}
    for dataset in t4_datasets(ref, metrics):
        found = metrics.ablation(dataset, specs) if metrics.ran(dataset) else {}
        all_stats[dataset] = {row: ablation_stats(found[row]) for row in specs if row in found}
        for row, spec in specs.items():
            records = found.get(row, [])
            label = metrics.label(dataset, "ablation", "**", f"{row}-s*.json")
            seeds = seeds_cell(metrics, dataset, records, label)
            stats = all_stats[dataset].get(row, {})
            cells, sources = t4_cells(ref, dataset, spec, stats, bool(records), label)
            source = "; ".join(sorted(sources)) or NA
            tasks = "+".join(spec.tasks)
            rows.append([row, dataset, spec.arch, tasks, spec.level, seeds, *cells, source])
    return pd.DataFrame(rows, columns=T4_COLUMNS), all_stats


# --- AUC per anomaly kind (synthetic scenes) ---------------------------------------------------

KIND_FOLDERS = {
    "object_level.json": "pipeline (object level)",
    "ablation": "Table 4 sweep",
    "single_task": "single-task experiment",
}
KINDS_COLUMNS = [
    "dataset",
    "source",
    "row",
    "tasks",
    "profile",
    "auc_micro",
    "auc_macro",
    *[f"auc_{k}" for k in KIND_NAMES],
    "aimed_kind",
]


def profile_text(profile: Mapping[str, Any] | None) -> str:
    """The profile of an ablation result: its epochs and frame strides."""
    keys = ("epochs", "train_frame_stride", "test_frame_stride")
    text = ", ".join(f"{k}={profile[k]}" for k in keys if profile and k in profile)
    return text or "not recorded"


def kind_cells(by_kind: Mapping[str, Any]) -> list[str]:
    """The AUC of each anomaly kind in percent, or why there is none."""
    return [
        f"{100 * by_kind[k]:.1f}" if by_kind.get(k) is not None else "no such frames"
        for k in KIND_NAMES
    ]


def aimed_verdict(
    row_tasks: Sequence[str], by_kind: Mapping[str, Any], peers: list[Mapping[str, Any]]
) -> str:
    """For a single-task row: is it the best single-task row on the kind aimed at its task?"""
    if len(row_tasks) != 1:
        return NA
    kind = next(k for k, task in AIMED_TASK.items() if task == row_tasks[0])
    ours = by_kind.get(kind)
    others = [p.get(kind) for p in peers]
    if ours is None or any(v is None for v in others):
        return f"{kind}: not computed"
    best = ours >= max(others, default=ours)
    return f"{kind}: {'best' if best else 'not best'} of the single-task rows"


def pipeline_kinds(metrics: MetricsDir, dataset: str) -> list[list[str]]:
    """The pipeline model's row of the kinds table, if its evaluation has AUC per kind."""
    pipeline = metrics.load(dataset, "object_level.json")
    if not (pipeline.data and pipeline.data.get("auc_by_kind")):
        return []
    train = metrics.load(dataset, "train_object_level.json")
    config = (train.data or {}).get("config") or {}
    tasks = tasks_label(config.get("tasks", [])) or "not recorded"
    aucs = [pipeline.pct("auc_micro"), pipeline.pct("auc_macro")]
    profile = f"epochs={config.get('epochs', '?')}"
    source = KIND_FOLDERS["object_level.json"]
    by_kind = kind_cells(pipeline.data["auc_by_kind"])
    return [[dataset, source, "pipeline", tasks, profile, *aucs, *by_kind, NA]]


def ablation_kinds(
    metrics: MetricsDir, dataset: str, specs: Mapping[str, Row], folder: str
) -> list[list[str]]:
    """The rows of an ablation folder (lowest seed of each) whose evaluation has AUC per kind."""
    found = metrics.ablation(dataset, specs, folder) if metrics.ran(dataset) else {}
    records = {
        row: found[row][0]
        for row in specs
        if row in found and found[row][0]["eval"].get("auc_by_kind")
    }
    single = [r["eval"]["auc_by_kind"] for r in records.values() if len(r["tasks"]) == 1]
    rows = []
    for row, record in records.items():
        by_kind, tasks = record["eval"]["auc_by_kind"], record["tasks"]
        peers = [k for k in single if k is not by_kind]
        aucs = [f"{100 * record['eval'][k]:.1f}" for k in ("auc_micro", "auc_macro")]
        profile = profile_text(record.get("profile"))
        rows.append(
            [
                dataset,
                KIND_FOLDERS[folder],
                row,
                "+".join(tasks),
                profile,
                *aucs,
                *kind_cells(by_kind),
                aimed_verdict(tasks, by_kind, peers),
            ]
        )
    return rows


def kinds_table(metrics: MetricsDir, specs: Mapping[str, Row]) -> pd.DataFrame:
    """AUC per anomaly kind (synthetic scenes, each kind against all normal frames) of the
    pipeline's model and of every ablation and single-task row, with the verdict the issue asks
    for: is each single-task row best on the kind aimed at its task (:data:`AIMED_TASK`)?
    With several seeds a row shows its lowest seed."""
    rows = []
    for dataset in DATASETS:
        rows += pipeline_kinds(metrics, dataset)
        for folder in ("ablation", "single_task"):
            rows += ablation_kinds(metrics, dataset, specs, folder)
    return pd.DataFrame(rows, columns=KINDS_COLUMNS)
