"""Figures a person would rather look at than read: frame scores against the ground truth per
test video (like the paper's Figures 2-11) and localization overlays of detected anomalies."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.atomic import atomic_path  # noqa: E402
from bench.datasets import VideoDataset  # noqa: E402
from bench.metrics import normalize_per_video  # noqa: E402


def save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically (temporary file, then rename) and close it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def plot_frame_scores(dataset: VideoDataset, scores: dict[str, np.ndarray], out_dir: Path) -> list[Path]:
    """One PNG per test video: the frame score curve over shaded ground-truth anomalies."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for video in dataset.videos("test"):
        fig, ax = plt.subplots(figsize=(8, 2.5))
        x = np.arange(video.num_frames)
        ax.fill_between(x, 0, 1, where=video.labels > 0, color="tab:red", alpha=0.2, step="mid", label="ground truth", transform=ax.get_xaxis_transform())
        ax.plot(x, normalize_per_video(scores[video.id]), color="tab:blue", label="anomaly score")
        ax.set(xlim=(0, video.num_frames - 1), ylim=(0, 1.02), xlabel="frame", ylabel="score (normalised)", title=f"{dataset.name} test video {video.id}")
        ax.legend(loc="upper right", fontsize=8)
        paths.append(save(fig, out_dir / f"scores_{video.id}.png"))
    return paths


def plot_localization(dataset: VideoDataset, regions: dict[str, np.ndarray], out_dir: Path, count: int = 6) -> list[Path]:
    """The ``count`` frames whose best region scores highest, with the top regions drawn in red
    and the ground-truth tracks' boxes in green."""
    out_dir.mkdir(parents=True, exist_ok=True)
    best = [(float(r[:, 5].max()), vid, int(r[r[:, 5].argmax(), 0])) for vid, r in regions.items() if len(r)]
    paths = []
    for rank, (_, vid, frame) in enumerate(sorted(best, reverse=True)[:count]):
        video = dataset.video("test", vid)
        fig, ax = plt.subplots(figsize=(5, 5 * video[0].shape[0] / video[0].shape[1]))
        ax.imshow(video[frame])
        rows = regions[vid][regions[vid][:, 0] == frame]
        threshold = np.quantile(rows[:, 5], 0.5) if len(rows) > 1 else -np.inf
        for _, x0, y0, x1, y1, score in rows[rows[:, 5] >= threshold]:
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="red", lw=1.5))
            ax.text(x0, y0, f"{score:.2f}", color="red", fontsize=7, va="bottom")
        tracks = video.tracks if video.tracks is not None else np.zeros((0, 6))
        for _, _, x0, y0, x1, y1 in tracks[tracks[:, 1] == frame]:
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=1, ls="--"))
        ax.set_axis_off()
        ax.set_title(f"video {vid} frame {frame}: red = detected, green = ground truth", fontsize=8)
        paths.append(save(fig, out_dir / f"localization_{rank}_{vid}_{frame}.png"))
    return paths
