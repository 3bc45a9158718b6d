"""The report's held-out head-selection table (issue 16; :mod:`bench.suite.selection`): what
choosing eq. (6)'s heads on half of Ped2's test videos is worth on the other half, read from
``metrics/ped2/head_selection/<run>.json`` (object level) and ``head_selection_frame/<run>.json``
(frame level), written by ``ssmtl head-selection``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from bench.report.load import NA, MetricsDir, read_json

SELECTION_COLUMNS = [
    "run", "row", "held-out micro AUC", "5%-95% of splits", "picked row beats it",
    "micro AUC, all videos",
]  # fmt: skip

#: what each row of the held-out table is, in the order shown
ROW_LABELS = {
    "selected": "heads picked on the other half",
    "deviation": "the deviation ({name})",
    "eq6": "eq. (6) as published ({name})",
    "baseline": "baseline: {name} (nothing to choose)",
    "oracle": "best on the held-out half itself (upper bound)",
}


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def head_selection_table(metrics: MetricsDir) -> pd.DataFrame:
    """Per run, object level (``head_selection/``) then frame level (``head_selection_frame/``):
    the held-out micro AUC (mean ± std over every split of the test videos into halves) of the
    heads picked on the other half, of the fixed rows, the baseline and the held-out half's own
    best; how often the picked heads beat each row; and each row's AUC on all videos. With
    several runs of a level, the mean over them of each row."""
    rows = []
    for level, folder in (
        ("object level", "head_selection"),
        ("frame level", "head_selection_frame"),
    ):
        rows += _level_rows(metrics, level, folder)
    return pd.DataFrame(rows, columns=SELECTION_COLUMNS)


def _level_rows(metrics: MetricsDir, level: str, folder: str) -> list[list[str]]:
    """:func:`head_selection_table`'s rows of one level's runs (``metrics/ped2/<folder>/``)."""
    rows, pooled = [], {}
    paths = sorted((metrics.root / "ped2" / folder).glob("*.json"))
    for path in paths:
        table = read_json(path)
        held, fixed = table["held_out_auc_micro"], table.get("fixed", {})
        for key, label in ROW_LABELS.items():
            if key not in held:
                continue
            figures = held[key]
            wins = table.get("selected_wins", {}).get(key)
            full = table.get("all_videos_rows", {}).get(key)
            what = Path(table["baseline"]).stem if key == "baseline" else fixed.get(key, "")
            name = label.format(name=what)
            if key == "selected":
                picked = ", ".join(f"{n} {c}x" for n, c in list(table["chosen"].items())[:2])
                name += f" ({table['splits']} splits; most often {picked})"
            rows.append(
                [
                    f"{level} {path.stem}",
                    name,
                    f"{_pct(figures['mean'])} ± {_pct(figures['std'])}",
                    f"[{_pct(figures['p05'])}, {_pct(figures['p95'])}]",
                    NA if wins is None else f"{100 * wins:.0f}% of splits",
                    NA if full is None else _pct(full),
                ]
            )
            pooled.setdefault(key, []).append(figures["mean"])
    if len(paths) > 1:
        for key, means in pooled.items():
            label = re.sub(r":? ?\(?\{name\}\)?", "", ROW_LABELS[key])
            rows.append(
                [f"{level}, mean over {len(means)} runs", label,
                 f"{_pct(np.mean(means))} ± {_pct(np.std(means, ddof=1))}", NA, NA, NA]
            )  # fmt: skip
    return rows


def held_out_estimate(metrics: MetricsDir) -> str | None:
    """One line for the rows of the frame level's named deviation: what its choice of heads
    scores on test videos it was not chosen on (the picked heads' held-out micro AUC, mean over
    the runs of ``head_selection_frame/``) beside the frame difference on the same halves; None
    before ``ssmtl head-selection`` ran."""
    paths = sorted((metrics.root / "ped2" / "head_selection_frame").glob("*.json"))
    if not paths:
        return None
    held = [read_json(path)["held_out_auc_micro"] for path in paths]
    picked = [h["selected"]["mean"] for h in held]
    text = f"its choice of heads scored on held-out test videos: {_pct(np.mean(picked))}"
    if len(picked) > 1:
        text += f" ± {_pct(np.std(picked, ddof=1))} over {len(picked)} runs"
    baseline = [h["baseline"]["mean"] for h in held if "baseline" in h]
    if baseline:
        name = Path(read_json(paths[0])["baseline"]).stem
        text += f", the baseline ({name}) {_pct(np.mean(baseline))} on the same halves"
    return text


__all__ = ["SELECTION_COLUMNS", "head_selection_table", "held_out_estimate"]
