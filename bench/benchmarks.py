"""Performance benchmarks of the pipeline's stages (``ssmtl bench ...``).

Tube cache (:func:`benchmark_tubes`, ``ssmtl bench tubes``): throughput in tubes per second and
peak resident memory of :func:`bench.tubes.build_tube_cache`. The memory claim to check is that
the build streams: peak memory does not grow with the number of tubes. So the same build is run
for the detections as given (N rows) and for a table twice as large (2N rows: every detection plus
a copy shifted by half a pixel, so the extra tubes are real, distinct crops over the same frames),
each in a fresh Python process that reports its own ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
(peak resident set, file-backed mapped pages included) before and after the build.
``build_peak_mb`` = peak minus that baseline (importing torch alone takes several hundred MB); the
2N build's should match the N build's (``growth_mb`` near 0) while the cache on disk doubles.
The build's working set is capped per ``roi_align`` chunk (:data:`bench.tubes.MAX_OBJECTS_PER_CALL`
objects) and per frame block, so on toy inputs whose blocks hold fewer objects than a chunk (the
``tiny`` synthetic preset) memory still grows up to that cap; measure on Ped2 or the ``default``
preset.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

#: ``growth_mb`` below this many MB (or 10% of the N build's own memory, whichever is larger) counts as flat.
FLAT_TOLERANCE_MB = 64.0


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _rss_mb() -> float:
    """This process's peak resident set so far, in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def scaled_detections(detections: Any, copies: int, shift: float = 0.5) -> dict[str, np.ndarray]:
    """``video``, ``frame``, ``boxes`` columns of ``copies`` copies of the table, copy ``j`` shifted
    by ``j * shift`` pixels (rows re-sorted by video and frame)."""
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


def _tube_child(spec: dict) -> dict:
    """Run one tube build in this (fresh) process and report time and memory."""
    from bench.datasets import open_dataset
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
    cache = build_tube_cache(dataset, spec["split"], detections, out, t=spec["t"], progress=False, batch_frames=spec["batch_frames"], workers=spec["workers"], key=spec.get("key"))
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
        command = [sys.executable, "-m", "bench.benchmarks", "_tube-child", json.dumps(spec)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")]))}
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"tube build for {scale}x detections failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
        run = json.loads(result.stdout.strip().splitlines()[-1])
        run["scale"] = scale
        runs.append(run)
        if not keep:
            shutil.rmtree(spec["out"], ignore_errors=True)
            table.unlink()
        if verbose:
            print(f"{scale}x: {run['detections']} detections -> {run['tubes']} tubes in {run['seconds']:.1f} s ({run['tubes_per_s']} tubes/s); peak RSS {run['peak_rss_mb']:.0f} MB = {run['baseline_rss_mb']:.0f} MB after imports + {run['build_peak_mb']:.0f} MB for the build; cache {run['cache_mb']:.0f} MB", flush=True)
    report: dict = {"benchmark": "tubes", "dataset": dataset.name, "root": str(dataset.root), "split": split, "t": int(t), "batch_frames": int(batch_frames), "workers": workers, "cpus": os.cpu_count(), "runs": runs}
    if len(runs) >= 2:
        first, last = runs[0], runs[-1]
        growth = last["build_peak_mb"] - first["build_peak_mb"]
        report["growth_mb"] = round(growth, 1)
        report["tube_ratio"] = round(last["tubes"] / max(1, first["tubes"]), 2)
        report["flat"] = bool(growth <= max(FLAT_TOLERANCE_MB, 0.1 * first["build_peak_mb"]))
        if verbose:
            print(f"peak build memory for {report['tube_ratio']}x the tubes: {growth:+.0f} MB ({'flat' if report['flat'] else 'NOT flat'})")
    return report


def benchmark_model(arch: str, device: str, batch_size: int, steps: int, t: int = 3, warmup: int = 2) -> dict:
    """Training samples/s (objects per second, all four tasks) and scoring objects/s of one
    architecture on random tubes, after ``warmup`` steps, with device synchronisation."""
    import torch

    from bench.model import SSMTL
    from bench.train import joint_loss, task_losses

    dev = torch.device(device)
    model = SSMTL(arch).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    T = 2 * t + 1
    batch = {"regular": torch.rand(batch_size, 3, T, 64, 64, device=dev), "intermittent": torch.rand(batch_size, 3, T, 64, 64, device=dev),
             "teacher": torch.rand(batch_size, 1080, device=dev)}
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda")

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def train_step() -> None:
        with autocast:
            loss = joint_loss(task_losses(model, batch, model.tasks)[0], 0.5)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def score_step() -> None:
        x = batch["regular"]
        with autocast:
            model.arrow(x), model.motion(x), model.middle(torch.cat([x[:, :, :t], x[:, :, t + 1 :]], 2)), model.distill(x[:, :, t : t + 1])

    report = {"arch": arch, "device": str(dev), "batch_size": batch_size, "t": t}
    for name, step, train_mode in (("train_samples_per_s", train_step, True), ("score_objects_per_s", score_step, False)):
        model.train(train_mode)
        for _ in range(warmup):
            step()
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        report[name] = batch_size * steps / (time.perf_counter() - start)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """``ssmtl bench tubes NAME --root DIR --detections FILE [--split test] [--t 3] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="ssmtl bench", description="Benchmarks of the pipeline stages.")
    sub = parser.add_subparsers(dest="command", required=True)
    tubes = sub.add_parser("tubes", help="tube cache build: tubes/s and peak memory for N and 2N detections")
    tubes.add_argument("name", help="dataset name (ped2, synthetic, ...)")
    tubes.add_argument("--root", required=True, type=Path, help="dataset root folder")
    tubes.add_argument("--split", choices=["train", "test"], default="test")
    tubes.add_argument("--detections", type=Path, help="boxes .npz (one (k, 6) array per video) or a Detections .npz; default: ROOT/detections/boxes_SPLIT.npz, then yolov3_SPLIT.npz")
    tubes.add_argument("--confidence", type=float, help="keep boxes with confidence >= this (default: the paper's threshold for the dataset, else 0)")
    tubes.add_argument("--t", type=int, default=3)
    tubes.add_argument("--batch-frames", type=int, default=64)
    tubes.add_argument("--workers", type=int, help="roi_align threads (default: the usable CPUs, at most 8)")
    tubes.add_argument("--out", type=Path, help="scratch folder (default: a temporary folder)")
    tubes.add_argument("--keep", action="store_true", help="keep the caches")
    tubes.add_argument("--json", action="store_true", help="print the report as JSON")
    model = sub.add_parser("model", help="training samples/s and scoring objects/s of the 3D CNN")
    model.add_argument("--arch", nargs="+", default=["shallow_narrow", "shallow_wide", "deep_narrow", "deep_wide"])
    model.add_argument("--device", default="cuda" if _cuda() else "cpu")
    model.add_argument("--batch-size", type=int, default=32)
    model.add_argument("--steps", type=int, default=3)
    model.add_argument("--t", type=int, default=3)
    args = parser.parse_args(argv)
    if args.command == "model":
        for arch in args.arch:
            print(json.dumps(benchmark_model(arch, args.device, args.batch_size, args.steps, args.t)))
        return 0

    import tempfile

    from bench.datasets import DatasetError, open_dataset
    from bench.detection.detectors import PAPER_CONFIDENCE, load_precomputed
    from bench.detection.table import Detections

    try:
        dataset = open_dataset(args.name, args.root)
        path = args.detections
        if path is None:
            candidates = [args.root / "detections" / f"{stem}_{args.split}.npz" for stem in ("boxes", "yolov3")]
            path = next((p for p in candidates if p.is_file()), None)
            if path is None:
                raise DatasetError(f"no detections file: give --detections (looked for {', '.join(map(str, candidates))})")
        with np.load(path, allow_pickle=False) as archive:
            is_table = "boxes" in archive.files and "video" in archive.files
        confidence = PAPER_CONFIDENCE.get(args.name, 0.0) if args.confidence is None else args.confidence
        detections = Detections.load(path) if is_table else load_precomputed(path, confidence)
        if is_table and args.confidence is not None:
            detections = detections.filter(detections.confidence >= confidence)
    except (DatasetError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    key = {"detections_file": str(path), "confidence": confidence}
    with tempfile.TemporaryDirectory(prefix="ssmtl-bench-tubes-") as scratch:
        report = benchmark_tubes(dataset, args.split, detections, args.t, args.out or scratch, batch_frames=args.batch_frames, workers=args.workers, key=key, keep=args.keep and args.out is not None, verbose=not args.json)
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_tube-child":
        print(json.dumps(_tube_child(json.loads(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
