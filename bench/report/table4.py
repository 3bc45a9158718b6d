"""The paper's Table 4 (the ablation: architectures x proxy tasks, validation accuracy/MAE and
AUC), mean ± std over seeds next to the published numbers, each AUC with its chance level and
95% interval, and flags: a proxy task at chance, an AUC below chance, a reduced profile. Smoke
runs (:mod:`bench.report.evidence`) are no results: a row with only smoke runs says so, and
their numbers go to the smoke section."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bench.paper import dataset_settings
from bench.report.evidence import (
    CHANCE_COLUMN,
    SMOKE_ONLY,
    Profile,
    accuracy_flags,
    auc_flags,
    chance_cell,
    chance_levels,
    hull_cell,
    interval,
    joined,
    smoke_row,
    unchecked,
)
from bench.report.load import (
    DATASETS,
    NA,
    MetricsDir,
    is_number,
    number,
    published_cell,
    select,
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
    # The paper publishes no strict macro AUC: its published cell reads so.
    Metric("auc_macro_strict", "eval", "auc_macro_strict", 100.0, 1, None, "frame_auc", "strict"),
)
AUC_METRICS = ("auc_micro", "auc_macro", "auc_macro_strict")
T4_COLUMNS = [
    "row",
    "dataset",
    "arch",
    "tasks",
    "level",
    "seeds",
    *[f"{m.name}_{k}" for m in T4_METRICS for k in ("ours", "published", "diff")],
    *[f"{k}_ci95" for k in AUC_METRICS],
    CHANCE_COLUMN,
    "flags",
    "published_source",
]
#: Table 4 is wide: the page shows it in two parts, the proxy tasks and the AUC.
T4_KEY_COLUMNS = ["row", "arch", "tasks", "level", "seeds"]
T4_PROXY_COLUMNS = [
    *T4_KEY_COLUMNS,
    *[f"{m.name}_{k}" for m in T4_METRICS if m.task for k in ("ours", "published", "diff")],
    "flags",
]
T4_AUC_COLUMNS = [
    *T4_KEY_COLUMNS,
    *[f"{k}_{c}" for k in AUC_METRICS for c in ("ours", "ci95", "published", "diff")],
    CHANCE_COLUMN,
    "flags",
    "published_source",
]
SWEEP_SOURCE = "Table 4 sweep"


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
    ref: pd.DataFrame,
    dataset: str,
    spec: Row,
    stats: dict[str, Stat],
    ran: bool | str,
    label: str,
) -> tuple[list[str], set[str]]:
    """Ours, published and the difference for every metric of a row; the published sources.
    ``ran``: whether the row has results, or :data:`SMOKE_ONLY` when its only runs are smoke
    runs."""
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
        elif ran == SMOKE_ONLY:
            ours = SMOKE_ONLY
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


def seeds_cell(
    metrics: MetricsDir,
    dataset: str,
    records: list[dict[str, Any]],
    smokes: list[dict[str, Any]],
    label: str,
) -> str:
    """How many seeds (and which), the smoke runs kept apart, or why there are none."""
    if records:
        cell = f"{len(records)} (seeds {', '.join(str(r['seed']) for r in records)})"
    elif smokes:
        cell = "no result"
    else:
        return f"not run: no {label}" if metrics.ran(dataset) else metrics.not_run(dataset)
    if smokes:
        seeds = ", ".join(str(r["seed"]) for r in smokes)
        runs = "smoke run" if len(smokes) == 1 else "smoke runs"
        cell += f"; {len(smokes)} {runs} (seed {seeds}) under Smoke runs"
    return cell


def is_smoke(record: dict[str, Any]) -> bool:
    return Profile.of(record.get("profile")).smoke


def evidence_cells(records: list[dict[str, Any]], stats: dict[str, Stat]) -> list[str]:
    """The 95% intervals (one seed: its own; several: the hull) and the chance level."""
    evals = [r.get("eval") for r in records]
    label = records[0]["label"].rsplit("-s", 1)[0] + "-s*.json"
    cis = [hull_cell(evals, k, label) if k in stats else NA for k in AUC_METRICS]
    chances = {chance_cell(chance_levels(r.get("eval"), r["label"]), r["label"]) for r in records}
    return [*cis, " | ".join(sorted(chances))]


def row_flags(
    dataset: str, spec: Row, records: list[dict[str, Any]], stats: dict[str, Stat]
) -> str:
    """A proxy task at chance, an AUC below chance (or its interval holding chance), the
    profile's reductions; on the seeds' mean."""
    accs = {
        t: stats[name].mean / 100 if name in stats else None
        for t, name in (("T1", "val_acc_T1"), ("T2", "val_acc_T2"))
        if t in spec.tasks
    }
    first = records[0]
    levels = chance_levels(first.get("eval"), first["label"])
    values = {k: stats[k].mean / 100 if k in stats else None for k in AUC_METRICS}
    intervals = {}
    if len(records) == 1:
        intervals = {k: interval(first.get("eval"), k, first["label"]) for k in AUC_METRICS}
    flags = accuracy_flags(accs) + auc_flags(values, levels, intervals) + unchecked(levels)
    profiles = [Profile.of(r.get("profile")).flags() for r in records]
    flags += list(dict.fromkeys(f for p in profiles for f in p))
    return joined(flags + hyperparameter_flags(dataset, records))


def hyperparameter_flags(dataset: str, records: list[dict[str, Any]]) -> list[str]:
    """t and lambda of the runs when they are not the paper's for the dataset (section 4.2; a
    sweep may take our search's best instead)."""
    paper = dataset_settings(dataset)
    used = {(r.get("t"), r.get("lam")) for r in records}
    return [
        f"t={t}, lambda={lam} (paper: t={paper['t']}, lambda={paper['lam']})"
        for t, lam in sorted(used, key=str)
        if (t, lam) != (paper["t"], paper["lam"]) and t is not None and lam is not None
    ]


def table4(
    ref: pd.DataFrame, metrics: MetricsDir, specs: Mapping[str, Row]
) -> tuple[pd.DataFrame, dict[str, dict[str, dict[str, Stat]]], list[list[str]]]:
    """Table 4: every ablation row x dataset; also returns the statistics of the results
    (dataset -> row -> metric; smoke runs left out) and the smoke section's rows."""
    rows, all_stats, smoke = [], {}, []
    for dataset in t4_datasets(ref, metrics):
        found = metrics.ablation(dataset, specs) if metrics.ran(dataset) else {}
        all_stats[dataset] = {}
        for row, spec in specs.items():
            records = [r for r in found.get(row, []) if not is_smoke(r)]
            smokes = [r for r in found.get(row, []) if is_smoke(r)]
            smoke += [
                smoke_row(
                    dataset,
                    SWEEP_SOURCE,
                    row,
                    r["seed"],
                    Profile.of(r.get("profile")),
                    r.get("eval"),
                    r.get("val"),
                    r["label"],
                )
                for r in smokes
            ]
            label = metrics.label(dataset, "ablation", "**", f"{row}-s*.json")
            seeds = seeds_cell(metrics, dataset, records, smokes, label)
            stats = ablation_stats(records) if records else {}
            if stats:
                all_stats[dataset][row] = stats
            ran = bool(records) or (SMOKE_ONLY if smokes else False)
            cells, sources = t4_cells(ref, dataset, spec, stats, ran, label)
            if records:
                extra = [*evidence_cells(records, stats), row_flags(dataset, spec, records, stats)]
            elif smokes:
                why = ", ".join(Profile.of(smokes[0].get("profile")).smoke_why())
                extra = [NA] * 4 + [f"{SMOKE_ONLY}: {why}; its numbers are under Smoke runs"]
            else:
                extra = [NA] * 4 + ["not run"]
            source = "; ".join(sorted(sources)) or NA
            tasks = "+".join(spec.tasks)
            head = [row, dataset, spec.arch, tasks, spec.level, seeds]
            rows.append([*head, *cells, *extra, source])
    return pd.DataFrame(rows, columns=T4_COLUMNS), all_stats, smoke
