"""The headline results (the README's table): every level of every dataset that was run, next to
the frame-difference baseline, with the profile that produced each row.

``ssmtl report`` writes it as ``reports/summary.md`` and, with ``--readme``, copies it between
the README's results markers, so the README's numbers are regenerated, never typed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bench.report.load import DATASETS, NA, MetricsDir, profile_label

README_BEGIN = "<!-- results:begin (written by `ssmtl report` from reports/; do not edit) -->"
README_END = "<!-- results:end -->"
LEVELS = {
    "object_level.json": ("SSMTL object level", "object"),
    "frame_level.json": ("SSMTL frame level", "frame"),
    "late_fusion.json": ("late fusion", "late_fusion"),
    "frame_diff.json": ("frame-difference baseline (no training)", None),
}
COLUMNS = ["dataset", "run", "micro AUC", "macro AUC padded / strict", "RBDC", "TBDC", "profile"]


def summary_table(metrics: MetricsDir) -> pd.DataFrame:
    """One row per dataset and level with a metrics file; AUC, RBDC and TBDC in percent."""
    rows = []
    for dataset in DATASETS:
        for name, (run, level) in LEVELS.items():
            result = metrics.load(dataset, name)
            if result.data is None:
                continue

            def cell(key: str, result=result) -> str:
                return result.pct(key) if result.num(key) is not None else NA

            macro = f"{cell('auc_macro_padded')} / {cell('auc_macro_strict')}"
            profile = profile_label(metrics, dataset, level) if level else "ours (no training)"
            profile = profile.removeprefix("ours (").removesuffix(")")
            rows.append(
                [dataset, run, cell("auc_micro"), macro, cell("rbdc"), cell("tbdc"), profile]
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def replace_block(text: str, block: str, where: Path) -> str:
    """``text`` with what stands between the results markers replaced by ``block``."""
    pattern = re.compile(re.escape(README_BEGIN) + r"\n.*?" + re.escape(README_END), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"{where}: expected one '{README_BEGIN}' ... '{README_END}' block")
    return pattern.sub(lambda _: f"{README_BEGIN}\n{block.rstrip()}\n{README_END}", text)
