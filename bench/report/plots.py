"""The HTML report's figures, drawn from the plot data of ``ssmtl plots`` and training
(:mod:`bench.metrics.curves`, ``metrics/<dataset>/plots/*.csv``) and returned as PNG bytes to
inline in the page.

* ROC curves of every level of a dataset on one axis, with the chance diagonal (all test
  frames pooled: the micro convention; the legend gives each level's micro AUC);
* frame scores against the ground truth, one small panel per test video, anomalous frames
  shaded (like the paper's Figures 2-11);
* training and validation loss per proxy task per epoch.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only: no display on the machines the report runs on
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.metrics.curves import Table  # noqa: E402

LEVEL_TITLES = {
    "object_level": "object level",
    "frame_level": "frame level",
    "late_fusion": "late fusion",
    "frame_diff": "frame-difference baseline",
}


def png(fig: plt.Figure) -> bytes:
    """``fig`` as PNG bytes (closed afterwards)."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def roc_figure(
    dataset: str, curves: Mapping[str, Table], aucs: Mapping[str, float | None]
) -> bytes:
    """Every level's ROC curve (``curves``: level -> ``fpr``/``tpr`` table) on one axis."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="chance (random scorer)")
    for level, table in curves.items():
        auc = aucs.get(level)
        label = LEVEL_TITLES.get(level, level)
        label += f" (micro AUC {100 * auc:.1f})" if auc is not None else ""
        ax.plot(table["fpr"], table["tpr"], lw=1.6, label=label)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="false positive rate",
        ylabel="true positive rate",
        title=f"{dataset}: ROC, all test frames pooled",
    )
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=7)
    return png(fig)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def scores_figure(dataset: str, level: str, table: Table, columns: int = 4) -> bytes:
    """One panel per test video: the normalised frame score over the shaded anomalous frames."""
    videos = list(dict.fromkeys(str(v) for v in table["video"]))
    rows = max(1, math.ceil(len(videos) / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.0 * columns, 1.6 * rows + 0.4), squeeze=False
    )
    video = np.array([str(v) for v in table["video"]])
    frame, score = np.asarray(table["frame"], float), np.asarray(table["score"], float)
    truth = np.asarray(table["ground_truth"], float) > 0
    for ax, vid in zip(axes.flat, videos, strict=False):
        mine = video == vid
        for start, stop in _runs(truth[mine]):
            ax.axvspan(
                frame[mine][start] - 0.5,
                frame[mine][stop - 1] + 0.5,
                color="tab:red",
                alpha=0.25,
                lw=0,
            )
        ax.plot(frame[mine], score[mine], color="tab:blue", lw=1)
        ax.set(ylim=(0, 1.05), xlim=(frame[mine].min(), frame[mine].max()))
        ax.set_title(f"video {vid}", fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(videos) :]:
        ax.set_axis_off()
    title = f"{dataset}, {LEVEL_TITLES.get(level, level)}: score (blue) vs ground truth (red)"
    fig.suptitle(title, fontsize=9)
    return png(fig)


def history_figure(title: str, table: Table) -> bytes | None:
    """Loss per proxy task per epoch, training solid and validation dashed; None without any
    loss column."""
    tasks = [c.removeprefix("val_loss_") for c in table if c.startswith("val_loss_")]
    if not tasks or not table.get("epoch"):
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for task, color in zip(tasks, colors, strict=False):
        for split, style in (("train", "-"), ("val", "--")):
            column = table.get(f"{split}_loss_{task}")
            if column is not None:
                ax.plot(table["epoch"], column, style, color=color, label=f"{split} {task}")
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.legend(fontsize=7, ncol=2)
    return png(fig)


def aucs_of(
    results: Mapping[str, Mapping | None], levels: Sequence[str]
) -> dict[str, float | None]:
    """The micro AUC of each level's evaluation (None when the file is absent or lacks it)."""
    found: dict[str, float | None] = {}
    for level in levels:
        value = (results.get(level) or {}).get("auc_micro")
        found[level] = float(value) if isinstance(value, (int, float)) else None
    return found
