"""The report: our numbers next to the published ones (the paper's Tables 2-4, the search of t
and lambda, the running time), as Markdown, CSV, LaTeX and figures.

Inputs
------
* ``metrics/<dataset>/`` for dataset in synthetic, ped2, avenue, shanghaitech (a missing folder
  means the dataset was not run), every file optional:

  - ``object_level.json``, ``frame_level.json``, ``late_fusion.json``, ``frame_diff.json``:
    ``ssmtl evaluate`` outputs (``auc_micro``, ``auc_macro``, ``auc_macro_strict``, ``frames``,
    ``videos``, ``one_class_videos``, optional ``rbdc``, ``tbdc``), fractions in 0..1;
  - ``train_object_level.json``, ``train_frame_level.json``: training summaries, whose optional
    ``config`` (arch, tasks, epochs, t, lam) names the profile that produced the numbers;
  - ``search.json``: the search of t and lambda (``best``, ``trials``);
  - ``ablation/<group>/<row>-s<seed>.json``: one Table 4 row and seed (``val``, ``eval``, ``profile``);
  - ``single_task/<row>-s<seed>.json``: the same for the single-task experiment (synthetic
    scenes: is each single-task row best on the anomaly kind aimed at its task?);
  - ``fps.json``: running-time runs per device.
* ``experiments/reference.csv``: every published number (percent), one per row, with its source.
* ``experiments/ablation.yaml``: the Table 4 rows (arch, tasks T1..T4, level).

Conventions
-----------
AUC is the frame-level ROC AUC in percent with one decimal. *micro*: all test frames of all
videos pooled, one AUC (the official SSMTL README's "Micro-AUC"). *macro*: the mean of the
per-video AUCs, the paper's convention, computed as in :mod:`bench.metrics.frame_auc` with its
"padded" variant (each video min-max normalised, one normal frame scored 0 prepended and one
abnormal frame scored 1 appended, so that one-class videos count too). Validation accuracies
(T1, T2) are in percent, MAEs (T3, T4) plain numbers. With several seeds a cell reads
``mean ± std`` (sample standard deviation, ddof=1) and the seed count is given. Differences are
ours - published (percentage points for AUC and accuracy). No cell is ever empty: ``—`` means
not applicable, ``not run: <why>`` that our pipeline has not produced the number,
``not published`` that the source gives none, ``not available: <note>`` that the source's
number could not be read.

Outputs (under ``--out``, default ``reports/``)
-----------------------------------------------
``README.md`` (every table, links to every PNG folder under ``figures/``), ``tables/table2.csv``,
``table3.csv``, ``table4.csv``, ``kinds.csv``, ``search.csv``, ``search_trials.csv``, ``fps.csv``,
``tables/tables.tex`` (one LaTeX tabular per table) and ``figures/report/*.png`` (micro vs macro
AUC per ablation row; the search objective per (t, lambda)). Every file is written atomically.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.ablation import Row, load_rows  # noqa: E402
from bench.atomic import write_text  # noqa: E402
from bench.figures import save  # noqa: E402
from bench.synth import AIMED_TASK, KIND_NAMES  # noqa: E402

DATASETS = ("avenue", "shanghaitech", "ped2", "synthetic")  # the paper's order, ours last
LEVEL_FILES = {"object": "object_level.json", "frame": "frame_level.json", "late_fusion": "late_fusion.json"}
STAGES = {
    "object_level.json": "object-level stage",
    "frame_level.json": "frame-level stage",
    "late_fusion.json": "late-fusion stage",
    "frame_diff.json": "frame-difference baseline",
    "train_object_level.json": "object-level training",
    "train_frame_level.json": "frame-level training",
    "search.json": "search",
    "fps.json": "running-time benchmark",
}
TASK_KEYS = {"arrow": "T1", "motion": "T2", "middle": "T3", "distill": "T4"}
REFERENCE_COLUMNS = ("source", "table", "dataset", "method", "level", "arch", "tasks", "metric", "averaging", "value", "note")
NA = "—"
NOT_PUBLISHED = "not published"
PAPER_SEARCH = {"avenue": (3, 0.2), "shanghaitech": (3, 0.2), "ped2": (3, 0.5)}
PAPER_SEARCH_SOURCE = "SSMTL CVPR 2021 paper, section 4.2"
PAPER_SEARCH_NOTE = "grid: t in {1, 2, 3, 4}, lambda in {0.1, 0.2, 0.5, 1.0}; chosen on the validation sets"
PAPER_DEVICE = "GeForce GTX 1080 Ti"  # supplementary section 6.2, the notes of the reference rows


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


@dataclass(frozen=True)
class Stat:
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


# --- reading -----------------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def number(data: Mapping[str, Any] | None, key: str, where: str) -> float | None:
    """``data[key]`` as a float; None when absent, null or not finite; ValueError if not a number."""
    value = (data or {}).get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {key} must be a number, got {value!r}")
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class Loaded:
    """One metrics JSON (``data``) or why it is absent (``missing``, a "not run: ..." text)."""

    label: str
    data: dict[str, Any] | None
    missing: str = ""

    def num(self, key: str) -> float | None:
        return number(self.data, key, self.label)

    def pct(self, key: str) -> str:
        """``data[key]`` in percent with one decimal, or why there is none."""
        if self.data is None:
            return self.missing
        value = self.num(key)
        return f"{100 * value:.1f}" if value is not None else f"not computed: no {key} in {self.label}"


class MetricsDir:
    """The ``metrics/`` folder; every file is optional."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def label(self, *parts: str) -> str:
        return "/".join((self.root.name, *parts))

    def ran(self, dataset: str) -> bool:
        return (self.root / dataset).is_dir()

    def not_run(self, dataset: str) -> str:
        return f"not run: no {self.label(dataset)}/ (dataset not selected in params.yaml)"

    def load(self, dataset: str, name: str) -> Loaded:
        label = self.label(dataset, name)
        if not self.ran(dataset):
            return Loaded(label, None, self.not_run(dataset))
        path = self.root / dataset / name
        if not path.is_file():
            return Loaded(label, None, f"not run: no {label} (the profile has no {STAGES[name]} output)")
        return Loaded(label, read_json(path))

    def ablation(self, dataset: str, rows: Mapping[str, Row], folder: str = "ablation") -> dict[str, list[dict[str, Any]]]:
        """The ablation results of a dataset by row id (``folder``: ablation or single_task, with the
        files directly in it or in one subfolder per group of rows), ordered by seed."""
        found: dict[str, list[dict[str, Any]]] = {}
        seen: dict[tuple[str, int], Path] = {}
        for path in sorted((self.root / dataset / folder).rglob("*.json")):
            match = re.fullmatch(r"(.+)-s(\d+)\.json", path.name)
            if match is None:
                raise ValueError(f"{path}: expected a name <row>-s<seed>.json")
            if match[1] not in rows:
                raise ValueError(f"{path}: row {match[1]!r} is not a row of the ablation table")
            key = (match[1], int(match[2]))
            if key in seen:
                raise ValueError(f"{path}: row {key[0]} seed {key[1]} again (also in {seen[key]}): a row belongs to one group")
            seen[key] = path
            record = read_json(path)
            label = self.label(dataset, *path.relative_to(self.root / dataset).parts)
            found.setdefault(match[1], []).append({**record, "seed": key[1], "label": label})
        return {row: sorted(records, key=lambda r: r["seed"]) for row, records in found.items()}


def load_reference(path: Path) -> pd.DataFrame:
    """The published numbers as strings, plus ``number`` (float, NaN where ``value`` is empty)."""
    try:
        ref = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{path}: cannot read the reference CSV ({err})") from err
    missing = [c for c in REFERENCE_COLUMNS if c not in ref.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    ref["number"] = pd.to_numeric(ref["value"].where(ref["value"] != ""), errors="coerce")
    bad = ref.index[(ref["value"] != "") & ref["number"].isna()]
    if len(bad):
        raise ValueError(f"{path}: line {bad[0] + 2}: value {ref.at[bad[0], 'value']!r} is not a number")
    return ref


def select(ref: pd.DataFrame, **equal: str) -> pd.DataFrame:
    mask = np.ones(len(ref), dtype=bool)
    for column, value in equal.items():
        mask &= ref[column].to_numpy() == value
    return ref[mask]


def published_cell(rows: pd.DataFrame) -> str:
    """The first row's value as published, or why there is none."""
    if rows.empty:
        return NOT_PUBLISHED
    row = rows.iloc[0]
    return row["value"] if row["value"] else f"not available: {row['note'] or 'empty in the source'}"


# --- profile labels ---------------------------------------------------------------------------


def tasks_label(tasks: Sequence[str]) -> str:
    return "+".join(TASK_KEYS.get(t, t) for t in tasks)


def describe_config(config: Mapping[str, Any]) -> str:
    parts = [str(config["arch"])] if "arch" in config else []
    if "tasks" in config:
        parts.append(tasks_label(config["tasks"]))
    parts += [f"{config[k]} {name}" for k, name in (("epochs", "epochs"),) if k in config]
    parts += [f"{name}={config[k]}" for k, name in (("t", "t"), ("lam", "lambda")) if k in config]
    return ", ".join(parts)


def profile_label(metrics: MetricsDir, dataset: str, level: str) -> str:
    """``ours (<profile>)`` from the training summary's config."""
    if not metrics.ran(dataset):
        return "ours (not run)"
    train = metrics.load(dataset, "train_frame_level.json" if level == "frame" else "train_object_level.json")
    if train.data is None:
        return f"ours (profile unknown: {train.missing.removeprefix('not run: ')})"
    config = train.data.get("config")
    if not isinstance(config, dict):
        return f"ours (profile not recorded in {train.label})"
    prefix = "late fusion with the frame level; object level: " if level == "late_fusion" else ""
    return f"ours ({prefix}{describe_config(config)})"


def eval_note(result: Loaded) -> str:
    if result.data is None:
        return NA
    strict = result.num("auc_macro_strict")
    parts = [f"strict macro {100 * strict:.1f}"] if strict is not None else []
    parts += [f"{result.data[k]} {k}" for k in ("videos", "frames") if k in result.data]
    one_class = result.data.get("one_class_videos") or []
    return "; ".join(parts + ([f"{len(one_class)} one-class videos"] if one_class else [])) or NA


# --- tables -----------------------------------------------------------------------------------

T2_COLUMNS = ["dataset", "level", "method", "source", "auc_micro", "auc_macro", "auc_as_published", "note"]


def t2_prior(ref: pd.DataFrame, dataset: str) -> list[list[str]]:
    rows = select(ref, table="2", dataset=dataset, metric="frame_auc")
    rows = rows[rows["method"] != "SSMTL"]
    return [[dataset, NA, r.method, r.source, NA, NA, r.value or NOT_PUBLISHED, r.note or NA] for r in rows.itertuples()]


def t2_ssmtl_published(ref: pd.DataFrame, dataset: str, level: str) -> list[list[str]]:
    rows = select(ref, dataset=dataset, method="SSMTL", level=level, metric="frame_auc")
    rows = rows[rows["table"].isin(["2", "readme"])]
    out = []
    for source, group in rows.groupby("source", sort=False):
        first = group.iloc[0]
        cells = [published_cell(group[group["averaging"] == a]) for a in ("micro", "macro")]
        note = "; ".join(x for x in (f"{first['arch']}, {first['tasks']}", *group["note"].unique()) if x)
        out.append([dataset, level, "SSMTL (published)", source, *cells, NA, note])
    return out


def t2_ours(metrics: MetricsDir, dataset: str) -> list[list[str]]:
    out = []
    for level, name in LEVEL_FILES.items():
        result = metrics.load(dataset, name)
        source = profile_label(metrics, dataset, level)
        out.append([dataset, level, "SSMTL (ours)", source, result.pct("auc_micro"), result.pct("auc_macro"), NA, eval_note(result)])
    baseline = metrics.load(dataset, "frame_diff.json")
    method = "frame-difference baseline (ours, no training)"
    out.append([dataset, NA, method, "ours", baseline.pct("auc_micro"), baseline.pct("auc_macro"), NA, eval_note(baseline)])
    return out


def table2(ref: pd.DataFrame, metrics: MetricsDir) -> pd.DataFrame:
    """Frame-level AUC per dataset and level: prior methods, SSMTL as published, ours."""
    rows: list[list[str]] = []
    for dataset in DATASETS:
        rows += t2_prior(ref, dataset)
        for level in LEVEL_FILES:
            rows += t2_ssmtl_published(ref, dataset, level)
        rows += t2_ours(metrics, dataset)
    return pd.DataFrame(rows, columns=T2_COLUMNS)


T3_COLUMNS = ["method", "level", "source", "auc_micro", "auc_macro", "auc_as_published", "rbdc", "tbdc", "note"]
T3_KEYS = (("frame_auc", "micro"), ("frame_auc", "macro"), ("frame_auc", "as published"), ("rbdc", ""), ("tbdc", ""))


def t3_published(ref: pd.DataFrame) -> list[list[str]]:
    rows = select(ref, dataset="ped2")
    rows = rows[rows["table"].isin(["3", "readme"])]
    out = []
    for (source, method), group in rows.groupby(["source", "method"], sort=False):
        ssmtl = method == "SSMTL"  # its averaging is known; the prior methods' is as published
        keys = [k if k[0] != "frame_auc" or (k[1] == "as published") != ssmtl else None for k in T3_KEYS]
        cells = [published_cell(group[(group["metric"] == k[0]) & (group["averaging"] == k[1])]) if k else NA for k in keys]
        note = "; ".join(x for x in group["note"].unique() if x) or NA
        out.append(["SSMTL (published)" if ssmtl else method, group["level"].iloc[0] or NA, source, *cells, note])
    return out


def t3_ours(result: Loaded, source: str) -> list[str]:
    cells = [result.pct(k) for k in ("auc_micro", "auc_macro")] + [NA] + [result.pct(k) for k in ("rbdc", "tbdc")]
    return ["SSMTL (ours)", "object", source, *cells, eval_note(result)]


def t3_difference(result: Loaded, published: list[str]) -> list[str]:
    cells = []
    for key, pub in zip(("auc_micro", "auc_macro", None, "rbdc", "tbdc"), published[3:8]):
        ours = result.num(key) if key and result.data is not None else None
        cells.append(f"{100 * ours - float(pub):+.1f}" if ours is not None and _is_number(pub) else NA)
    return ["ours - published (pp)", "object", f"against {published[2]}", *cells, NA]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def table3(ref: pd.DataFrame, metrics: MetricsDir) -> pd.DataFrame:
    """Ped2: AUC, RBDC and TBDC, published against ours at object level."""
    published = t3_published(ref)
    result = metrics.load("ped2", "object_level.json")
    rows = [*published, t3_ours(result, profile_label(metrics, "ped2", "object"))]
    readme = [r for r in published if r[0] == "SSMTL (published)" and "README" in r[2]]
    rows += [t3_difference(result, readme[0])] if readme else []
    return pd.DataFrame(rows, columns=T3_COLUMNS)


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
    """Table 4's row, or the README's where Table 4 has no readable number; rows with a value first."""
    keys = dict(dataset=dataset, arch=spec.arch, tasks="+".join(spec.tasks), level=spec.level, metric=metric.ref_metric, averaging=metric.ref_averaging)
    rows = select(ref, **keys)
    rows = rows[rows["table"].isin(["4", "readme"])]
    order = np.lexsort(((rows["table"] != "4").to_numpy(), (rows["value"] == "").to_numpy()))
    return rows.iloc[order]


def t4_cells(ref: pd.DataFrame, dataset: str, spec: Row, stats: dict[str, Stat], ran: bool, label: str) -> tuple[list[str], set[str]]:
    cells, sources = [], set()
    for metric in T4_METRICS:
        if metric.task and metric.task not in spec.tasks:
            cells += [NA, NA, NA]
            continue
        rows = t4_published(ref, dataset, spec, metric)
        sources |= set(rows["source"].iloc[:1])
        pub = published_cell(rows)
        stat = stats.get(metric.name)
        ours = stat.format(metric.decimals) if stat else f"not computed: no {metric.section}.{metric.key} in {label}" if ran else "not run (see seeds)"
        diff = f"{stat.mean - float(pub):+.{metric.decimals}f}" if stat and _is_number(pub) else NA
        cells += [ours, pub, diff]
    return cells, sources


T4_COLUMNS = ["row", "dataset", "arch", "tasks", "level", "seeds"] + [f"{m.name}_{k}" for m in T4_METRICS for k in ("ours", "published", "diff")] + ["published_source"]


def t4_datasets(ref: pd.DataFrame, metrics: MetricsDir) -> list[str]:
    published = set(select(ref, table="4")["dataset"])
    return [d for d in DATASETS if d in published or (metrics.root / d / "ablation").is_dir()]


def seeds_cell(metrics: MetricsDir, dataset: str, records: list[dict[str, Any]], label: str) -> str:
    """How many seeds (and which), or why there are none."""
    if records:
        return f"{len(records)} (seeds {', '.join(str(r['seed']) for r in records)})"
    return f"not run: no {label}" if metrics.ran(dataset) else metrics.not_run(dataset)


def table4(ref: pd.DataFrame, metrics: MetricsDir, specs: Mapping[str, Row]) -> tuple[pd.DataFrame, dict[str, dict[str, dict[str, Stat]]]]:
    """Every ablation row x dataset; also returns the statistics (dataset -> row -> metric)."""
    rows, all_stats = [], {}
    for dataset in t4_datasets(ref, metrics):
        found = metrics.ablation(dataset, specs) if metrics.ran(dataset) else {}
        all_stats[dataset] = {row: ablation_stats(found[row]) for row in specs if row in found}
        for row, spec in specs.items():
            records = found.get(row, [])
            label = metrics.label(dataset, "ablation", "**", f"{row}-s*.json")
            seeds = seeds_cell(metrics, dataset, records, label)
            cells, sources = t4_cells(ref, dataset, spec, all_stats[dataset].get(row, {}), bool(records), label)
            rows.append([row, dataset, spec.arch, "+".join(spec.tasks), spec.level, seeds, *cells, "; ".join(sorted(sources)) or NA])
    return pd.DataFrame(rows, columns=T4_COLUMNS), all_stats


KIND_FOLDERS = {"object_level.json": "pipeline (object level)", "ablation": "Table 4 sweep", "single_task": "single-task experiment"}


def profile_text(profile: Mapping[str, Any] | None) -> str:
    keys = ("epochs", "train_frame_stride", "test_frame_stride")
    return ", ".join(f"{k}={profile[k]}" for k in keys if profile and k in profile) or "not recorded"


def kind_cells(by_kind: Mapping[str, Any]) -> list[str]:
    return [f"{100 * by_kind[k]:.1f}" if by_kind.get(k) is not None else "no such frames" for k in KIND_NAMES]


def aimed_verdict(row_tasks: Sequence[str], by_kind: Mapping[str, Any], peers: list[Mapping[str, Any]]) -> str:
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


def kinds_table(metrics: MetricsDir, specs: Mapping[str, Row]) -> pd.DataFrame:
    """AUC per anomaly kind (synthetic scenes, each kind against all normal frames) of the
    pipeline's model and of every ablation and single-task row, with the verdict the issue asks
    for: is each single-task row best on the kind aimed at its task (:data:`AIMED_TASK`)?
    With several seeds a row shows its lowest seed."""
    rows = []
    for dataset in DATASETS:
        pipeline = metrics.load(dataset, "object_level.json")
        if pipeline.data and pipeline.data.get("auc_by_kind"):
            train = metrics.load(dataset, "train_object_level.json")
            config = (train.data or {}).get("config") or {}
            rows.append([dataset, KIND_FOLDERS["object_level.json"], "pipeline", tasks_label(config.get("tasks", [])) or "not recorded",
                         f"epochs={config.get('epochs', '?')}", pipeline.pct("auc_micro"), pipeline.pct("auc_macro"),
                         *kind_cells(pipeline.data["auc_by_kind"]), NA])
        for folder in ("ablation", "single_task"):
            found = metrics.ablation(dataset, specs, folder) if metrics.ran(dataset) else {}
            records = {row: found[row][0] for row in specs if row in found and found[row][0]["eval"].get("auc_by_kind")}
            single = [r["eval"]["auc_by_kind"] for r in records.values() if len(r["tasks"]) == 1]
            for row, record in records.items():
                by_kind, tasks = record["eval"]["auc_by_kind"], record["tasks"]
                peers = [k for k in single if k is not by_kind]
                rows.append([dataset, KIND_FOLDERS[folder], row, "+".join(tasks), profile_text(record.get("profile")),
                             f"{100 * record['eval']['auc_micro']:.1f}", f"{100 * record['eval']['auc_macro']:.1f}",
                             *kind_cells(by_kind), aimed_verdict(tasks, by_kind, peers)])
    columns = ["dataset", "source", "row", "tasks", "profile", "auc_micro", "auc_macro", *[f"auc_{k}" for k in KIND_NAMES], "aimed_kind"]
    return pd.DataFrame(rows, columns=columns)


SEARCH_COLUMNS = ["dataset", "source", "objective", "sampler", "trials", "best_t", "best_lambda", "best_value", "best_trial", "note"]


def search_ours(search: Loaded, dataset: str) -> list[str]:
    if search.data is None:
        return [dataset, "ours", search.missing, *["not run (see objective)"] * 6, NA]
    best = search.data.get("best") or {}
    value = number(best, "value", search.label)
    cells = [str(search.data.get(k, NA)) for k in ("objective", "sampler")] + [str(len(search.data.get("trials") or []))]
    cells += [str(best.get("t", NA)), str(best.get("lam", NA)), f"{value:.4f}" if value is not None else NA, str(best.get("trial", NA))]
    return [dataset, "ours", *cells, NA]


def search_tables(metrics: MetricsDir) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Best t and lambda per dataset, ours next to the paper's; and every trial."""
    rows, trials = [], []
    for dataset in DATASETS:
        search = metrics.load(dataset, "search.json")
        rows.append(search_ours(search, dataset))
        if dataset in PAPER_SEARCH:
            t, lam = PAPER_SEARCH[dataset]
            rows.append([dataset, PAPER_SEARCH_SOURCE, "validation joint loss", "grid", NA, str(t), str(lam), NOT_PUBLISHED, NA, PAPER_SEARCH_NOTE])
        for trial in (search.data or {}).get("trials") or []:
            value = number(trial, "value", search.label)
            trials.append([dataset, *(str(trial.get(k, NA)) for k in ("number", "t", "lam", "state")), f"{value:.4f}" if value is not None else NA])
    return pd.DataFrame(rows, columns=SEARCH_COLUMNS), pd.DataFrame(trials, columns=["dataset", "trial", "t", "lambda", "state", "value"])


FPS_COLUMNS = ["source", "dataset", "device", "arch", "detector", "level", "end_to_end_fps", "objects_per_frame", "ms_per_object", "model_objects_per_s", "ms_per_frame", "note"]


def fps_ours(fps: Loaded, dataset: str) -> list[list[str]]:
    def fmt(run: Mapping[str, Any], key: str, decimals: int) -> str:
        value = number(run, key, fps.label)
        return f"{value:.{decimals}f}" if value is not None else f"not computed: no {key} in {fps.label}"

    out = []
    for run in (fps.data or {}).get("runs") or []:
        per_frame = run.get("ms_per_frame") or {}
        components = "; ".join(f"{k} {fmt(per_frame, k, 1)}" for k in per_frame) or NA
        out.append(["ours", dataset, str(run.get("device", NA)), str(run.get("arch", NA)), str(run.get("detector", NA)), "object",
                    fmt(run, "end_to_end_fps", 1), fmt(run, "objects_per_frame", 2), fmt(run, "ms_per_object", 2), fmt(run, "model_objects_per_s", 1), components, NA])
    return out


def fps_published(ref: pd.DataFrame) -> list[list[str]]:
    rows = select(ref, table="supplementary")
    per_object = published_cell(rows[rows["metric"] == "ms_per_object"])
    components = rows[rows["metric"].str.startswith("ms_per_frame_")]
    per_frame = "; ".join(f"{m.removeprefix('ms_per_frame_')} {v}" for m, v in zip(components["metric"], components["value"])) or NOT_PUBLISHED
    out = []
    for r in rows[rows["metric"] == "fps"].itertuples():
        level = "late_fusion" if "late fusion" in r.note else r.level
        out.append([r.source, r.dataset, PAPER_DEVICE, NOT_PUBLISHED, "YOLOv3", level, r.value, NOT_PUBLISHED, per_object, NOT_PUBLISHED, per_frame, r.note or NA])
    return out


def fps_table(ref: pd.DataFrame, metrics: MetricsDir) -> pd.DataFrame:
    """Frames per second per device, ours next to the paper's (supplementary)."""
    rows = fps_published(ref)
    loaded = [(d, metrics.load(d, "fps.json")) for d in DATASETS if metrics.ran(d)]
    ours = [row for d, fps in loaded for row in fps_ours(fps, d)]
    if not ours:
        reason = "; ".join(f.missing for _, f in loaded) or f"not run: no {metrics.label('<dataset>', 'fps.json')}"
        ours = [["ours", NA, reason, *[NA] * 9]]
    return pd.DataFrame(rows + ours, columns=FPS_COLUMNS)


# --- figures ----------------------------------------------------------------------------------


def plot_ablation(dataset: str, stats: dict[str, dict[str, Stat]], path: Path) -> Path:
    """Grouped bars: micro vs macro AUC (mean over seeds, std as error bar) per ablation row."""
    rows = [r for r, s in stats.items() if "auc_micro" in s or "auc_macro" in s]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(rows) + 2), 3.5))
    for offset, name, color in ((-0.2, "auc_micro", "tab:blue"), (0.2, "auc_macro", "tab:orange")):
        got = [stats[r].get(name) for r in rows]
        means = [s.mean if s else np.nan for s in got]
        stds = [s.std if s else 0.0 for s in got]
        ax.bar(x + offset, means, 0.4, yerr=stds, color=color, label=name.replace("auc_", "AUC "), capsize=2)
    ax.set(xticks=x, ylabel="frame AUC (%)", ylim=(0, 100), title=f"{dataset}: ablation rows, ours (mean ± std over seeds)")
    ax.set_xticklabels(rows, rotation=45, ha="right", fontsize=8)
    ax.legend(loc="lower right", fontsize=8)
    return save(fig, path)


def plot_search(dataset: str, trials: pd.DataFrame, path: Path) -> Path | None:
    """Heatmap of the search objective per (t, lambda); mean over repeated trials."""
    done = trials[trials["dataset"] == dataset]
    numeric = done[["t", "lambda", "value"]].apply(pd.to_numeric, errors="coerce").dropna()
    if numeric.empty:
        return None
    grid = numeric.pivot_table(index="t", columns="lambda", values="value", aggfunc="mean")
    fig, ax = plt.subplots(figsize=(1.2 * grid.shape[1] + 2, 0.8 * grid.shape[0] + 1.5))
    image = ax.imshow(grid.to_numpy(), cmap="viridis_r", aspect="auto")
    for (i, j), value in np.ndenumerate(grid.to_numpy()):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=8, color="white")
    ax.set(xticks=range(grid.shape[1]), yticks=range(grid.shape[0]), xlabel="lambda", ylabel="t", title=f"{dataset}: search objective")
    ax.set_xticklabels([f"{lam:g}" for lam in grid.columns])
    ax.set_yticklabels([f"{t:g}" for t in grid.index])
    fig.colorbar(image, ax=ax)
    return save(fig, path)


# --- rendering --------------------------------------------------------------------------------

LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                 "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
                 "±": r"$\pm$", "—": "---"}


def latex_escape(text: str) -> str:
    return re.sub("|".join(map(re.escape, LATEX_SPECIAL)), lambda m: LATEX_SPECIAL[m[0]], text)


def latex_table(df: pd.DataFrame, caption: str) -> str:
    lines = [f"% {caption}", r"\begin{tabular}{" + "l" * len(df.columns) + "}", r"\hline"]
    lines.append(" & ".join(latex_escape(c) for c in df.columns) + r" \\ \hline")
    lines += [" & ".join(latex_escape(str(v)) for v in row) + r" \\" for row in df.itertuples(index=False)]
    return "\n".join(lines + [r"\hline", r"\end{tabular}", ""])


def markdown_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "(none)"
    cells = [list(df.columns)] + [[str(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    return "\n".join([lines[0], "| " + " | ".join("---" for _ in df.columns) + " |", *lines[1:]])


def markdown_by(df: pd.DataFrame, column: str) -> str:
    """One Markdown table per value of ``column`` (dropped from the table)."""
    parts = [f"### {value}\n\n{markdown_table(group.drop(columns=column))}" for value, group in df.groupby(column, sort=False)]
    return "\n\n".join(parts) or "(none)"


def write_csv(path: Path, df: pd.DataFrame) -> Path:
    return write_text(path, df.to_csv(index=False))


def ablation_profile(metrics: MetricsDir, dataset: str) -> str:
    """The ablation's result count and profile(s), e.g. ``ablation: 4 results, profile epochs=2``."""
    paths = sorted((metrics.root / dataset / "ablation").rglob("*.json"))
    profiles = {", ".join(f"{k}={v}" for k, v in (read_json(p).get("profile") or {}).items()) for p in paths}
    return f"ablation: {len(paths)} results, profile {' | '.join(sorted(profiles)) or 'not recorded'}" if paths else "ablation: not run"


def header(metrics: MetricsDir, reference_csv: Path) -> str:
    ran = [d for d in DATASETS if metrics.ran(d)]
    lines = [f"- {d}: object level {profile_label(metrics, d, 'object')}; frame level {profile_label(metrics, d, 'frame')}; {ablation_profile(metrics, d)}" for d in ran]
    not_run = ", ".join(d for d in DATASETS if d not in ran) or "none"
    return "\n".join([
        "# SSMTL reproduction report",
        "",
        f"Generated by `python -m bench.report` from `{metrics.root.as_posix()}/` and `{reference_csv.as_posix()}`; regenerate with `dvc repro report`.",
        "",
        "Datasets with metrics and the profile that produced them:",
        "",
        *(lines or ["- none"]),
        "",
        f"Not run: {not_run}.",
        "",
        "AUC: frame-level ROC AUC in percent, one decimal. **micro** = all test frames pooled, one AUC; "
        "**macro** = mean of per-video AUCs, the paper's convention (the padded variant of `bench/metrics/frame_auc.py`). "
        "Several seeds: mean ± std (ddof=1). Differences: ours - published, percentage points for AUC and accuracy. "
        f"`{NA}` = not applicable; `not run: ...` = our pipeline has not produced the number (and why); "
        f"`{NOT_PUBLISHED}` = the source gives none. The `source` columns name where each number comes from.",
    ])


KINDS_INTRO = (
    "Each anomaly kind of the synthetic scenes is aimed at one proxy task (wrong direction: T1, irregular "
    "motion: T2, unusual appearance: T3, novel object: T4; `bench/synth/anomalies.py`). AUC of one kind = its "
    "frames against all normal frames, pooled over the test videos. `aimed_kind` says, for a single-task row, "
    "whether it is the best of the single-task rows of the same source on the kind aimed at its task.")


def figure_links(figures_dir: Path, out_dir: Path) -> str:
    folders = sorted({p.parent for p in figures_dir.rglob("*.png")}) if figures_dir.is_dir() else []
    return "\n".join(f"- [{f.relative_to(out_dir).as_posix()}/]({f.relative_to(out_dir).as_posix()}/) ({len(list(f.glob('*.png')))} PNG)" for f in folders) or "(none)"


def images(paths: Sequence[Path], out_dir: Path) -> str:
    return "\n\n".join(f"![{p.stem}]({p.relative_to(out_dir).as_posix()})" for p in paths)


# --- entry points -----------------------------------------------------------------------------


def build_report(metrics_dir: Path, reference_csv: Path, ablation_yaml: Path, out_dir: Path) -> list[Path]:
    """Write the report's tables, figures and README under ``out_dir``; return the written files."""
    ref = load_reference(reference_csv)
    specs = load_rows(ablation_yaml)
    metrics = MetricsDir(metrics_dir)
    t2, t3 = table2(ref, metrics), table3(ref, metrics)
    t4, stats = table4(ref, metrics, specs)
    kinds = kinds_table(metrics, specs)
    search, trials = search_tables(metrics)
    fps = fps_table(ref, metrics)
    tables = {"table2": (t2, "Table 2: frame-level AUC"), "table3": (t3, "Table 3: Ped2 AUC, RBDC, TBDC"),
              "table4": (t4, "Table 4: ablation"), "kinds": (kinds, "AUC per anomaly kind (synthetic)"), "search": (search, "Search of t and lambda"),
              "search_trials": (trials, "Search trials"), "fps": (fps, "Running time")}
    written = [write_csv(out_dir / "tables" / f"{name}.csv", df) for name, (df, _) in tables.items()]
    written.append(write_text(out_dir / "tables" / "tables.tex", "\n".join(latex_table(df, caption) for df, caption in tables.values())))
    report_dir = out_dir / "figures" / "report"
    ablation_png = [plot_ablation(d, s, report_dir / f"ablation_auc_{d}.png") for d, s in stats.items() if s]
    search_png = [p for d in DATASETS if (p := plot_search(d, trials, report_dir / f"search_{d}.png"))]
    written += ablation_png + search_png
    sections = [
        header(metrics, reference_csv),
        "## Table 2: frame-level AUC (object level, frame level, late fusion)\n\n" + markdown_by(t2, "dataset"),
        "## Table 3: Ped2, AUC, RBDC and TBDC\n\n" + markdown_table(t3),
        "## Table 4: ablation (architectures x proxy tasks)\n\n" + markdown_by(t4, "dataset") + ("\n\n" + images(ablation_png, out_dir) if ablation_png else ""),
        "## AUC per anomaly kind (synthetic scenes)\n\n" + KINDS_INTRO + "\n\n" + (markdown_table(kinds) if len(kinds) else "not run: no metrics/synthetic/ with AUC per kind"),
        "## Search of t and lambda\n\n" + markdown_table(search) + "\n\n### Trials\n\n" + markdown_by(trials, "dataset") + ("\n\n" + images(search_png, out_dir) if search_png else ""),
        "## Running time (FPS)\n\n" + markdown_table(fps),
        "## Figures\n\n" + figure_links(out_dir / "figures", out_dir),
    ]
    written.append(write_text(out_dir / "README.md", "\n\n".join(sections) + "\n"))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description="Build the report (tables, figures, README) from metrics/ and the published numbers.")
    parser.add_argument("--metrics", type=Path, default=Path("metrics"), help="the metrics folder (default: metrics)")
    parser.add_argument("--reference", type=Path, default=Path("experiments/reference.csv"), help="the published numbers (default: experiments/reference.csv)")
    parser.add_argument("--ablation", type=Path, default=Path("experiments/ablation.yaml"), help="the Table 4 rows (default: experiments/ablation.yaml)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="the output folder (default: reports)")
    args = parser.parse_args(argv)
    try:
        written = build_report(args.metrics, args.reference, args.ablation, args.out)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
