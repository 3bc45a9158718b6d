"""The paper's Table 2 (frame-level AUC) and Table 3 (Ped2: AUC, RBDC, TBDC), the search of t
and lambda (section 4.2) and the running time (supplementary section 6.2): ours next to the
published numbers, one list of string cells per table row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from bench.paper import LAMBDA, LAMBDA_GRID, RUNNING_TIME, T_GRID, T
from bench.report.evidence import CHANCE_COLUMN, published_flags
from bench.report.levels import Level, dataset_chance, load_level
from bench.report.load import (
    DATASETS,
    LEVEL_FILES,
    NA,
    NOT_PUBLISHED,
    Loaded,
    MetricsDir,
    eval_note,
    is_number,
    number,
    profile_label,
    published_cell,
    select,
)

PAPER_SEARCH_SOURCE = "SSMTL CVPR 2021 paper, section 4.2"


def braced(values: Sequence[object]) -> str:
    """A grid as the paper writes it: ``{1, 2, 3, 4}``."""
    return "{" + ", ".join(map(str, values)) + "}"


PAPER_SEARCH_NOTE = (
    f"grid: t in {braced(T_GRID)}, lambda in {braced(LAMBDA_GRID)}; chosen on the validation sets"
)

# --- Table 2 -----------------------------------------------------------------------------------

#: Our AUC columns: the value, then its bootstrap 95% interval.
AUC_COLUMNS = [c for k in ("auc_micro", "auc_macro", "auc_macro_strict") for c in (k, f"{k}_ci95")]
T2_COLUMNS = [
    "dataset",
    "level",
    "method",
    "source",
    "seeds",
    *AUC_COLUMNS,
    CHANCE_COLUMN,
    "auc_as_published",
    "flags",
    "note",
]


def t2_prior(ref: pd.DataFrame, dataset: str, chance: tuple[str, dict]) -> list[list[str]]:
    """The prior methods' rows of Table 2, their AUC as published (averaging unknown)."""
    rows = select(ref, table="2", dataset=dataset, metric="frame_auc")
    rows = rows[rows["method"] != "SSMTL"]
    out = []
    for r in rows.itertuples():
        value = r.value or NOT_PUBLISHED
        flags = published_flags({"as_published": value}, chance[1])
        out.append(
            [dataset, NA, r.method, r.source, NOT_PUBLISHED, *[NA] * 6, chance[0], value]
            + [flags, r.note or NA]
        )
    return out


def t2_ssmtl_published(
    ref: pd.DataFrame, dataset: str, level: str, chance: tuple[str, dict]
) -> list[list[str]]:
    """SSMTL's published micro and macro AUC, one row per source (paper, official README)."""
    rows = select(ref, dataset=dataset, method="SSMTL", level=level, metric="frame_auc")
    rows = rows[rows["table"].isin(["2", "readme"])]
    out = []
    for source, group in rows.groupby("source", sort=False):
        first = group.iloc[0]
        micro, macro = (published_cell(group[group["averaging"] == a]) for a in ("micro", "macro"))
        arch_tasks = f"{first['arch']}, {first['tasks']}"
        note = "; ".join(x for x in (arch_tasks, *group["note"].unique()) if x)
        aucs = [micro, NOT_PUBLISHED, macro, NOT_PUBLISHED, NOT_PUBLISHED, NOT_PUBLISHED]
        flags = published_flags({"auc_micro": micro, "auc_macro": macro}, chance[1])
        method = "SSMTL (published)"
        out.append(
            [dataset, level, method, source, NOT_PUBLISHED, *aucs, chance[0], NA, flags, note]
        )
    return out


def ours_cells(level: Level) -> list[str]:
    """Our micro, padded and strict macro AUC, each followed by its 95% interval."""
    return [c for k in ("auc_micro", "auc_macro", "auc_macro_strict") for c in level.cells(k)]


def t2_ours(metrics: MetricsDir, dataset: str) -> list[list[str]]:
    """Our AUC per level, then the frame-difference baseline."""
    out = []
    for level, name in LEVEL_FILES.items():
        run = load_level(metrics, dataset, name)
        source = profile_label(metrics, dataset, level)
        head = [dataset, level, "SSMTL (ours)", source, run.seeds]
        out.append([*head, *ours_cells(run), run.chance(), NA, run.flags(), eval_note(run.result)])
    run = load_level(metrics, dataset, "frame_diff.json")
    method = "frame-difference baseline (ours, no training)"
    head = [dataset, NA, method, "ours", run.seeds]
    out.append([*head, *ours_cells(run), run.chance(), NA, run.flags(), eval_note(run.result)])
    return out


def table2(ref: pd.DataFrame, metrics: MetricsDir) -> pd.DataFrame:
    """Table 2: frame-level AUC per dataset and level: prior methods, SSMTL as published, ours;
    every AUC with its chance level, 95% interval (ours), seed count and flags."""
    rows: list[list[str]] = []
    for dataset in DATASETS:
        chance = dataset_chance(metrics, dataset)
        rows += t2_prior(ref, dataset, chance)
        for level in LEVEL_FILES:
            rows += t2_ssmtl_published(ref, dataset, level, chance)
        rows += t2_ours(metrics, dataset)
    return pd.DataFrame(rows, columns=T2_COLUMNS)


# --- Table 3 -----------------------------------------------------------------------------------

T3_COLUMNS = [
    "method",
    "level",
    "source",
    "seeds",
    "auc_micro",
    "auc_micro_ci95",
    "auc_macro",
    "auc_macro_ci95",
    "auc_macro_strict",
    "auc_macro_strict_ci95",
    "auc_as_published",
    "rbdc",
    "rbdc_ci95",
    "tbdc",
    "tbdc_ci95",
    CHANCE_COLUMN,
    "flags",
    "note",
]
T3_KEYS = (
    ("frame_auc", "micro"),
    ("frame_auc", "macro"),
    ("frame_auc", "as published"),
    ("rbdc", ""),
    ("tbdc", ""),
)
#: Where the published cells (in T3_KEYS order) go among T3_COLUMNS' metric columns.
T3_PUBLISHED = ("auc_micro", "auc_macro", "auc_as_published", "rbdc", "tbdc")


def t3_published(ref: pd.DataFrame, chance: tuple[str, dict]) -> list[list[str]]:
    """The published rows of Table 3 (and the official README's), one per source and method."""
    rows = select(ref, dataset="ped2")
    rows = rows[rows["table"].isin(["3", "readme"])]
    out = []
    for (source, method), group in rows.groupby(["source", "method"], sort=False):
        ssmtl = method == "SSMTL"  # its averaging is known; the prior methods' is as published
        keys = [
            k if k[0] != "frame_auc" or (k[1] == "as published") != ssmtl else None for k in T3_KEYS
        ]
        cells = [
            published_cell(group[(group["metric"] == k[0]) & (group["averaging"] == k[1])])
            if k
            else NA
            for k in keys
        ]
        by_column = dict(zip(T3_PUBLISHED, cells, strict=True))
        metric_cells = [
            by_column.get(c, NOT_PUBLISHED if ssmtl or c.endswith("_ci95") else NA)
            for c in T3_COLUMNS[4:15]
        ]
        checked = {"auc_micro": cells[0], "auc_macro": cells[1], "as_published": cells[2]}
        flags = published_flags(checked, chance[1])
        note = "; ".join(x for x in group["note"].unique() if x) or NA
        name = "SSMTL (published)" if ssmtl else method
        level = group["level"].iloc[0] or NA
        out.append([name, level, source, NOT_PUBLISHED, *metric_cells, chance[0], flags, note])
    return out


def t3_ours(run: Level, source: str) -> list[str]:
    """Our object-level row of Table 3."""
    cells = ours_cells(run) + [NA, *run.cells("rbdc"), *run.cells("tbdc")]
    keys = ("auc_micro", "auc_macro", "auc_macro_strict", "rbdc", "tbdc")
    flags = run.flags(keys)
    return [
        "SSMTL (ours)",
        "object",
        source,
        run.seeds,
        *cells,
        run.chance(),
        flags,
        eval_note(run.result),
    ]


def t3_difference(run: Level, published: list[str]) -> list[str]:
    """Ours - published in percentage points, against one published row."""
    pub = dict(zip(T3_COLUMNS, published, strict=True))
    cells = []
    for column in T3_COLUMNS[4:15]:
        ours = run.result.num(column) if column in T3_PUBLISHED and run.ran else None
        known = ours is not None and not run.smoke and is_number(pub[column])
        cells.append(f"{100 * ours - float(pub[column]):+.1f}" if known else NA)
    return ["ours - published (pp)", "object", f"against {pub['source']}", NA, *cells, NA, NA, NA]


def table3(ref: pd.DataFrame, metrics: MetricsDir) -> pd.DataFrame:
    """Table 3: Ped2 AUC, RBDC and TBDC, published against ours at object level, with chance
    levels, 95% intervals, seed count and flags."""
    published = t3_published(ref, dataset_chance(metrics, "ped2"))
    run = load_level(metrics, "ped2", "object_level.json")
    rows = [*published, t3_ours(run, profile_label(metrics, "ped2", "object"))]
    readme = [r for r in published if r[0] == "SSMTL (published)" and "README" in r[2]]
    rows += [t3_difference(run, readme[0])] if readme else []
    return pd.DataFrame(rows, columns=T3_COLUMNS)


# --- the search of t and lambda (section 4.2) --------------------------------------------------

SEARCH_COLUMNS = [
    "dataset",
    "source",
    "objective",
    "sampler",
    "trials",
    "best_t",
    "best_lambda",
    "best_value",
    "best_trial",
    "note",
]
TRIAL_COLUMNS = ["dataset", "trial", "t", "lambda", "state", "value"]


def search_ours(search: Loaded, dataset: str) -> list[str]:
    """Our search's best trial, or why there is none."""
    if search.data is None:
        return [dataset, "ours", search.missing, *["not run (see objective)"] * 6, NA]
    best = search.data.get("best") or {}
    value = number(best, "value", search.label)
    cells = [str(search.data.get(k, NA)) for k in ("objective", "sampler")]
    cells += [str(len(search.data.get("trials") or []))]
    cells += [str(best.get("t", NA)), str(best.get("lam", NA))]
    cells += [f"{value:.4f}" if value is not None else NA, str(best.get("trial", NA))]
    return [dataset, "ours", *cells, NA]


def search_tables(metrics: MetricsDir) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Best t and lambda per dataset, ours next to the paper's; and every trial."""
    rows, trials = [], []
    for dataset in DATASETS:
        search = metrics.load(dataset, "search.json")
        rows.append(search_ours(search, dataset))
        if dataset in LAMBDA:
            paper = [str(T), str(LAMBDA[dataset]), NOT_PUBLISHED, NA, PAPER_SEARCH_NOTE]
            rows.append([dataset, PAPER_SEARCH_SOURCE, "validation joint loss", "grid", NA, *paper])
        for trial in (search.data or {}).get("trials") or []:
            value = number(trial, "value", search.label)
            cells = [str(trial.get(k, NA)) for k in ("number", "t", "lam", "state")]
            trials.append([dataset, *cells, f"{value:.4f}" if value is not None else NA])
    return pd.DataFrame(rows, columns=SEARCH_COLUMNS), pd.DataFrame(trials, columns=TRIAL_COLUMNS)


# --- running time (supplementary section 6.2) --------------------------------------------------

FPS_COLUMNS = [
    "source",
    "dataset",
    "device",
    "arch",
    "detector",
    "level",
    "end_to_end_fps",
    "objects_per_frame",
    "ms_per_object",
    "model_objects_per_s",
    "ms_per_frame",
    "note",
]


def fps_ours(fps: Loaded, dataset: str) -> list[list[str]]:
    """One row per running-time run of ours (a device, an architecture, a detector)."""

    def fmt(run: Mapping[str, Any], key: str, decimals: int) -> str:
        value = number(run, key, fps.label)
        if value is None:
            return f"not computed: no {key} in {fps.label}"
        return f"{value:.{decimals}f}"

    out = []
    for run in (fps.data or {}).get("runs") or []:
        per_frame = run.get("ms_per_frame") or {}
        components = "; ".join(f"{k} {fmt(per_frame, k, 1)}" for k in per_frame) or NA
        names = [str(run.get(k, NA)) for k in ("device", "arch", "detector")]
        speeds = [
            fmt(run, "end_to_end_fps", 1),
            fmt(run, "objects_per_frame", 2),
            fmt(run, "ms_per_object", 2),
            fmt(run, "model_objects_per_s", 1),
        ]
        out.append(["ours", dataset, *names, "object", *speeds, components, NA])
    return out


def fps_published(ref: pd.DataFrame) -> list[list[str]]:
    """The supplementary's running time, on the authors' GPU."""
    rows = select(ref, table="supplementary")
    per_object = published_cell(rows[rows["metric"] == "ms_per_object"])
    components = rows[rows["metric"].str.startswith("ms_per_frame_")]
    per_frame = (
        "; ".join(
            f"{m.removeprefix('ms_per_frame_')} {v}"
            for m, v in zip(components["metric"], components["value"], strict=True)
        )
        or NOT_PUBLISHED
    )
    device = RUNNING_TIME["device_name"]
    out = []
    for r in rows[rows["metric"] == "fps"].itertuples():
        level = "late_fusion" if "late fusion" in r.note else r.level
        out.append(
            [
                r.source,
                r.dataset,
                device,
                NOT_PUBLISHED,
                "YOLOv3",
                level,
                r.value,
                NOT_PUBLISHED,
                per_object,
                NOT_PUBLISHED,
                per_frame,
                r.note or NA,
            ]
        )
    return out


def fps_table(ref: pd.DataFrame, metrics: MetricsDir) -> pd.DataFrame:
    """Running time: frames per second per device, ours next to the paper's (supplementary)."""
    rows = fps_published(ref)
    loaded = [(d, metrics.load(d, "fps.json")) for d in DATASETS if metrics.ran(d)]
    ours = [row for d, fps in loaded for row in fps_ours(fps, d)]
    if not ours:
        reason = "; ".join(f.missing for _, f in loaded)
        reason = reason or f"not run: no {metrics.label('<dataset>', 'fps.json')}"
        ours = [["ours", NA, reason, *[NA] * 9]]
    return pd.DataFrame(rows + ours, columns=FPS_COLUMNS)
