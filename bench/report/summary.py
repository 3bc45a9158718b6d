"""The headline results (the README's table): every level of every dataset that was run (Table 2's
levels, section 3.5), next to the frame-difference baseline, with the profile that produced each
row, its seed count, each AUC's 95% interval and chance level, and its flags.

``ssmtl report`` writes it as ``reports/summary.md`` and, with ``--readme``, copies it between
the README's results markers, so the README's numbers are regenerated, never typed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bench.report.diagnosis import headline_seed_rows, spans_seeds
from bench.report.evaluations import EVALUATIONS
from bench.report.evidence import CHANCE_COLUMN, NOT_COMPUTED
from bench.report.levels import Level, load_level
from bench.report.load import DATASETS, NA, MetricsDir, is_number, profile_label
from bench.report.selection import held_out_estimate
from bench.report.tables import seed_cells, seed_flags

README_BEGIN = "<!-- results:begin (written by `ssmtl report` from reports/; do not edit) -->"
README_END = "<!-- results:end -->"
COLUMNS = [
    "dataset",
    "run",
    "micro AUC",
    "micro 95% CI",
    "macro AUC padded / strict",
    "macro 95% CI padded / strict",
    CHANCE_COLUMN,
    "RBDC",
    "TBDC",
    "RBDC / TBDC 95% CI",
    "seeds",
    "profile",
    "flags",
]


def cells(run: Level, key: str) -> tuple[str, str]:
    """A metric in percent and its 95% interval; ``—`` for a metric the file does not have
    (RBDC/TBDC of a level without regions); a smoke run's read so (its numbers are not
    results)."""
    if run.result.num(key) is None:
        return NA, NA
    value, ci = run.cells(key)
    # The README's table stays short: the report's tables name the file a key is missing from.
    return value, NOT_COMPUTED if ci.startswith(NOT_COMPUTED) else ci


def pair(first: str, second: str) -> str:
    """``a / b``, or ``a`` alone when both say the same words (a smoke run's cells)."""
    return first if first == second and not is_number(first) else f"{first} / {second}"


def summary_table(metrics: MetricsDir) -> pd.DataFrame:
    """One row per dataset and level with a metrics file; AUC, RBDC and TBDC in percent."""
    rows = []
    seeds = headline_seed_rows(metrics)
    for dataset in DATASETS:
        for evaluation in EVALUATIONS:
            name, title, level = evaluation.name, evaluation.title, evaluation.level
            run = load_level(metrics, dataset, name)
            if not run.ran:
                continue
            (micro, micro_ci), padded, strict, rbdc, tbdc = (
                cells(run, k)
                for k in ("auc_micro", "auc_macro_padded", "auc_macro_strict", "rbdc", "tbdc")
            )
            profile = profile_label(metrics, dataset, level) if level else "ours (no training)"
            profile = profile.removeprefix("ours (").removesuffix(")")
            keys = ("auc_micro", "auc_macro_padded", "auc_macro_strict", "rbdc", "tbdc")
            if evaluation.deviation and level == "frame" and dataset == "ped2":
                held_out = held_out_estimate(metrics)
                title += f"; {held_out}" if held_out else ""
            rows.append(
                [
                    dataset,
                    title,
                    micro,
                    micro_ci,
                    pair(padded[0], strict[0]),
                    pair(padded[1], strict[1]),
                    run.chance(),
                    rbdc[0],
                    tbdc[0],
                    pair(rbdc[1], tbdc[1]),
                    run.seeds,
                    profile,
                    run.flags(keys),
                ]
            )
            if level in ("object", "frame") and not evaluation.deviation:
                rows += seed_summary_rows(seeds, dataset, level, run, profile)
    return pd.DataFrame(rows, columns=COLUMNS)


def seed_summary_rows(
    seeds: list[dict], dataset: str, level: str, run: Level, profile: str
) -> list[list]:
    """The object or frame level as mean ± std over training seeds (issue 14), below the seed-0
    row; ``seeds``: :func:`bench.report.diagnosis.seed_rows`. A level trained at one seed only
    gets no such row: it would repeat the seed-0 row as a "mean"."""
    out = []
    for row in (r for r in seeds if (r["dataset"], r["level"]) == (dataset, level)):
        if not spans_seeds(row):
            continue
        v = seed_cells(row)
        out.append(
            [dataset, f"SSMTL {level} level, mean ± std over seeds", v["auc_micro"], NA,
             pair(v["auc_macro_padded"], v["auc_macro_strict"]), NA, run.chance(), v["rbdc"],
             v["tbdc"], NA, row["seeds"], profile, seed_flags(row, run)]
        )  # fmt: skip
    return out


def replace_block(text: str, block: str, where: Path) -> str:
    """``text`` with what stands between the results markers replaced by ``block``."""
    pattern = re.compile(re.escape(README_BEGIN) + r"\n.*?" + re.escape(README_END), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"{where}: expected one '{README_BEGIN}' ... '{README_END}' block")
    return pattern.sub(lambda _: f"{README_BEGIN}\n{block.rstrip()}\n{README_END}", text)
