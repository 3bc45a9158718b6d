"""Side-by-side benchmark (``ssmtl bench compare``): each hot stage beside a plain reference.

In one process, on the same inputs (the first ``frames`` frames of the first test video and
their detections), every stage of the pipeline is timed next to the obvious code for the same
work (:mod:`bench.suite.bench_reference`):

========  ==============================================  ==========================================
stage     ours                                            reference
========  ==============================================  ==========================================
tubes     :func:`bench.tubes.build_tube_cache` (3.1)      per-object ``roi_align`` loop (the same
                                                          tubes, checked); the ``cv2.resize`` loop
                                                          (other sampling) beside them
imagenet  :func:`bench.teachers.teacher_targets` (3.3),   the bare TorchScript network on the same
          decoding and cropping included                  crops at its fastest batch, fp32, ch.-last
detector  :class:`bench.teachers.DetectorTeacher` (3.3)   ``YOLO.predict`` once per frame
train     :func:`bench.train.run_epoch` incl. loading     plain eq. (5) loop on random tensors,
                                                          fp32, PyTorch's default layout; the
                                                          same loop in channels-last beside it
score     :func:`bench.score.object_scores` (3.4)         plain forward of the four heads, default
                                                          layout; channels-last beside it
fps       :func:`bench.suite.bench_fps.benchmark_fps`     the paper's 23 FPS (GTX 1080 Ti, 6.2)
========  ==============================================  ==========================================

``scales`` repeats the data-proportional stages at ``k`` times the input (tubes, imagenet, score:
every box plus ``k - 1`` copies shifted by half a pixel; detector, fps: ``k`` times the frames;
train: ``k`` times the batches) so the table shows cost growing linearly and peak memory
(:class:`bench.suite.bench_memory.PeakRSS`) staying flat. Each stage and its reference run
``repeats`` times in turn and each side's fastest run counts (:func:`best_of`).
"""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from bench.io import write_json
from bench.suite.bench_load import OtherLoad
from bench.suite.bench_stages import STAGE_FUNCTIONS, Inputs, Side, prepare_inputs, scaled

STAGES = ("tubes", "imagenet", "detector", "train", "score", "fps")
UNITS = {
    "tubes": "tubes",
    "imagenet": "crops",
    "detector": "frames",
    "train": "samples",
    "score": "objects",
    "fps": "frames",
}


#: loops a stage times beside its reference (a :class:`Side` in its extras): the tubes'
#: ``cv2.resize`` loop (other sampling), and the plain training and scoring loops with the
#: network in the model's own channels-last layout instead of PyTorch's default
ALSO_TIMED = ("resize", "same_layout")


def significant(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant digits (a fixed number of decimals loses slow
    stages: 0.174 items/s would read 0.17)."""
    return float(f"{value:.{digits}g}")


def _row(stage: str, k: int, mine: Side, theirs: Side, extra: dict) -> dict:
    ratio = mine.per_s / theirs.per_s if theirs.seconds > 0 else float("nan")
    for name in ALSO_TIMED:
        also = extra.pop(name, None)
        if also is not None:
            extra[f"{name}_per_s"] = significant(also.per_s)
            extra[f"{name}_seconds"] = round(also.seconds, 3)
            extra[f"{name}_ratio"] = significant(mine.per_s / also.per_s, 3)
    return {
        "stage": stage,
        "scale": k,
        "unit": UNITS[stage],
        "items": mine.items,
        "ours_per_s": significant(mine.per_s),
        "reference_per_s": significant(theirs.per_s),
        "ratio": significant(ratio, 3),
        "ours_seconds": round(mine.seconds, 3),
        "reference_seconds": round(theirs.seconds, 3),
        "ours_peak_mb": round(mine.peak_mb, 1),
        "reference_peak_mb": None if np.isnan(theirs.peak_mb) else round(theirs.peak_mb, 1),
        "dtype": extra.pop("dtype", "fp32"),
        **extra,
    }


def best_of(run: Callable[[int], tuple[Side, Side, dict]], repeats: int) -> tuple[Side, Side, dict]:
    """``run(repeat)`` (ours then the reference, one stage at one scale) ``repeats`` times:
    each side's fastest run (the least disturbed, as ``timeit`` reports) and its largest peak
    memory; the first run's extras, where an extra that is a :class:`Side` (another timed
    loop) is its fastest run too and a boolean (a check) must hold on every run; every run's
    seconds and peak memory (``ours_seconds_each``, ``reference_seconds_each``,
    ``ours_peak_mb_each``, ``reference_peak_mb_each``) so the spread stays visible: the first
    run of a new batch shape also pays oneDNN's and the allocator's one-time memory, the last
    is the warm one. Alternating the two sides spreads slow spells of a shared host over
    both."""
    runs = [run(repeat) for repeat in range(max(1, repeats))]

    def best(sides: list[Side]) -> Side:
        peaks = [side.peak_mb for side in sides if not np.isnan(side.peak_mb)]
        fastest = min(sides, key=lambda side: side.seconds)
        return Side(fastest.items, fastest.seconds, max(peaks) if peaks else float("nan"))

    extra = dict(runs[0][2])
    for key, value in extra.items():
        if isinstance(value, Side):
            extra[key] = best([r[2][key] for r in runs])
        elif isinstance(value, bool):
            extra[key] = all(r[2][key] for r in runs)
    extra["repeats"] = len(runs)
    extra["ours_seconds_each"] = [round(mine.seconds, 3) for mine, _, _ in runs]
    extra["reference_seconds_each"] = [round(theirs.seconds, 3) for _, theirs, _ in runs]
    extra["ours_peak_mb_each"] = [round(mine.peak_mb, 1) for mine, _, _ in runs]
    extra["reference_peak_mb_each"] = [round(theirs.peak_mb, 1) for _, theirs, _ in runs]
    return best([r[0] for r in runs]), best([r[1] for r in runs]), extra


def scaling(rows: list[dict]) -> dict[str, dict]:
    """Per stage measured at several scales: seconds per item and peak memory at each scale
    relative to the smallest (linear cost: ``cost_ratio`` near 1; flat memory: ``memory_growth_mb``
    near 0, from each scale's largest peak, and ``warm_memory_growth_mb`` from each scale's last
    run, which one-time allocations of a first run do not inflate)."""
    out: dict[str, dict] = {}
    for stage in dict.fromkeys(row["stage"] for row in rows):
        runs = sorted((r for r in rows if r["stage"] == stage), key=lambda r: r["scale"])
        if len(runs) < 2:
            continue
        base = runs[0]["ours_seconds"] / max(1, runs[0]["items"])
        out[stage] = {
            "scales": [r["scale"] for r in runs],
            "items": [r["items"] for r in runs],
            "cost_ratio": [
                round(r["ours_seconds"] / max(1, r["items"]) / base, 2) if base > 0 else None
                for r in runs
            ],
            "memory_growth_mb": round(runs[-1]["ours_peak_mb"] - runs[0]["ours_peak_mb"], 1),
        }
        warm = [r.get("ours_peak_mb_each", [None])[-1] for r in (runs[0], runs[-1])]
        if None not in warm:
            out[stage]["warm_memory_growth_mb"] = round(warm[1] - warm[0], 1)
    return out


def environment(other_cpus: float | None = None) -> dict:
    """Device, threads and versions the figures were taken with; ``other_cpus``: the CPUs other
    processes kept busy meanwhile (:class:`bench.suite.bench_load.OtherLoad`)."""
    from bench.devices import cpu_bf16_conv3d_agrees, device_name, native_bf16

    cpu = torch.device("cpu")
    native = native_bf16(cpu)
    return {
        "device": "cpu",
        "device_name": device_name(cpu),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "native_bf16": native,
        # whether its bf16 3D convolutions agree with fp32 (precision auto trains in bf16 if so)
        "bf16_conv3d_agrees": cpu_bf16_conv3d_agrees() if native else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "other_cpus": other_cpus,
    }


def run_compare(
    inputs: Inputs,
    stages: Sequence[str] = STAGES,
    scales: Sequence[int] = (1,),
    on_row: Callable[[dict], None] | None = None,
    repeats: int = 3,
) -> dict:
    """Every stage of ``stages`` at every scale, ours beside the reference, each pair run
    ``repeats`` times (:func:`best_of`); the report: ``environment``, ``inputs``, ``rows`` (one
    per stage and scale), ``scaling``."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; choose from {STAGES}")
    inputs.work.mkdir(parents=True, exist_ok=True)
    state: dict = {}
    rows = []
    with OtherLoad() as other:
        try:
            for k in scales:
                for stage in (s for s in STAGES if s in stages):

                    def run(repeat: int, stage: str = stage, k: int = k) -> tuple[Side, Side, dict]:
                        state["first_repeat"] = repeat == 0  # one-off extras (bf16) run once
                        return STAGE_FUNCTIONS[stage](inputs, k, state)

                    row = _row(stage, k, *best_of(run, repeats))
                    rows.append(row)
                    if on_row is not None:
                        on_row(row)
                state.pop("cache", None)
                shutil.rmtree(inputs.work / f"tubes_x{k}", ignore_errors=True)
        finally:
            shutil.rmtree(inputs.work / "train_tubes", ignore_errors=True)
    return {
        "benchmark": "compare",
        "environment": environment(other.cpus),
        "inputs": {
            "dataset": inputs.dataset.name,
            "video": inputs.video.id,
            "frames": len(inputs.frames),
            "frame_shape": list(inputs.frames.shape[1:3]),
            "detections": len(inputs.table),
            "t": inputs.t,
            "arch": inputs.arch,
            "imagenet": str(inputs.imagenet),
            "yolo": str(inputs.yolo),
            "train_batch": inputs.train_batch,
            "reference_batch": inputs.ref_batch,
            "repeats": repeats,
        },
        "rows": rows,
        "scaling": scaling(rows),
    }


HEADER = ("stage", "x", "unit", "ours/s", "ref/s", "ratio", "ours MB", "ref MB", "dtype")


def format_row(row: dict) -> str:
    ref_mb = "-" if row["reference_peak_mb"] is None else f"{row['reference_peak_mb']:.0f}"
    cells = (
        row["stage"], f"{row['scale']}", row["unit"], f"{row['ours_per_s']:.1f}",
        f"{row['reference_per_s']:.1f}", f"{row['ratio']:.2f}", f"{row['ours_peak_mb']:.0f}",
        ref_mb, row["dtype"],
    )  # fmt: skip
    return "  ".join(f"{cell:>8}" for cell in cells)


def format_report(report: dict) -> str:
    env = report["environment"]
    lines = [
        f"{env['device_name']} ({env['device']}), {env['threads']} threads, "
        f"{env['interop_threads']} inter-op, native bf16 {env['native_bf16']} "
        f"(conv3d agrees with fp32: {env.get('bf16_conv3d_agrees')}), "
        f"other processes kept {env.get('other_cpus')} CPUs busy",
        "  ".join(f"{cell:>8}" for cell in HEADER),
        *(format_row(row) for row in report["rows"]),
    ]
    for stage, figures in report["scaling"].items():
        lines.append(
            f"scaling {stage}: x{figures['scales']} -> cost per item x{figures['cost_ratio']}, "
            f"peak memory {figures['memory_growth_mb']:+.0f} MB"
            f" (warm runs {figures.get('warm_memory_growth_mb', float('nan')):+.0f} MB)"
        )
    for row in report["rows"]:
        b = row.get("bf16")
        if b and row["stage"] == "train":
            lines.append(
                f"train bf16 autocast: {b['samples_per_s']:.1f} samples/s vs fp32 "
                f"{b['fp32_samples_per_s']:.1f} (default here: {row['dtype']})"
            )
        elif b:
            lines.append(
                f"imagenet bf16 autocast: {b['bf16_crops_per_s']:.1f} crops/s vs fp32 "
                f"{b['fp32_crops_per_s']:.1f}; top-1 agreement {b['top1_agreement']:.3f}, "
                f"logit MAE {b['logit_mae']:.4f}"
            )
    return "\n".join(lines)


def write_report(path: str | Path, report: dict) -> Path:
    path = Path(path)
    write_json(path, report)
    return path


__all__ = [
    "STAGES",
    "Inputs",
    "format_report",
    "prepare_inputs",
    "run_compare",
    "scaled",
    "scaling",
    "write_report",
]
