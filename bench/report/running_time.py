"""The running time (supplementary section 6.2): our end-to-end FPS and its breakdown beside the
paper's, one list of string cells per table row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from bench.paper import RUNNING_TIME
from bench.report.load import (
    DATASETS,
    NA,
    NOT_PUBLISHED,
    Loaded,
    MetricsDir,
    number,
    published_cell,
    select,
)

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
