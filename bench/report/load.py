"""Reading the report's inputs: the ``metrics/`` folder (every file optional), the published
numbers of ``experiments/reference.csv``, and the labels naming the profile behind a number."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bench.paper import TASK_IDS
from bench.report.evaluations import EVALUATIONS, FRAME_TRAINING, OBJECT_TRAINING

if TYPE_CHECKING:
    from bench.suite.ablation import Row

DATASETS = ("avenue", "shanghaitech", "ped2", "synthetic")  # the paper's order, ours last
LEVEL_FILES = {
    "object": "object_level.json",
    "frame": "frame_level.json",
    "late_fusion": "late_fusion.json",
}
#: What each metrics file is the output of, for the "not run" reasons.
STAGES = {
    **{evaluation.name: evaluation.stage for evaluation in EVALUATIONS},
    OBJECT_TRAINING: "object-level training",
    FRAME_TRAINING: "frame-level training",
    "search.json": "search",
    "fps.json": "running-time benchmark",
}
TASK_KEYS = {name: task for task, name in TASK_IDS.items()}  # "arrow" -> "T1", as the paper
REFERENCE_COLUMNS = (
    "source",
    "table",
    "dataset",
    "method",
    "level",
    "arch",
    "tasks",
    "metric",
    "averaging",
    "value",
    "note",
)
NA = "—"
NOT_PUBLISHED = "not published"


# --- the metrics folder ------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object; ValueError naming the file when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def number(data: Mapping[str, Any] | None, key: str, where: str) -> float | None:
    """``data[key]`` as a float; None when absent, null or not finite; ValueError if not a
    number."""
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
        if value is None:
            return f"not computed: no {key} in {self.label}"
        return f"{100 * value:.1f}"


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
            why = f"not run: no {label} (the profile has no {STAGES[name]} output)"
            return Loaded(label, None, why)
        return Loaded(label, read_json(path))

    def ablation(
        self, dataset: str, rows: Mapping[str, Row], folder: str = "ablation"
    ) -> dict[str, list[dict[str, Any]]]:
        """The ablation results of a dataset by row id (``folder``: ablation or single_task, with
        the files directly in it or in one subfolder per group of rows), ordered by seed."""
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
                raise ValueError(
                    f"{path}: row {key[0]} seed {key[1]} again (also in {seen[key]}): "
                    "a row belongs to one group"
                )
            seen[key] = path
            record = read_json(path)
            label = self.label(dataset, *path.relative_to(self.root / dataset).parts)
            found.setdefault(match[1], []).append({**record, "seed": key[1], "label": label})
        return {row: sorted(records, key=lambda r: r["seed"]) for row, records in found.items()}


# --- the published numbers ---------------------------------------------------------------------


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
        value = ref.at[bad[0], "value"]
        raise ValueError(f"{path}: line {bad[0] + 2}: value {value!r} is not a number")
    return ref


def select(ref: pd.DataFrame, **equal: str) -> pd.DataFrame:
    """The reference rows whose columns equal the given values."""
    mask = np.ones(len(ref), dtype=bool)
    for column, value in equal.items():
        mask &= ref[column].to_numpy() == value
    return ref[mask]


def published_cell(rows: pd.DataFrame) -> str:
    """The first row's value as published, or why there is none."""
    if rows.empty:
        return NOT_PUBLISHED
    row = rows.iloc[0]
    if row["value"]:
        return row["value"]
    return f"not available: {row['note'] or 'empty in the source'}"


def is_number(cell: str) -> bool:
    """Whether a published cell holds a number (not a "not published"/"not available" text)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


# --- profile labels ----------------------------------------------------------------------------


def tasks_label(tasks: Sequence[str]) -> str:
    """``T1+T3`` from task names (``arrow``, ``middle``) or ids."""
    return "+".join(TASK_KEYS.get(t, t) for t in tasks)


def describe_config(config: Mapping[str, Any]) -> str:
    """A training config in words: ``shallow_narrow, T1+T3, 2 epochs, t=3, lambda=0.5``."""
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
    name = "train_frame_level.json" if level == "frame" else "train_object_level.json"
    train = metrics.load(dataset, name)
    if train.data is None:
        return f"ours (profile unknown: {train.missing.removeprefix('not run: ')})"
    config = train.data.get("config")
    if not isinstance(config, dict):
        return f"ours (profile not recorded in {train.label})"
    prefix = "late fusion with the frame level; object level: " if level == "late_fusion" else ""
    return f"ours ({prefix}{describe_config(config)})"


def eval_note(result: Loaded) -> str:
    """The counts of an evaluation, for a table's note column (the strict macro AUC, which this
    note used to hold, has columns of its own)."""
    if result.data is None:
        return NA
    parts = [f"{result.data[k]} {k}" for k in ("videos", "frames") if k in result.data]
    one_class = result.data.get("one_class_videos") or []
    return "; ".join(parts + ([f"{len(one_class)} one-class videos"] if one_class else [])) or NA
