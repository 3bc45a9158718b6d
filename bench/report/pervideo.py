"""The AUC of every test video, per dataset and pipeline level (from an evaluation's
``per_video``): the paper's macro AUC (section 4.1) is the mean of these, so a reviewer can see
which videos carry it, and which are one-class videos whose padded AUC is decided by the pads
(their padded chance level is near 100%, :mod:`bench.metrics.chance`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from bench.report.evidence import (
    BELOW_CHANCE,
    RANDOM_SCORER_AUC,
    SMOKE_ONLY,
    joined,
    pct,
    whole,
)
from bench.report.levels import SOURCES, load_level
from bench.report.load import DATASETS, NA, MetricsDir, number

PER_VIDEO_COLUMNS = [
    "dataset",
    "level",
    "video",
    "frames",
    "abnormal_frames",
    "auc_strict",
    "auc_padded",
    "chance_padded",
    "flags",
]


def video_row(vid: str, entry: Mapping[str, Any], where: str) -> list[str]:
    """One video: counts, strict AUC (``—`` for a one-class video), padded AUC and chance."""
    where = f"{where}: per_video {vid}"
    frames, abnormal = whole(entry.get("frames")), whole(entry.get("abnormal_frames"))
    strict, padded = number(entry, "auc", where), number(entry, "auc_padded", where)
    chance = number(entry, "chance_padded", where)
    flags = []
    if strict is not None and strict < RANDOM_SCORER_AUC:
        flags.append(f"{BELOW_CHANCE}: strict {pct(strict)} < {pct(RANDOM_SCORER_AUC)}")
    if padded is not None and chance is not None and padded < chance:
        flags.append(f"{BELOW_CHANCE}: padded {pct(padded)} < {pct(chance)}")
    if frames is not None and abnormal is not None and abnormal in (0, frames):
        flags.append("one-class video: the strict AUC is undefined, the pads decide the padded one")
    cells = [
        str(frames) if frames is not None else "not recorded",
        str(abnormal) if abnormal is not None else "not recorded",
        pct(strict) if strict is not None else NA,
        pct(padded) if padded is not None else "not computed",
        pct(chance) if chance is not None else "not computed",
    ]
    return [vid, *cells, joined(flags)]


def per_video_table(metrics: MetricsDir) -> pd.DataFrame:
    """Every test video of every evaluated pipeline level; one row saying why when a level has
    no ``per_video`` (older files) or is a smoke run."""
    rows = []
    for dataset in DATASETS:
        for name, source in SOURCES.items():
            level = load_level(metrics, dataset, name)
            if not level.ran:
                continue
            head = [dataset, source]
            per_video = level.result.data.get("per_video")
            if level.smoke:
                rows.append([*head, SMOKE_ONLY, *[NA] * 5, "smoke run: see Smoke runs"])
            elif not isinstance(per_video, Mapping) or not per_video:
                why = f"not computed: no per_video in {level.result.label}"
                rows.append([*head, why, *[NA] * 5, "not checked"])
            else:
                where = level.result.label
                rows += [[*head, *video_row(v, e, where)] for v, e in sorted(per_video.items())]
    return pd.DataFrame(rows, columns=PER_VIDEO_COLUMNS)
