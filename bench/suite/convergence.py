"""The convergence table of issue 16: AUCs after every training epoch (section 4.2's budget).

A training run with ``ssmtl train --checkpoint-dir DIR`` keeps every epoch's weights
(``epoch_NNN.pt``) and its per-epoch training and validation figures (``resume.pt``). This module
scores the test split with each of them exactly as the ``score`` and ``evaluate`` stages do
(eq. 6, anomaly maps, section 3.4) and gives one row per epoch: micro and macro AUC, RBDC, TBDC,
each head's AUC alone, and the validation figures of Table 4. The table answers whether the gap
to the paper shrinks with the budget (epochs, training objects), and how fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from bench.data import VideoDataset
from bench.devices import pick_device
from bench.errors import ProvenanceError
from bench.io import write_json
from bench.metrics.evaluate import evaluate, per_head_aucs
from bench.progress import progress_bar
from bench.score import (
    MapConfig,
    frame_sizes,
    head_frame_scores,
    object_scores,
    scored_regions,
    video_frame_scores,
)
from bench.train import load_checkpoint
from bench.tubes import TubeCache

# the figures a row keeps from evaluate(): numbers only (the per-video table stays out)
AUC_KEYS = ("auc_micro", "auc_macro_padded", "auc_macro_strict", "rbdc", "tbdc")


def epoch_checkpoints(directory: Path) -> list[Path]:
    """The per-epoch weights of a run, in epoch order; a named error when there are none."""
    paths = sorted(Path(directory).glob("epoch_*.pt"))
    if not paths:
        raise FileNotFoundError(
            f"{directory}: no epoch_NNN.pt checkpoints; train with `ssmtl train --checkpoint-dir "
            f"{directory}` first"
        )
    return paths


def parse_epochs(epochs: str) -> set[int] | None:
    """``all`` -> None (every epoch); ``selected`` -> no extra epoch; ``1,2,4`` -> those."""
    if epochs == "all":
        return None
    if epochs == "selected":
        return set()
    try:
        return {int(e) for e in epochs.split(",")}
    except ValueError:
        raise ValueError(
            f"epochs must be 'all', 'selected' or a list such as 1,2,4, got {epochs!r}"
        ) from None


def training_history(directory: Path) -> dict[int, dict[str, float]]:
    """Per-epoch training and validation figures of a run (``resume.pt``), by epoch."""
    path = Path(directory) / "resume.pt"
    if not path.exists():
        return {}
    data = torch.load(path, map_location="cpu", weights_only=True)
    return {int(record["epoch"]): record for record in json.loads(data["history"])}


def check_same_t(cache: TubeCache, checkpoint: Path, t: int) -> None:
    """A named error when the tubes were cut with another t than the checkpoint trained on."""
    if cache.t != t:
        raise ProvenanceError(
            f"tubes built with t={cache.t}, the checkpoint {checkpoint} with t={t}",
            file=cache.root,
            fix=f"cut the tubes with --t {t} (ssmtl tubes) or train with t={cache.t}",
        )


def auc_row(
    dataset: VideoDataset,
    cache: TubeCache,
    scores: np.ndarray,
    sizes: dict[str, tuple[int, int]],
    config: MapConfig,
    alpha: float,
    beta: float,
    resamples: int,
) -> dict:
    """The AUCs of one set of test-object ``scores`` through the maps, filters and evaluation of
    the ``score`` and ``evaluate`` stages (section 3.4): :data:`AUC_KEYS`, the chance levels and,
    for ``resamples`` > 0, the bootstrap intervals. ``sizes``: :func:`frame_sizes` of the dataset,
    read once by the caller (it decodes a frame per video)."""
    frames = video_frame_scores(cache, scores, sizes, config)
    regions = scored_regions(cache, scores)
    result = evaluate(dataset, frames, regions, alpha=alpha, beta=beta, resamples=resamples)
    row = {key: result.get(key) for key in AUC_KEYS}
    row["chance"] = result["chance"]
    if "ci95" in result:
        row["ci95"] = result["ci95"]
    return row


def write_auc_rows(
    dataset: VideoDataset,
    cache: TubeCache,
    candidates: dict[str, np.ndarray],
    config: MapConfig,
    table: dict,
    out: Path,
    alpha: float,
    beta: float,
    resamples: int,
) -> dict:
    """:func:`auc_row` of every candidate set of object scores into ``table["rows"]``, the table
    rewritten to ``out`` after each row (a stopped run keeps what it finished)."""
    sizes = frame_sizes(dataset)
    table.setdefault("rows", {})
    for name, scores in candidates.items():
        table["rows"][name] = auc_row(dataset, cache, scores, sizes, config, alpha, beta, resamples)
        write_json(out, table)
    return table


def evaluate_checkpoint(
    dataset: VideoDataset,
    checkpoint: Path,
    cache: TubeCache,
    targets: np.ndarray | None,
    config: MapConfig,
    alpha: float,
    beta: float,
    resamples: int,
    device: str = "cpu",
) -> dict:
    """One row: the AUCs of one checkpoint (with chance levels and, for ``resamples`` > 0,
    bootstrap intervals) and each head's AUC alone; the network runs on ``device``."""
    model, _, t = load_checkpoint(checkpoint, device)
    check_same_t(cache, checkpoint, t)
    heads = object_scores(model, cache, targets, progress=False)
    sizes = frame_sizes(dataset)
    row = auc_row(dataset, cache, heads["score"], sizes, config, alpha, beta, resamples)
    row["per_head"] = per_head_aucs(
        dataset, head_frame_scores(cache, heads, model.tasks, sizes, config), checkpoint
    )
    return row


def convergence_table(
    dataset: VideoDataset,
    checkpoint_dir: Path,
    tubes_dir: Path,
    targets_path: Path | None,
    config: MapConfig,
    out: Path,
    alpha: float = 0.1,
    beta: float = 0.1,
    resamples: int = 1000,
    epochs: str = "all",
    device: str = "cpu",
) -> dict:
    """Rows for every epoch of a run (``epochs="all"``; bootstrap intervals for the last epoch
    and the epoch of the lowest validation loss), for the selected and the last epoch
    (``"selected"``; the selected one is the checkpoint training keeps: the seeds of a final row)
    or for a comma-separated list of epochs plus those two (``"1,2,4,8"``), written to ``out``
    as JSON after each row, so a stopped evaluation keeps its finished rows' figures visible.
    The network runs on ``device`` (``auto``: CUDA when available); maps and evaluation on the
    CPU."""
    wanted = parse_epochs(epochs)
    device = str(pick_device(device))
    cache = TubeCache.open(tubes_dir)
    targets = np.load(targets_path, mmap_mode="r") if targets_path else None
    history = training_history(checkpoint_dir)
    checkpoints = epoch_checkpoints(checkpoint_dir)
    numbers = [int(path.stem.split("_")[1]) for path in checkpoints]
    val = {e: history.get(e, {}).get("val_joint_loss", np.inf) for e in numbers}
    best = min(numbers, key=lambda e: val[e])
    table: dict = {"best_epoch": best, "epochs_trained": numbers[-1], "rows": []}
    todo = [
        (epoch, path)
        for epoch, path in zip(numbers, checkpoints, strict=True)
        if wanted is None or epoch in wanted or epoch in (best, numbers[-1])
    ]
    for epoch, path in progress_bar(todo, desc="epochs"):
        with_ci = epoch in (best, numbers[-1])
        row = evaluate_checkpoint(
            dataset, path, cache, targets, config, alpha, beta, resamples if with_ci else 0, device
        )
        record = history.get(epoch, {})
        row = {
            "epoch": epoch,
            **row,
            **{k: v for k, v in record.items() if k.startswith("val_") or k == "train_joint_loss"},
        }
        table["rows"].append(row)
        write_json(out, table)
    return table
