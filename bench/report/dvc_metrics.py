"""The numbers-only metrics file that DVC compares (``metrics/NAME/summary.json``).

The stages write rich JSON files (per-video AUCs, intervals, chance levels, configuration,
timings): the report reads those, and dvc.yaml keeps them as plain outputs. ``dvc exp show`` and
``dvc metrics diff`` turn every leaf of a file declared under ``metrics:`` into a column, so the
only file declared there is this one: the headline numbers a reader compares across experiments,
read from the rich files (the single source), about 30 in all. No strings, no configuration
(that is in params.yaml), no timings (they change every run: they stay in the rich files).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

SUMMARY_FILE = "summary.json"
#: evaluation file -> the keys compared (the AUCs of Tables 2-3; RBDC/TBDC where regions exist)
EVALUATIONS = {
    "object_level": ("auc_micro", "auc_macro_strict", "rbdc", "tbdc"),
    "frame_level": ("auc_micro", "auc_macro_strict", "rbdc", "tbdc"),
    "late_fusion": ("auc_micro", "auc_macro_strict"),
    "frame_diff": ("auc_micro", "auc_macro_strict"),
}
#: training file -> the selected checkpoint's epoch and validation loss
TRAININGS = {"train_object_level": "object_level", "train_frame_level": "frame_level"}
TRAIN_KEYS = ("best_epoch", "val_joint_loss")


def is_number(value: Any) -> bool:
    """A finite int or float (bools are not numbers here: DVC would show them as True/False)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a JSON tree by its dotted path, as ``dvc exp show`` names its columns."""
    if isinstance(tree, dict):
        found: dict[str, Any] = {}
        for key, value in tree.items():
            found.update(leaves(value, f"{prefix}{key}."))
        return found
    return {prefix.rstrip("."): tree}


def _read(path: Path) -> dict[str, Any] | None:
    """The JSON object at ``path``; None when absent (every stage is optional here)."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def _pick(data: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, float]:
    """The numeric values of ``keys`` in ``data`` (missing or non-finite ones left out)."""
    return {key: data[key] for key in keys if data and is_number(data.get(key))}


def _rows(folder: Path) -> list[dict[str, Any]]:
    """The rows (one JSON file each) of an ablation-like folder: ablation, single_task, seeds."""
    found = (_read(path) for path in sorted(folder.rglob("*.json"))) if folder.is_dir() else ()
    return [row for row in found if row]


def _row_auc(row: dict[str, Any]) -> float | None:
    value = (row.get("eval") or {}).get("auc_micro")
    return float(value) if is_number(value) else None


def _spread(values: list[float]) -> dict[str, float]:
    """Mean and (population) std of a list of AUCs; empty when there is none."""
    if not values:
        return {}
    return {"auc_micro_mean": float(np.mean(values)), "auc_micro_std": float(np.std(values))}


def _convergence(folder: Path) -> dict[str, dict[str, float]]:
    """Per training run of the convergence study: the selected epoch and its micro AUC."""
    runs: dict[str, dict[str, float]] = {}
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    for path in paths:
        if path.stem.endswith("_train"):
            continue
        table = _read(path) or {}
        best = table.get("best_epoch")
        chosen = [row for row in table.get("rows") or [] if row.get("epoch") == best]
        values = {"best_epoch": best, "auc_micro": chosen[0].get("auc_micro") if chosen else None}
        runs[path.stem] = {k: v for k, v in values.items() if is_number(v)}
    return {run: values for run, values in runs.items() if values}


def summarize(folder: Path) -> dict[str, Any]:
    """The headline numbers of one dataset's metrics folder (``metrics/NAME``), nested by what
    produced them; parts whose files are absent are left out."""
    summary: dict[str, Any] = {}
    for name, keys in EVALUATIONS.items():
        summary[name] = _pick(_read(folder / f"{name}.json"), keys)
    for name, level in TRAININGS.items():
        summary.setdefault("train", {})[level] = _pick(_read(folder / f"{name}.json"), TRAIN_KEYS)
    search = _read(folder / "search.json") or {}
    summary["search"] = _pick(search.get("best"), ("value", "t", "lam"))
    ablation = [auc for auc in map(_row_auc, _rows(folder / "ablation")) if auc is not None]
    if ablation:  # Table 4 as two numbers: its rows are compared in the report, not here
        summary["ablation"] = {
            "auc_micro_mean": float(np.mean(ablation)),
            "auc_micro_max": max(ablation),
        }
    summary["single_task"] = {
        str(row.get("row")): {"auc_micro": auc}
        for row in _rows(folder / "single_task")
        if (auc := _row_auc(row)) is not None
    }
    seeds = [auc for auc in map(_row_auc, _rows(folder / "seeds")) if auc is not None]
    summary["seeds"] = _spread(seeds)
    summary["convergence"] = _convergence(folder / "convergence")
    summary["deviation"] = {  # the Ped2 study's named deviation at frame level
        name: _pick(_read(folder / "deviation" / f"{name}.json"), EVALUATIONS[name])
        for name in ("frame_level", "late_fusion")
    }
    return _prune(summary)


def _prune(tree: dict[str, Any]) -> dict[str, Any]:
    """``tree`` without empty branches (DVC would show an empty dict as a column of its own)."""
    pruned = {k: _prune(v) if isinstance(v, dict) else v for k, v in tree.items()}
    return {k: v for k, v in pruned.items() if v != {}}
