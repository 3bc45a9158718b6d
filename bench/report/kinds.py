"""The AUC per anomaly kind of the synthetic scenes: our single-task experiment, which the paper
has no table for. Each kind is aimed at one proxy task (section 3.3: wrong direction at T1,
irregular motion at T2, unusual appearance at T3, novel object at T4); does the single-task row
of that task win its kind? Each row comes with its seed, profile, 95% intervals, chance level and
flags (:mod:`bench.report.evidence`); smoke runs are left to the smoke section."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from bench.data.synth import AIMED_TASK, KIND_NAMES
from bench.report.evidence import (
    BELOW_CHANCE,
    CHANCE_COLUMN,
    Profile,
    auc_flags,
    chance_cell,
    chance_levels,
    ci_cell,
    interval,
    joined,
    pct,
    seeds_text,
    smoke_row,
    unchecked,
)
from bench.report.levels import load_level
from bench.report.load import DATASETS, NA, MetricsDir, number, tasks_label

if TYPE_CHECKING:
    from bench.suite.ablation import Row

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
    "seeds",
    "profile",
    "auc_micro",
    "auc_micro_ci95",
    "auc_macro",
    "auc_macro_ci95",
    *[f"auc_{k}" for k in KIND_NAMES],
    CHANCE_COLUMN,
    "aimed_kind",
    "flags",
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


def evidence(
    evaluation: Mapping[str, Any], profile: Profile, where: str
) -> tuple[list[str], str, str]:
    """The AUCs with their intervals, the chance cell and the flags of one evaluation. A kind's
    AUC pools its frames against all normal frames, so its chance level is the micro one."""
    aucs = []
    for key in ("auc_micro", "auc_macro"):
        value = number(evaluation, key, where)
        cell = pct(value) if value is not None else f"not computed: no {key} in {where}"
        aucs += [cell, ci_cell(evaluation, key, where)]
    levels = chance_levels(evaluation, where)
    keys = ("auc_micro", "auc_macro", "auc_macro_strict")
    values = {k: number(evaluation, k, where) for k in keys}
    flags = auc_flags(values, levels, {k: interval(evaluation, k, where) for k in keys})
    micro = levels["auc_micro"]
    for kind, value in (evaluation.get("auc_by_kind") or {}).items():
        if value is not None and isinstance(micro, float) and value < micro:
            flags.append(f"{BELOW_CHANCE}: {kind} {pct(value)} < {pct(micro)}")
    flags += unchecked(levels) + profile.flags()
    return aucs, chance_cell(levels, where), joined(flags)


def pipeline_kinds(metrics: MetricsDir, dataset: str) -> list[list[str]]:
    """The pipeline model's row of the kinds table, if its evaluation has AUC per kind and is
    no smoke run (those are in the smoke section)."""
    level = load_level(metrics, dataset, "object_level.json")
    data = level.result.data
    if not (data and data.get("auc_by_kind")) or level.smoke:
        return []
    train = metrics.load(dataset, "train_object_level.json")
    config = (train.data or {}).get("config") or {}
    tasks = tasks_label(config.get("tasks", [])) or "not recorded"
    profile = f"epochs={config.get('epochs', '?')}"
    aucs, chance, flags = evidence(data, level.profile, level.result.label)
    by_kind = kind_cells(data["auc_by_kind"])
    source = KIND_FOLDERS["object_level.json"]
    head = [dataset, source, "pipeline", tasks, level.seeds, profile]
    return [[*head, *aucs, *by_kind, chance, NA, flags]]


def ablation_kinds(
    metrics: MetricsDir, dataset: str, specs: Mapping[str, Row], folder: str
) -> tuple[list[list[str]], list[list[str]]]:
    """The rows of an ablation folder whose evaluation has AUC per kind (the lowest seed that is
    no smoke run), and the smoke section's rows of the single-task folder (the Table 4 sweep's
    are listed by Table 4)."""
    found = metrics.ablation(dataset, specs, folder) if metrics.ran(dataset) else {}
    records, smoke = {}, []
    for row in specs:
        kept = [r for r in found.get(row, []) if r["eval"].get("auc_by_kind")]
        results = [r for r in kept if not Profile.of(r.get("profile")).smoke]
        if results:
            records[row] = (results[0], len(results))
        if folder == "single_task":
            smoke += [
                smoke_row(
                    dataset,
                    KIND_FOLDERS[folder],
                    row,
                    r["seed"],
                    Profile.of(r.get("profile")),
                    r["eval"],
                    r.get("val"),
                    r["label"],
                )
                for r in found.get(row, [])
                if Profile.of(r.get("profile")).smoke
            ]
    single = [r["eval"]["auc_by_kind"] for r, _ in records.values() if len(r["tasks"]) == 1]
    rows = []
    for row, (record, seeds) in records.items():
        by_kind, tasks = record["eval"]["auc_by_kind"], record["tasks"]
        peers = [k for k in single if k is not by_kind]
        profile = Profile.of(record.get("profile"))
        aucs, chance, flags = evidence(record["eval"], profile, record["label"])
        seed = seeds_text([record["seed"]]) + (f", the lowest of {seeds}" if seeds > 1 else "")
        head = [dataset, KIND_FOLDERS[folder], row, "+".join(tasks), seed]
        rows.append(
            [
                *head,
                profile_text(record.get("profile")),
                *aucs,
                *kind_cells(by_kind),
                chance,
                aimed_verdict(tasks, by_kind, peers),
                flags,
            ]
        )
    return rows, smoke


def kinds_table(
    metrics: MetricsDir, specs: Mapping[str, Row]
) -> tuple[pd.DataFrame, list[list[str]]]:
    """AUC per anomaly kind (synthetic scenes, each kind against all normal frames) of the
    pipeline's model and of every ablation and single-task row, with the verdict the issue asks
    for: is each single-task row best on the kind aimed at its task (:data:`AIMED_TASK`)?
    With several seeds a row shows its lowest seed. Also returns the smoke section's rows."""
    rows, smoke = [], []
    for dataset in DATASETS:
        rows += pipeline_kinds(metrics, dataset)
        for folder in ("ablation", "single_task"):
            found, smoked = ablation_kinds(metrics, dataset, specs, folder)
            rows += found
            smoke += smoked
    return pd.DataFrame(rows, columns=KINDS_COLUMNS), smoke
