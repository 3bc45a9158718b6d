"""Tube cache benchmark (``ssmtl bench tubes``): throughput and peak memory of the build.

Measures :func:`bench.tubes.build_tube_cache` (the object-centric sequences of section 3.1) in
tubes per second and peak resident memory. The memory claim to check is that the build streams:
peak memory does not grow with the number of tubes. So the same build is run for the detections
as given (N rows) and for a table twice as large (2N rows: every detection plus a copy shifted by
half a pixel, so the extra tubes are real, distinct crops over the same frames), each in a fresh
Python process that reports its own ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak resident
set, file-backed mapped pages included) before and after the build. ``build_peak_mb`` = peak
minus that baseline (importing torch alone takes several hundred MB); the 2N build's should match
the N build's (``growth_mb`` near 0) while the cache on disk doubles.

The build's working set is capped per ``roi_align`` chunk (:data:`bench.tubes.MAX_OBJECTS_PER_CALL`
objects) and per frame block, so on toy inputs whose blocks hold fewer objects than a chunk (the
``tiny`` synthetic preset) memory still grows up to that cap; measure on Ped2 or the ``default``
preset.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import DatasetError
from bench.paper import DETECTION_CONFIDENCE

#: ``growth_mb`` below this many MB (or 10% of the N build's own memory, whichever is larger)
#: counts as flat.
FLAT_TOLERANCE_MB = 64.0

#: What the fresh process of one build runs: :func:`tube_child` on the JSON spec in ``argv[1]``.
CHILD_CODE = (
    "import json, sys; from bench.suite.bench_tubes import tube_child; "
    "print(json.dumps(tube_child(json.loads(sys.argv[1]))))"
)


def default_detections(root: Path, split: str) -> Path:
    """``ROOT/detections/boxes_SPLIT.npz``, else ``yolov3_SPLIT.npz``; DatasetError when neither
    exists."""
    candidates = [root / "detections" / f"{stem}_{split}.npz" for stem in ("boxes", "yolov3")]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise DatasetError(
            f"no detections file: give --detections (looked for {', '.join(map(str, candidates))})"
        )
    return path


def load_detections(path: Path, dataset_name: str, confidence: float | None) -> tuple[Any, float]:
    """A Detections table (``.npz`` with ``video`` and ``boxes``) or a precomputed boxes file (one
    ``(k, 6)`` array per video), and the confidence threshold applied: ``confidence``, else the
    paper's for the dataset (section 4.2), else 0. A table is filtered only when ``confidence``
    is given (its boxes passed the detector's own threshold)."""
    from bench.detection import Detections, load_precomputed

    with np.load(path, allow_pickle=False) as archive:
        is_table = "boxes" in archive.files and "video" in archive.files
    threshold = DETECTION_CONFIDENCE.get(dataset_name, 0.0) if confidence is None else confidence
    detections = Detections.load(path) if is_table else load_precomputed(path, threshold)
    if is_table and confidence is not None:
        detections = detections.filter(detections.confidence >= threshold)
    return detections, threshold


def _rss_mb() -> float:
    """This process's peak resident set so far, in MiB (``ru_maxrss`` is KiB on Linux, bytes on
    macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def scaled_detections(detections: Any, copies: int, shift: float = 0.5) -> dict[str, np.ndarray]:
    """``video``, ``frame``, ``boxes`` columns of ``copies`` copies of the table, copy ``j``
    shifted by ``j * shift`` pixels (rows re-sorted by video and frame)."""
    video = np.asarray(detections.video).astype(str)
    frame = np.asarray(detections.frame).astype(np.int32)
    boxes = np.asarray(detections.boxes, dtype=np.float32).reshape(-1, 4)
    video = np.concatenate([video] * copies)
    frame = np.concatenate([frame] * copies)
    boxes = np.concatenate([boxes + np.float32(j * shift) for j in range(copies)])
    order = np.lexsort((np.arange(len(frame)), frame, video))
    return {"video": video[order], "frame": frame[order], "boxes": boxes[order]}


class _Columns:
    """The three columns the tube builder reads (a stand-in for a full detections table)."""

    def __init__(self, video: np.ndarray, frame: np.ndarray, boxes: np.ndarray):
        self.video, self.frame, self.boxes = video, frame, boxes

    def __len__(self) -> int:
        return len(self.frame)


def tube_child(spec: dict) -> dict:
    """Run one tube build in this (fresh) process and report time and memory."""
    from bench.data import open_dataset
    from bench.tubes import build_tube_cache

    dataset = open_dataset(spec["dataset"], spec["root"])
    with np.load(spec["detections"], allow_pickle=False) as archive:
        detections = _Columns(archive["video"], archive["frame"], archive["boxes"])
    dataset.videos(spec["split"])  # list the videos (and frame counts) before the baseline
    out = Path(spec["out"])
    for folder in (out, out.parent / (out.name + ".partial")):
        if folder.exists():
            shutil.rmtree(folder)
    baseline = _rss_mb()  # peak so far: the imports, the dataset listing and the detections
    start = time.perf_counter()
    cache = build_tube_cache(
        dataset,
        spec["split"],
        detections,
        out,
        t=spec["t"],
        progress=False,
        batch_frames=spec["batch_frames"],
        workers=spec["workers"],
        key=spec.get("key"),
    )
    seconds = time.perf_counter() - start
    peak = _rss_mb()
    return {
        "detections": int(len(detections)),
        "tubes": int(len(cache)),
        "seconds": round(seconds, 3),
        "tubes_per_s": round(len(cache) / seconds, 1) if seconds > 0 else None,
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(peak, 1),
        "build_peak_mb": round(peak - baseline, 1),
        "cache_mb": round(_folder_mb(out), 1),
    }


def _run_child(spec: dict, scale: int) -> dict:
    """:func:`tube_child` in a fresh interpreter that imports the same ``bench`` as this one (the
    parent's ``sys.path`` is handed down: a checkout or an installed package alike)."""
    command = [sys.executable, "-c", CHILD_CODE, json.dumps(spec)]
    path = [entry for entry in sys.path if entry]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(
            f"tube build for {scale}x detections failed "
            f"(exit {result.returncode}):\n{result.stderr[-4000:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _print_run(scale: int, run: dict) -> None:
    print(
        f"{scale}x: {run['detections']} detections -> {run['tubes']} tubes in "
        f"{run['seconds']:.1f} s ({run['tubes_per_s']} tubes/s); peak RSS "
        f"{run['peak_rss_mb']:.0f} MB = {run['baseline_rss_mb']:.0f} MB after imports + "
        f"{run['build_peak_mb']:.0f} MB for the build; cache {run['cache_mb']:.0f} MB",
        flush=True,
    )


def benchmark_tubes(
    dataset: Any,
    split: str,
    detections: Any,
    t: int,
    out_dir: str | Path,
    *,
    scales: Sequence[int] = (1, 2),
    batch_frames: int = 64,
    workers: int | None = None,
    key: dict | None = None,
    keep: bool = False,
    verbose: bool = True,
) -> dict:
    """Build the tube cache of ``split`` for ``scales`` x the detections, each in a fresh process.

    Returns ``{"runs": [per scale: detections, tubes, seconds, tubes_per_s, baseline_rss_mb,
    peak_rss_mb, build_peak_mb, cache_mb], "growth_mb": build_peak_mb(2N) - build_peak_mb(N),
    "flat": bool, ...}`` and prints a table when ``verbose``. The caches are written under
    ``out_dir`` and deleted afterwards unless ``keep``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for scale in scales:
        columns = scaled_detections(detections, scale)
        table = out_dir / f"detections_x{scale}.npz"
        np.savez(table, **columns)
        spec = {
            "dataset": dataset.name,
            "root": str(dataset.root),
            "split": split,
            "t": int(t),
            "detections": str(table),
            "out": str(out_dir / f"tubes_x{scale}"),
            "batch_frames": int(batch_frames),
            "workers": workers,
            "key": key,
        }
        run = _run_child(spec, scale)
        run["scale"] = scale
        runs.append(run)
        if not keep:
            shutil.rmtree(spec["out"], ignore_errors=True)
            table.unlink()
        if verbose:
            _print_run(scale, run)
    report: dict = {
        "benchmark": "tubes",
        "dataset": dataset.name,
        "root": str(dataset.root),
        "split": split,
        "t": int(t),
        "batch_frames": int(batch_frames),
        "workers": workers,
        "cpus": os.cpu_count(),
        "runs": runs,
    }
    if len(runs) >= 2:
        first, last = runs[0], runs[-1]
        growth = last["build_peak_mb"] - first["build_peak_mb"]
        report["growth_mb"] = round(growth, 1)
        report["tube_ratio"] = round(last["tubes"] / max(1, first["tubes"]), 2)
        report["flat"] = bool(growth <= max(FLAT_TOLERANCE_MB, 0.1 * first["build_peak_mb"]))
        if verbose:
            verdict = "flat" if report["flat"] else "NOT flat"
            print(
                f"peak build memory for {report['tube_ratio']}x the tubes: "
                f"{growth:+.0f} MB ({verdict})"
            )
    return report
