"""The performance table of the report (issue 15; supplementary section 6.2): each hot stage
beside its plain reference, from the JSON ``ssmtl bench compare`` writes
(``metrics/<dataset>/bench.json``, :mod:`bench.suite.bench_compare`).

:func:`performance_table` gives one row per stage and scale; :func:`scaling_table` the cost per
item and the peak memory at each scale relative to the smallest (linear cost, flat memory).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

#: What each stage's reference is (``ssmtl bench compare``, bench/suite/bench_reference.py).
REFERENCES = {
    "tubes": "per-object roi_align loop (the same tubes)",
    "imagenet": "bare TorchScript network at its fastest batch of 16/32/64, fp32, channels-last",
    "detector": "YOLO.predict per frame",
    "train": "plain eq. (5) loop on random tensors, fp32, PyTorch's default layout",
    "score": "plain forward of the four heads, PyTorch's default layout",
    "fps": "paper: 23 FPS, GTX 1080 Ti",
}

COLUMNS = [
    "stage", "scale", "unit", "ours/s", "reference/s", "ratio", "ours peak MB",
    "reference peak MB", "dtype", "reference", "runs", "also measured", "device", "threads",
    "other CPUs busy", "flags",
]  # fmt: skip


#: loops timed beside a reference (bench.suite.bench_compare.ALSO_TIMED) and what each is
ALSO_TIMED = {
    "resize": "cv2.resize loop (other sampling)",
    "same_layout": "the plain loop in the model's channels-last layout",
}


def also_measured(row: dict) -> str:
    """What a row measured beside its reference: for the tubes, the ``cv2.resize`` loop, faster
    but sampling differently (no area averaging for boxes over 64 pixels, fixed-point weights),
    so its tubes are not the pipeline's; for training and scoring, the plain loop with the
    network in the model's channels-last layout (what ours gains beyond that layout)."""
    return "; ".join(
        f"{label}: {row[f'{name}_per_s']:,.0f}/s, ours {row[f'{name}_ratio']:.2f}x of it"
        for name, label in ALSO_TIMED.items()
        if row.get(f"{name}_per_s") is not None
    )


def runs(row: dict) -> str:
    """How the figures were taken: the fastest of ``repeats`` runs of each side, or one run."""
    repeats = row.get("repeats", 1)
    return f"best of {repeats}" if repeats > 1 else "one run"


def load_flag(env: dict) -> str:
    """A flag when other jobs shared the machine while the benchmark ran, so that ratios and
    scaling are noise: other processes kept more than a quarter of the CPUs busy on average
    (``other_cpus``; the load average is no measure: it counts the benchmark's own threads)."""
    cpus, others = env.get("cpus"), env.get("other_cpus")
    if not cpus or others is None:
        return "load not recorded"
    if others > 0.25 * cpus:
        return (
            f"⚠ loaded machine: other jobs kept {others:.1f} of {cpus} CPUs busy "
            "(rerun on a quiet one)"
        )
    return "none"


def load_bench(source: str | Path | dict) -> dict:
    """The report of ``ssmtl bench compare``: a path to its JSON or the dict itself."""
    return source if isinstance(source, dict) else json.loads(Path(source).read_text())


def performance_table(source: str | Path | dict) -> pd.DataFrame:
    """One row per stage and scale: throughput of ours and of the reference, their ratio, peak
    memory of each, dtype, what the reference is, the device and the threads."""
    report = load_bench(source)
    env = report.get("environment", {})
    rows = [
        {
            "stage": row["stage"],
            "scale": row["scale"],
            "unit": row["unit"],
            "ours/s": row["ours_per_s"],
            "reference/s": row["reference_per_s"],
            "ratio": row["ratio"],
            "ours peak MB": row["ours_peak_mb"],
            "reference peak MB": row.get("reference_peak_mb"),
            "dtype": row.get("dtype", "fp32"),
            "reference": row.get("reference", REFERENCES.get(row["stage"], "")),
            "runs": runs(row),
            "also measured": also_measured(row),
            "device": env.get("device_name", env.get("device", "")),
            "threads": env.get("threads"),
            "other CPUs busy": env.get("other_cpus"),
            "flags": load_flag(env),
        }
        for row in report.get("rows", [])
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


SCALING_COLUMNS = [
    "stage",
    "scale",
    "items",
    "cost per item vs smallest",
    "memory growth MB (largest vs smallest)",
    "warm-run memory growth MB",
]


def scaling_table(source: str | Path | dict) -> pd.DataFrame:
    """Per stage and scale: items, cost per item relative to the smallest scale (1.0 = linear)
    and the peak-memory growth from the smallest to the largest scale: of each scale's largest
    peak, and of each scale's last (warm) run where the file records every run's."""
    report = load_bench(source)
    rows = []
    for stage, figures in report.get("scaling", {}).items():
        for scale, items, cost in zip(
            figures["scales"], figures["items"], figures["cost_ratio"], strict=True
        ):
            rows.append(
                {
                    "stage": stage,
                    "scale": scale,
                    "items": items,
                    "cost per item vs smallest": cost,
                    "memory growth MB (largest vs smallest)": figures["memory_growth_mb"],
                    "warm-run memory growth MB": figures.get("warm_memory_growth_mb"),
                }
            )
    return pd.DataFrame(rows, columns=SCALING_COLUMNS)


#: ``ssmtl bench model --json`` rows measured on a GPU (issue 15's GPU path), by file
GPU_MODEL_GLOB = "gpu/bench_model*.json"
GPU_MODEL_COLUMNS = [
    "arch", "device", "batch", "precision", "channels-last", "compile",
    "train samples/s", "score objects/s",
]  # fmt: skip


def gpu_model_table(metrics) -> pd.DataFrame:
    """The 3D CNN alone on a GPU (training samples/s with all four tasks, scoring objects/s) for
    each architecture, precision, layout and compile setting ``ssmtl bench model`` timed there:
    ``metrics/gpu/bench_model*.json``. Empty when no GPU was lent."""
    rows = []
    for path in sorted(Path(metrics.root).glob(GPU_MODEL_GLOB)):
        for row in json.loads(path.read_text()):
            rows.append(
                [
                    row["arch"],
                    row.get("device_name", row["device"]),
                    row["batch_size"],
                    row["precision"],
                    "on" if row["channels_last"] else "off",
                    "on" if row["compile"] else "off",
                    f"{row['train_samples_per_s']:,.0f}",
                    f"{row['score_objects_per_s']:,.0f}",
                ]
            )
    return pd.DataFrame(rows, columns=GPU_MODEL_COLUMNS)


#: ``ssmtl bench profile`` files (bench.cli.bench_profile.DEFAULT_OUT and any beside it)
PROFILE_GLOB = "profile/*.json"
PROFILE_COLUMNS = [
    "device", "arch", "batch", "precision", "category", "kind", "ms per step", "share", "rate",
    "of the ceiling",
]  # fmt: skip


def _profile_rows(profile: dict) -> list[list]:
    env = profile.get("environment", {})
    head = [
        env.get("device_name", env.get("device", "")),
        profile["arch"],
        profile["batch_size"],
        profile["precision"],
    ]
    rows = []
    for row in profile["categories"]:
        rate, ceiling = "", ""
        if "gflop_per_s" in row:
            rate, ceiling = f"{row['gflop_per_s']:.0f} GFLOP/s", f"{row['matmul_share']:.0%}"
        elif "gb_per_s" in row:
            rate = f"{row['gb_per_s']:.1f} GB/s ({row['minimum_gb']:.2f} GB at least)"
            ceiling = f"{row['copy_share']:.0%}"
        share = f"{row['share']:.1%}"
        rows.append(
            [*head, row["category"], row["kind"], round(row["ms"], 1), share, rate, ceiling]
        )
    ceilings, bounds = profile["ceilings"], profile["bounds"]
    needed = bounds["rest_speedup_needed"]
    rows += [
        [*head, "whole step", "", round(profile["step_ms"], 1), "100%",
         f"{profile['samples_per_s']:.1f} samples/s", ""],
        [*head, "ceiling: fp32 matmul / copy", "", "", "",
         f"{ceilings['matmul_gflop_per_s']:.0f} GFLOP/s / {ceilings['copy_gb_per_s']:.1f} GB/s",
         ""],
        [*head, "bound: only the compute", "", round(bounds["compute_ms"], 1), "",
         f"{bounds['samples_per_s_if_rest_were_free']:.1f} samples/s", ""],
        [*head, "bound: the convolutions at the matmul's rate, nothing else", "", "", "",
         f"{bounds['samples_per_s_at_matmul_rate_alone']:.1f} samples/s", ""],
        [*head, f"target {bounds['target_samples_per_s']:.1f} samples/s", "",
         round(bounds["rest_ms"], 1), "",
         f"the rest {needed:.1f}x faster" if needed else "out of reach", ""],
    ]  # fmt: skip
    return rows


def training_profile_table(metrics) -> pd.DataFrame:
    """Where a training step's time goes (``ssmtl bench profile``,
    :mod:`bench.suite.bench_profile`): per operator category its ms, share, rate and share of
    the machine's ceiling (convolutions: GFLOP/s of a fp32 matmul; batch norm and ReLU: GB/s of
    a copy), then the whole step, the ceilings and the bounds they set. Empty when no profile
    was run."""
    rows = []
    for path in sorted(Path(metrics.root).glob(PROFILE_GLOB)):
        rows += _profile_rows(json.loads(path.read_text()))
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


__all__ = [
    "GPU_MODEL_COLUMNS",
    "PROFILE_COLUMNS",
    "REFERENCES",
    "gpu_model_table",
    "load_bench",
    "performance_table",
    "benchmark_scaling_table",
    "scaling_table",
    "training_profile_table",
]


def benchmark_table(metrics) -> pd.DataFrame:
    """:func:`performance_table` of every dataset with a ``bench.json`` under ``metrics``, with a
    ``dataset`` column first (empty when no benchmark was run)."""
    frames = []
    for path in sorted(Path(metrics.root).glob("*/bench.json")):
        table = performance_table(path)
        table.insert(0, "dataset", path.parent.name)
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["dataset", *COLUMNS])
    return pd.concat(frames, ignore_index=True)


def benchmark_scaling_table(metrics) -> pd.DataFrame:
    """:func:`scaling_table` of every dataset with a ``bench.json`` under ``metrics``, with a
    ``dataset`` column first (empty when no benchmark ran at several scales)."""
    frames = []
    for path in sorted(Path(metrics.root).glob("*/bench.json")):
        table = scaling_table(path)
        if len(table):
            table.insert(0, "dataset", path.parent.name)
            frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["dataset", *SCALING_COLUMNS])
    return pd.concat(frames, ignore_index=True)
