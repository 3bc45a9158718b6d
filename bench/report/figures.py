"""Figures a person would rather look at than read, every one written atomically as a PNG.

* ``ssmtl evaluate --figures``: frame scores against the ground truth per test video (like the
  paper's Figures 2-11) and localization overlays of detected anomalies;
* the report: micro vs macro AUC per Table 4 row, and the search objective per (t, lambda).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only: no display on the machines the report runs on
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.data import VideoDataset  # noqa: E402
from bench.io import atomic_path  # noqa: E402
from bench.metrics import normalize_per_video  # noqa: E402

if TYPE_CHECKING:
    from bench.report.table4 import Stat


def save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically (temporary file, then rename) and close it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


# --- ssmtl evaluate --figures ------------------------------------------------------------------


def plot_frame_scores(
    dataset: VideoDataset, scores: dict[str, np.ndarray], out_dir: Path
) -> list[Path]:
    """One PNG per test video: the frame score curve over shaded ground-truth anomalies."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for video in dataset.videos("test"):
        fig, ax = plt.subplots(figsize=(8, 2.5))
        x = np.arange(video.num_frames)
        ax.fill_between(
            x,
            0,
            1,
            where=video.labels > 0,
            color="tab:red",
            alpha=0.2,
            step="mid",
            label="ground truth",
            transform=ax.get_xaxis_transform(),
        )
        ax.plot(x, normalize_per_video(scores[video.id]), color="tab:blue", label="anomaly score")
        ax.set(
            xlim=(0, video.num_frames - 1),
            ylim=(0, 1.02),
            xlabel="frame",
            ylabel="score (normalised)",
            title=f"{dataset.name} test video {video.id}",
        )
        ax.legend(loc="upper right", fontsize=8)
        paths.append(save(fig, out_dir / f"scores_{video.id}.png"))
    return paths


def plot_localization(
    dataset: VideoDataset, regions: dict[str, np.ndarray], out_dir: Path, count: int = 6
) -> list[Path]:
    """The ``count`` frames whose best region scores highest, with the top regions drawn in red
    and the ground-truth tracks' boxes in green."""
    out_dir.mkdir(parents=True, exist_ok=True)
    best = [
        (float(r[:, 5].max()), vid, int(r[r[:, 5].argmax(), 0]))
        for vid, r in regions.items()
        if len(r)
    ]
    paths = []
    for rank, (_, vid, frame) in enumerate(sorted(best, reverse=True)[:count]):
        video = dataset.video("test", vid)
        fig, ax = plt.subplots(figsize=(5, 5 * video[0].shape[0] / video[0].shape[1]))
        ax.imshow(video[frame])
        rows = regions[vid][regions[vid][:, 0] == frame]
        threshold = np.quantile(rows[:, 5], 0.5) if len(rows) > 1 else -np.inf
        for _, x0, y0, x1, y1, score in rows[rows[:, 5] >= threshold]:
            box = plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="red", lw=1.5)
            ax.add_patch(box)
            ax.text(x0, y0, f"{score:.2f}", color="red", fontsize=7, va="bottom")
        tracks = video.tracks if video.tracks is not None else np.zeros((0, 6))
        for _, _, x0, y0, x1, y1 in tracks[tracks[:, 1] == frame]:
            box = plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=1, ls="--")
            ax.add_patch(box)
        ax.set_axis_off()
        title = f"video {vid} frame {frame}: red = detected, green = ground truth"
        ax.set_title(title, fontsize=8)
        paths.append(save(fig, out_dir / f"localization_{rank}_{vid}_{frame}.png"))
    return paths


# --- the report --------------------------------------------------------------------------------


def plot_ablation(dataset: str, stats: dict[str, dict[str, Stat]], path: Path) -> Path:
    """Table 4 as grouped bars: micro vs macro AUC (mean over seeds, std as error bar) per
    ablation row."""
    rows = [r for r, s in stats.items() if "auc_micro" in s or "auc_macro" in s]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(rows) + 2), 3.5))
    for offset, name, color in ((-0.2, "auc_micro", "tab:blue"), (0.2, "auc_macro", "tab:orange")):
        got = [stats[r].get(name) for r in rows]
        means = [s.mean if s else np.nan for s in got]
        stds = [s.std if s else 0.0 for s in got]
        label = name.replace("auc_", "AUC ")
        ax.bar(x + offset, means, 0.4, yerr=stds, color=color, label=label, capsize=2)
    title = f"{dataset}: ablation rows, ours (mean ± std over seeds)"
    ax.set(xticks=x, ylabel="frame AUC (%)", ylim=(0, 100), title=title)
    ax.set_xticklabels(rows, rotation=45, ha="right", fontsize=8)
    ax.legend(loc="lower right", fontsize=8)
    return save(fig, path)


def plot_search(dataset: str, trials: pd.DataFrame, path: Path) -> Path | None:
    """The search of t and lambda as a heatmap of its objective over the whole grid (mean over
    repeated trials); a cell whose every trial was pruned is hatched white (``//``), one whose
    trials failed is cross-hatched and framed red (``xx``), each labelled with its states and the
    objective it had reached when stopped. None when the dataset has no trial."""
    done = trials[trials["dataset"] == dataset].copy()
    for column in ("t", "lambda", "value"):
        done[column] = pd.to_numeric(done[column], errors="coerce")
    done = done.dropna(subset=["t", "lambda"])
    if done.empty or done["value"].isna().all():
        return None
    grid = done.pivot_table(index="t", columns="lambda", values="value", aggfunc="mean")
    finished = done[done["state"] == "COMPLETE"].groupby(["t", "lambda"]).size()
    states = done.groupby(["t", "lambda"])["state"].agg(lambda s: "/".join(sorted(set(s))))
    fig, ax = plt.subplots(figsize=(1.2 * grid.shape[1] + 2, 0.8 * grid.shape[0] + 1.5))
    image = ax.imshow(grid.to_numpy(), cmap="viridis_r", aspect="auto")
    for (i, j), value in np.ndenumerate(grid.to_numpy()):
        cell = (grid.index[i], grid.columns[j])
        stopped = cell in states.index and cell not in finished.index
        label = "not run" if not np.isfinite(value) else f"{value:.3f}"
        if stopped:
            failed = "FAIL" in states[cell]
            label += f"\n{states[cell].lower()}"
            ax.add_patch(
                plt.Rectangle(
                    (j - 0.5, i - 0.5),
                    1,
                    1,
                    fill=False,
                    hatch="xx" if failed else "//",
                    edgecolor="red" if failed else "white",
                    lw=2 if failed else 1,
                )
            )
        ax.text(j, i, label, ha="center", va="center", fontsize=8, color="white")
    ax.set(
        xticks=range(grid.shape[1]),
        yticks=range(grid.shape[0]),
        xlabel="lambda",
        ylabel="t",
        title=f"{dataset}: search objective (// pruned, red xx failed)",
    )
    ax.set_xticklabels([f"{lam:g}" for lam in grid.columns])
    ax.set_yticklabels([f"{t:g}" for t in grid.index])
    fig.colorbar(image, ax=ax)
    return save(fig, path)
