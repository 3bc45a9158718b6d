"""The data behind the plots (section 4.1): CSV files that ``dvc plots`` templates and the HTML
report read.

* ROC curve of a level (``roc_<level>.csv``: ``fpr``, ``tpr``), all test frames pooled (the
  micro convention), thinned to at most ``MAX_ROC_POINTS`` points; ``auc`` is in the file name's
  companion JSON of ``ssmtl evaluate``, not here.
* Frame scores against the ground truth (``scores_<level>.csv``: ``index``, ``video``,
  ``frame``, ``score``, ``ground_truth``): one row per test frame, the score min-max normalised
  per video as in the paper's Figures 2-11; ``index`` runs over the whole test set so one
  ``dvc plots`` line shows every video.
* Training history (``train_<level>.csv``): one row per epoch, ``epoch`` then every loss,
  accuracy and MAE of training and validation (``train_loss_arrow``, ``val_loss_arrow``, ...).
* Search (``search.csv``): one row per Optuna trial, ``trial``, ``t``, ``lambda``, ``value``,
  ``state``.

Every file is written atomically (:mod:`bench.io`). No pandas: the metrics layer stays light.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.io import write_text
from bench.metrics.frame_auc import roc_curve_points
from bench.metrics.postprocess import normalize_per_video

MAX_ROC_POINTS = 400
HISTORY_SKIP = ("objects_per_s",)  # throughput, not a training curve
SEARCH_COLUMNS = ("trial", "t", "lambda", "value", "state")

Table = dict[str, list[Any]]


def thin(fpr: np.ndarray, tpr: np.ndarray, limit: int = MAX_ROC_POINTS) -> tuple[np.ndarray, ...]:
    """At most ``limit`` points of a ROC curve, evenly spaced along its length, always keeping
    the first (0, 0) and last (1, 1) points, so the drawn curve and its shape stay the same."""
    if len(fpr) <= limit:
        return fpr, tpr
    step = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(fpr), np.diff(tpr)))])
    wanted = np.linspace(0.0, step[-1], limit)
    keep = np.unique(np.searchsorted(step, wanted).clip(0, len(fpr) - 1))
    keep = np.union1d(keep, [0, len(fpr) - 1])
    return fpr[keep], tpr[keep]


def roc_table(labels: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray]) -> Table:
    """The pooled (micro) ROC curve of every test frame: ``fpr``, ``tpr``."""
    videos = sorted(labels)
    y = np.concatenate([np.asarray(labels[v]).astype(bool) for v in videos])
    s = np.concatenate([np.asarray(scores[v], dtype=np.float64) for v in videos])
    fpr, tpr = thin(*roc_curve_points(y, s))
    return {"fpr": [round(float(x), 6) for x in fpr], "tpr": [round(float(x), 6) for x in tpr]}


def score_table(labels: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray]) -> Table:
    """One row per test frame, videos in id order: the normalised score and the ground truth."""
    table: Table = {"index": [], "video": [], "frame": [], "score": [], "ground_truth": []}
    for video in sorted(labels):
        truth = np.asarray(labels[video]).astype(int)
        start = len(table["index"])
        table["index"] += list(range(start, start + len(truth)))
        table["video"] += [video] * len(truth)
        table["frame"] += list(range(len(truth)))
        normalised = normalize_per_video(np.asarray(scores[video], np.float64))
        table["score"] += [round(float(x), 6) for x in normalised]
        table["ground_truth"] += truth.tolist()
    return table


def history_table(history: Sequence[Mapping[str, float]]) -> Table:
    """One row per epoch of a training run's ``history`` (``bench.train``'s per-epoch records):
    ``epoch`` first, then every loss/accuracy/MAE column in the records' order."""
    columns: list[str] = ["epoch"]
    for record in history:
        columns += [k for k in record if k not in columns and not any(s in k for s in HISTORY_SKIP)]
    table: Table = {c: [] for c in columns}
    for number, record in enumerate(history, start=1):
        table["epoch"].append(int(record.get("epoch", number)))
        for column in columns[1:]:
            value = record.get(column)
            table[column].append("" if value is None else round(float(value), 6))
    return table


def search_table(trials: Iterable[Mapping[str, Any]]) -> Table:
    """One row per trial of ``search.json``'s ``trials``; ``value`` empty for a failed trial."""
    table: Table = {c: [] for c in SEARCH_COLUMNS}
    for trial in trials:
        value = trial.get("value")
        finite = isinstance(value, (int, float)) and math.isfinite(value)
        table["trial"].append(trial.get("number", len(table["trial"])))
        table["t"].append(trial.get("t", ""))
        table["lambda"].append(trial.get("lam", trial.get("lambda", "")))
        table["value"].append(round(float(value), 6) if finite else "")
        table["state"].append(trial.get("state", ""))
    return table


def csv_text(table: Table) -> str:
    """``table`` (columns of equal length) as CSV text with a header line."""
    lengths = {len(v) for v in table.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of unequal length: {lengths}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table)
    writer.writerows(zip(*table.values(), strict=True))
    return out.getvalue()


def write_table(path: Path, table: Table) -> Path:
    """``table`` as a CSV file, written atomically."""
    return write_text(path, csv_text(table))


TEXT_COLUMNS = ("video", "state")


def read_table(path: Path) -> Table:
    """A CSV file written by :func:`write_table`, numbers as floats (empty cells as NaN), the
    columns of ``TEXT_COLUMNS`` as text (video ids such as ``01``)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise ValueError(f"{path}: empty CSV file")
    columns: Table = {c: [] for c in rows[0]}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(rows[0]):
            raise ValueError(f"{path}: line {line} has {len(row)} cells, expected {len(rows[0])}")
        for name, cell in zip(rows[0], row, strict=True):
            columns[name].append(cell if name in TEXT_COLUMNS else _cell(cell))
    return columns


def _cell(text: str) -> float | str:
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return text


def write_level_curves(
    out_dir: Path,
    level: str,
    labels: Mapping[str, np.ndarray],
    scores: Mapping[str, np.ndarray],
) -> list[Path]:
    """``roc_<level>.csv`` and ``scores_<level>.csv`` of one level's frame scores."""
    return [
        write_table(out_dir / f"roc_{level}.csv", roc_table(labels, scores)),
        write_table(out_dir / f"scores_{level}.csv", score_table(labels, scores)),
    ]


def history_path(metrics_out: Path) -> Path:
    """Where a training writes its history: beside its summary, in the dataset's plots folder
    (``metrics/<dataset>/train_object_level.json`` -> ``metrics/<dataset>/plots/
    train_object_level.csv``)."""
    return metrics_out.parent / "plots" / f"{metrics_out.stem}.csv"
