"""Where the gap to the paper comes from (issue 16): each head's AUC alone beside eq. (6)'s
combined score, the proxy tasks' validation accuracy against chance, the headline rows over
training seeds (mean +- std), and the Ped2 convergence table (AUCs after every epoch, stride 10
vs all training objects) from ``metrics/<dataset>/seeds`` and ``metrics/ped2/convergence``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.report.load import DATASETS, NA, MetricsDir, read_json, select

HEADS = ("arrow", "motion", "middle", "distill")
HEAD_IDS = {"arrow": "T1", "motion": "T2", "middle": "T3", "distill": "T4"}
LEVEL_RUNS = {"object": "object_level.json", "frame": "frame_level.json"}
TRAINING = {"object": "train_object_level.json", "frame": "train_frame_level.json"}
AUC_KEYS = ("auc_micro", "auc_macro_padded", "auc_macro_strict", "rbdc", "tbdc")
#: A proxy task whose validation accuracy is within this of 0.5 learned nothing measurable.
AT_CHANCE = 0.05


def pct(value: Any) -> str:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return f"{100 * value:.1f}"
    return NA


def head_cells(per_head: Mapping[str, Any] | None, key: str = "auc_micro") -> list[str]:
    per_head = per_head or {}
    return [pct((per_head.get(task) or {}).get(key)) for task in HEADS]


# --- per-head AUC --------------------------------------------------------------------------------

PER_HEAD_COLUMNS = [
    "dataset",
    "level",
    "run",
    "eq6_micro",
    "T1_micro",
    "T2_micro",
    "T3_micro",
    "T4_micro",
    "eq6_macro_strict",
    "T1_macro_strict",
    "T2_macro_strict",
    "T3_macro_strict",
    "T4_macro_strict",
    "note",
]


def per_head_table(metrics: MetricsDir, ref: pd.DataFrame) -> pd.DataFrame:
    """Each head's AUC alone (a 4-task model's heads) beside the combined eq. (6) score, and for
    Ped2 the authors' single-task shallow_narrow models (micro, their repository's issue 1)."""
    rows = []
    for dataset in DATASETS:
        for level, name in LEVEL_RUNS.items():
            data = metrics.load(dataset, name).data
            if not data or "per_head" not in data:
                continue
            note = "T4 left out of eq. (6) (no detector)" if level == "frame" else ""
            rows.append(
                [
                    dataset,
                    level,
                    "pipeline, 4-task model's heads",
                    pct(data.get("auc_micro")),
                    *head_cells(data["per_head"]),
                    pct(data.get("auc_macro_strict")),
                    *head_cells(data["per_head"], "auc_macro_strict"),
                    note,
                ]
            )
        for run, table in convergence_runs(metrics, dataset).items():
            row = selected_row(table)
            if row is None:
                continue
            rows.append(
                [
                    dataset,
                    "object",
                    f"{run}, epoch {row['epoch']} (selected)",
                    pct(row.get("auc_micro")),
                    *head_cells(row.get("per_head")),
                    pct(row.get("auc_macro_strict")),
                    *head_cells(row.get("per_head"), "auc_macro_strict"),
                    "convergence study",
                ]
            )
    published = select(ref, dataset="ped2", arch="shallow_narrow", averaging="micro")
    if len(published):
        values = dict(zip(published["tasks"], published["value"], strict=False))
        rows.append(
            [
                "ped2",
                "object",
                "published: single-task models (authors)",
                str(values.get("T1+T2+T3+T4", NA)),
                *[str(values.get(HEAD_IDS[t], NA)) for t in HEADS],
                NA,
                NA,
                NA,
                NA,
                NA,
                "each T column a model trained on that task alone (Table 4 rows), not a head",
            ]
        )
    return pd.DataFrame(rows, columns=PER_HEAD_COLUMNS)


# --- proxy-task accuracy -------------------------------------------------------------------------

ACCURACY_COLUMNS = ["dataset", "level", "epochs", "best_epoch", "val_acc_T1", "val_acc_T2", "flag"]


def accuracy_table(metrics: MetricsDir) -> pd.DataFrame:
    """T1/T2 validation accuracy of the pipeline's models (chance 50%): a task at chance learned
    nothing its head could score with."""
    rows = []
    for dataset in DATASETS:
        for level, name in TRAINING.items():
            data = metrics.load(dataset, name).data
            if not data:
                continue
            accs = [data.get("val_acc_arrow"), data.get("val_acc_motion")]
            at_chance = [
                HEAD_IDS[t]
                for t, a in zip(("arrow", "motion"), accs, strict=True)
                if isinstance(a, (int, float)) and abs(a - 0.5) <= AT_CHANCE
            ]
            flag = f"{', '.join(at_chance)} at chance (50%)" if at_chance else ""
            config = data.get("config") or {}
            rows.append(
                [
                    dataset,
                    level,
                    str(config.get("epochs", NA)),
                    str(data.get("best_epoch", NA)),
                    *[pct(a) for a in accs],
                    flag,
                ]
            )
    return pd.DataFrame(rows, columns=ACCURACY_COLUMNS)


# --- seeds ---------------------------------------------------------------------------------------


def mean_std(values: Sequence[float]) -> str:
    """``mean ± std`` in percent (sample standard deviation, n - 1)."""
    if not values:
        return NA
    if len(values) == 1:
        return pct(values[0])
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values, ddof=1):.1f}"


def seed_results(
    metrics: MetricsDir, dataset: str, level: str = "object"
) -> list[tuple[int, dict]]:
    """The pipeline result of ``level`` (its training seed) and the same row trained with other
    seeds, by seed: object level the ``seeds`` stage's ablation rows
    (``metrics/<dataset>/seeds/sn_all-s<seed>.json``), frame level the evaluations of the frame
    model at more seeds (``metrics/<dataset>/frame_seeds/frame_level-s<seed>.json``)."""
    found: dict[int, dict] = {}
    main = metrics.load(dataset, f"{level}_level.json").data
    config = (metrics.load(dataset, f"train_{level}_level.json").data or {}).get("config") or {}
    if main:
        found[int(config.get("seed", 0))] = main
    folder, pattern = (
        ("seeds", "sn_all-s*.json") if level == "object" else ("frame_seeds", "frame_level-s*.json")
    )
    for path in sorted((metrics.root / dataset / folder).glob(pattern)):
        data = read_json(path)  # an ablation row holds its evaluation under "eval"
        seed = int(data.get("seed", path.stem.rsplit("-s", 1)[1]))
        found.setdefault(seed, {**data, **(data.get("eval") or {})})
    return sorted(found.items())


SEED_COLUMNS = ["dataset", "level", "seeds", *AUC_KEYS, "note"]


def spans_seeds(row: dict[str, Any]) -> bool:
    """Whether a :func:`seed_rows` row holds figures from two or more training seeds: only then
    does a table give it a "mean ± std over seeds" row (at one seed that row would repeat the
    seed-0 result as a mean)."""
    return len(row["values"]["auc_micro"]) >= 2


def seed_rows(metrics: MetricsDir) -> list[dict[str, Any]]:
    """The headline rows (object and frame level) over training seeds: ``dataset``, ``level``,
    ``seeds`` (which, and n), ``values`` (each of :data:`AUC_KEYS`: its figures, one per seed),
    ``note`` and ``headline`` (whether Tables 2-3 show it: a Ped2 study seed set only when it
    holds the headline run; the others, such as a suspect's, stay in the seeds table). The Ped2
    study's seed set replaces the single Ped2 object-level row it contains."""
    rows = []
    seed_sets = convergence_seed_sets(metrics)
    headline = headline_run(metrics, "ped2")
    in_a_set = headline is not None and any(headline[0] in runs for runs in seed_sets.values())
    for dataset, level in ((d, lv) for d in DATASETS for lv in ("object", "frame")):
        runs = seed_results(metrics, dataset, level)
        if not runs or (dataset, level) == ("ped2", "object") and in_a_set and len(runs) == 1:
            continue
        values = {
            k: [r[k] for _, r in runs if isinstance(r.get(k), (int, float))] for k in AUC_KEYS
        }
        note = "" if len(runs) >= 3 else f"only {len(runs)} seed(s): the spread is not known"
        seeds = f"{', '.join(str(s) for s, _ in runs)} (n={len(runs)})"
        rows.append(
            {"dataset": dataset, "level": level, "seeds": seeds, "values": values, "note": note,
             "headline": True}
        )  # fmt: skip
    for run_set, tables in seed_sets.items():
        selected = [r for r in (selected_row(t) for t in tables.values()) if r is not None]
        values = {
            k: [r[k] for r in selected if isinstance(r.get(k), (int, float))] for k in AUC_KEYS
        }
        note = f"Ped2 study {run_set}: each seed's selected checkpoint (lowest validation loss)"
        seeds = f"{', '.join(tables)} (n={len(selected)})"
        shown = headline is None or headline[0] in tables
        rows.append(
            {"dataset": "ped2", "level": "object", "seeds": seeds, "values": values, "note": note,
             "headline": shown}
        )  # fmt: skip
    return rows


def headline_seed_rows(metrics: MetricsDir) -> list[dict[str, Any]]:
    """The :func:`seed_rows` Tables 2-3 and the summary show."""
    return [row for row in seed_rows(metrics) if row["headline"]]


def seeds_table(metrics: MetricsDir) -> pd.DataFrame:
    """Headline rows (Tables 2-3, object and frame level) as mean ± std over training seeds."""
    rows = [
        [row["dataset"], row["level"], row["seeds"],
         *(mean_std(row["values"][k]) for k in AUC_KEYS), row["note"]]
        for row in seed_rows(metrics)
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=SEED_COLUMNS)


# --- the Ped2 convergence table ------------------------------------------------------------------


def convergence_runs(metrics: MetricsDir, dataset: str) -> dict[str, dict]:
    """``metrics/<dataset>/convergence/<run>.json`` by run name (the training summaries,
    ``<run>_train.json``, aside)."""
    folder = metrics.root / dataset / "convergence"
    runs = {
        path.stem: read_json(path)
        for path in sorted(folder.glob("*.json"))
        if not path.stem.endswith("_train")
    }
    headline = headline_run(metrics, dataset)
    if headline is not None and headline[0] not in runs:
        runs[headline[0]] = headline[1]
    return dict(sorted(runs.items()))


def headline_run(metrics: MetricsDir, dataset: str) -> tuple[str, dict] | None:
    """The headline run's selected checkpoint as a one-row convergence table, when its own
    convergence file is missing: ``object_level.json`` scores that checkpoint with the same maps,
    filters and bootstrap, and ``train_object_level.json`` is a copy of the run's
    ``convergence/<run>_train.json`` (the ``score_object`` stage), which names the run."""
    folder = metrics.root / dataset
    summary_path, scores_path = folder / "train_object_level.json", folder / "object_level.json"
    if not (summary_path.is_file() and scores_path.is_file()):
        return None
    summary = read_json(summary_path)
    for path in sorted((folder / "convergence").glob("*_train.json")):
        if read_json(path) == summary:
            best = summary.get("best_epoch")
            row = {k: v for k, v in read_json(scores_path).items() if k != "per_video"}
            row.update({k: summary[k] for k in VALIDATION_KEYS if k in summary})
            row["epoch"] = best
            run = path.stem.removesuffix("_train")
            return run, {"best_epoch": best, "rows": [row], "source": scores_path.name}
    return None


# the validation figures of the selected epoch a training summary holds (Table 4's columns)
VALIDATION_KEYS = ("val_joint_loss", "val_acc_arrow", "val_acc_motion")


def selected_row(table: Mapping[str, Any]) -> dict | None:
    rows = [r for r in table.get("rows", []) if r.get("epoch") == table.get("best_epoch")]
    return rows[0] if rows else None


def convergence_seed_sets(metrics: MetricsDir) -> dict[str, dict[str, dict]]:
    """Runs that differ only by seed (``<profile>_seed<n>``) grouped by profile."""
    groups: dict[str, dict[str, dict]] = {}
    for run, table in convergence_runs(metrics, "ped2").items():
        profile, _, seed = run.rpartition("_seed")
        if profile and seed.isdigit():
            groups.setdefault(profile, {})[run] = table
    return {k: v for k, v in groups.items() if len(v) > 1}


CONVERGENCE_COLUMNS = [
    "run",
    "level",
    "train_objects",
    "device",
    "precision",
    "epoch",
    "val_joint_loss",
    "val_acc_T1",
    "val_acc_T2",
    "auc_micro",
    "auc_macro_padded",
    "auc_macro_strict",
    "rbdc",
    "tbdc",
    "T1_micro",
    "T2_micro",
    "T3_micro",
    "T4_micro",
    "selected",
]


def convergence_table(metrics: MetricsDir) -> pd.DataFrame:
    """One row per evaluated epoch of every Ped2 study run."""
    rows = []
    for run, table in convergence_runs(metrics, "ped2").items():
        train_path = metrics.root / "ped2" / "convergence" / f"{run}_train.json"
        train = read_json(train_path) if train_path.is_file() else {}
        objects = train.get("train_tubes", NA)
        config = train.get("config", {})
        device = config.get("device", NA)  # cpu | cuda | auto; newer summaries name the model
        device = f"{device} ({train['device']})" if "device" in train else device
        for row in table.get("rows", []):
            loss = row.get("val_joint_loss")
            rows.append(
                [
                    run,
                    config.get("level", "object"),
                    str(objects),
                    str(device),
                    str(config.get("autocast", NA)),  # what the run's precision resolved to
                    str(row["epoch"]),
                    f"{loss:.4f}" if isinstance(loss, (int, float)) else NA,
                    pct(row.get("val_acc_arrow")),
                    pct(row.get("val_acc_motion")),
                    *[pct(row.get(k)) for k in AUC_KEYS],
                    *head_cells(row.get("per_head")),
                    "yes" if row["epoch"] == table.get("best_epoch") else "",
                ]
            )
    return pd.DataFrame(rows, columns=CONVERGENCE_COLUMNS)


# --- the head-scale suspect (bench/suite/head_scale.py) -----------------------------------------

HEAD_SCALE_COLUMNS = ["run", "combination", *AUC_KEYS, "micro 95% CI"]


def head_scale_table(metrics: MetricsDir) -> pd.DataFrame:
    """Per Ped2 run scored by ``ssmtl head-scale``: each combination of eq. (6)'s heads; with
    several runs, each combination's mean ± std over them; the object-level runs
    (``head_scale/``) first, then the frame-level ones (``head_scale_frame/``), never pooled
    together. The frame level has no object regions, so no RBDC/TBDC (``—``)."""
    rows = []
    for level, folder in (("", "head_scale"), ("frame level ", "head_scale_frame")):
        keys = AUC_KEYS if not level else AUC_KEYS[:3]
        blank = [NA] * (len(AUC_KEYS) - len(keys))
        by_combination: dict[str, list[dict]] = {}
        paths = sorted((metrics.root / "ped2" / folder).glob("*.json"))
        for path in paths:
            for name, row in read_json(path).get("rows", {}).items():
                ci = row.get("ci95", {}).get("auc_micro")
                interval = f"[{100 * ci['low']:.1f}, {100 * ci['high']:.1f}]" if ci else NA
                cells = [pct(row.get(k)) for k in keys] + blank
                rows.append([f"{level}{path.stem}", name, *cells, interval])
                by_combination.setdefault(name, []).append(row)
        if len(paths) > 1:
            for name, runs in by_combination.items():
                cells = [
                    mean_std([r[k] for r in runs if isinstance(r.get(k), (int, float))])
                    for k in keys
                ] + blank
                rows.append([f"{level}mean ± std (n={len(runs)})", name, *cells, NA])
    return pd.DataFrame(rows, columns=HEAD_SCALE_COLUMNS)
