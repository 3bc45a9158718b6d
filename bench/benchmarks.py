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

Running time (:func:`benchmark_fps`, ``ssmtl bench fps``), the figures of section 6.2 of the
supplementary (23 FPS on a GTX 1080 Ti, ~5 objects per frame, 6 ms per object, YOLOv3 26 ms per
frame, < 1 ms for the anomaly map): the frames of the first test video(s) are streamed as an
online detector sees them (:class:`OnlineScorer`), each component timed on its own, and the
model's throughput on batches of random tubes is measured apart.
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
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from bench.model import SSMTL
from bench.atomic import write_json
from bench.score import MapConfig, batch_scores, default_batch_size, mean_score, paint_maps
from bench.tubes import clamp_frames, crop_tubes, frames_to_tensor, window_offsets

if TYPE_CHECKING:
    from bench.datasets.base import VideoDataset
    from bench.detection.detectors import Detector, FrameDetections

#: ``growth_mb`` below this many MB (or 10% of the N build's own memory, whichever is larger) counts as flat.
FLAT_TOLERANCE_MB = 64.0


def _cuda() -> bool:
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
            model.sequence_logits(x), model.middle(torch.cat([x[:, :, :t], x[:, :, t + 1 :]], 2)), model.distill(x[:, :, t : t + 1])

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


# --- running time (supplementary section 6.2) -----------------------------------------------------

#: Supplementary section 6.2: object-level inference on one GeForce GTX 1080 Ti with YOLOv3.
PAPER_RUNNING_TIME = {
    "device_name": "GeForce GTX 1080 Ti",
    "detector": "yolov3",
    "end_to_end_fps": 23.0,
    "objects_per_frame": 5.0,
    "ms_per_object": 6.0,
    "ms_per_frame": {"detect": 26.0, "map": 1.0},  # map: "less than 1 ms"
}
FPS_COMPONENTS = ("decode", "detect", "tubes", "model", "map")
FPS_RUN_KEY = ("device", "device_name", "detector", "arch")  # a new run replaces the run with the same values


class Stopwatch:
    """Per-component wall time of one frame; on CUDA the device is synchronised before every read
    of the clock, so asynchronous kernels are charged to the component that launched them."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.frame: dict[str, float] = dict.fromkeys(FPS_COMPONENTS, 0.0)
        self.begin = 0.0

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def start_frame(self) -> None:
        self.frame = dict.fromkeys(FPS_COMPONENTS, 0.0)
        self.begin = self.now()

    def stop_frame(self) -> dict[str, float]:
        """The seconds of each component and the frame's ``total`` since :meth:`start_frame`."""
        return {**self.frame, "total": self.now() - self.begin}

    @contextmanager
    def time(self, component: str) -> Iterator[None]:
        start = self.now()
        yield
        self.frame[component] += self.now() - start


@dataclass
class ScoredFrame:
    """The objects of one frame: boxes, per-head and eq. (6) scores, and the frame's anomaly map."""

    frame: int
    boxes: np.ndarray
    scores: dict[str, np.ndarray]
    anomaly_map: np.ndarray


class OnlineScorer:
    """Object-level inference of one video, frame by frame (sections 3.1, 3.4; supplementary 6.2).

    When frame ``i`` arrives it joins a ring buffer of the last ``2t + 1`` frames (on the device);
    the objects detected in frame ``c = i - t`` are then cropped from frames ``c-t .. c+t`` with
    one ``roi_align`` call (:func:`bench.tubes.crop_tubes`, rounded like the ``uint8`` tube cache),
    scored by every enabled head (eq. 6, :func:`bench.score.batch_scores`; in batches of
    :func:`bench.score.default_batch_size`, as on CPU a frame's ~20 Ped2 objects go faster 8 at a
    time) and painted into frame ``c``'s anomaly map (:func:`bench.score.paint_maps`). T4 compares
    the student with the detector's class probabilities of each box; boxes without them
    (precomputed files) use zeros. The video's first and last frames repeat in the windows that
    leave it, as in test tube caches (:meth:`flush` scores the last ``t`` frames). The 3D mean
    filter and the temporal Gaussian smooth a whole video's maps afterwards and are not part of
    this step (nor of the paper's 23 FPS).
    """

    def __init__(self, model: SSMTL, t: int, frame_shape: tuple[int, int], device: torch.device, config: MapConfig):
        self.model, self.t, self.device, self.config = model.eval(), t, device, config
        self.frame_shape = frame_shape
        self.ring = torch.zeros((2 * t + 1, 3, *frame_shape), device=device)
        self.pending: deque[FrameDetections] = deque()
        self.seen = 0

    def push(self, frame: np.ndarray, found: FrameDetections, clock: Stopwatch) -> list[ScoredFrame]:
        """Add frame ``i`` (``H x W x 3`` ``uint8``) and its detections; score frame ``i - t``."""
        with clock.time("tubes"):
            self.ring[self.seen % len(self.ring)] = frames_to_tensor(frame[None], self.device)[0]
        self.pending.append(found)
        self.seen += 1
        return [self._score_next(clock)] if len(self.pending) > self.t else []

    def flush(self, clock: Stopwatch) -> list[ScoredFrame]:
        """Score the frames still waiting for successors (the video has ended)."""
        return [self._score_next(clock) for _ in range(len(self.pending))]

    def _score_next(self, clock: Stopwatch) -> ScoredFrame:
        found = self.pending.popleft()
        centre = self.seen - 1 - len(self.pending)
        with clock.time("tubes"):
            x = self._tubes(centre, found.boxes)
        with clock.time("model"):
            scores = self._scores(x, found.class_scores)
        with clock.time("map"):
            anomaly_map = paint_maps(np.zeros(len(found), np.int64), found.boxes, scores["score"], 1, self.frame_shape, self.config.map_scale)[0]
        return ScoredFrame(centre, found.boxes, scores, anomaly_map)

    def _tubes(self, centre: int, boxes: np.ndarray) -> torch.Tensor:
        """Forward test sequences ``(K, 3, 2t+1, 64, 64)`` in [0, 1] of the boxes of frame ``centre``."""
        frames = clamp_frames(np.full(len(boxes), centre), window_offsets(self.t), self.seen) % len(self.ring)
        crops = crop_tubes(self.ring, torch.from_numpy(frames), torch.from_numpy(np.asarray(boxes, np.float32)))
        return crops.round_().permute(0, 2, 1, 3, 4).div_(255.0)

    def _scores(self, x: torch.Tensor, class_scores: np.ndarray) -> dict[str, np.ndarray]:
        if len(x) == 0:
            return {task: np.zeros(0, np.float32) for task in (*self.model.tasks, "score")}
        targets, step = np.nan_to_num(class_scores, nan=0.0), default_batch_size(self.device)
        parts = [batch_scores(self.model, x[i : i + step], targets[i : i + step]) for i in range(0, len(x), step)]
        scores = {task: np.concatenate([part[task] for part in parts]) for task in self.model.tasks}
        return {**scores, "score": mean_score(scores, self.model.tasks)}


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU model from ``/proc/cpuinfo``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


@torch.no_grad()
def model_throughput(model: SSMTL, device: torch.device, t: int, batch_size: int, steps: int = 5, warmup: int = 2) -> float:
    """Objects per second of eq. (6) scoring (every enabled head, :func:`bench.score.batch_scores`)
    on batches of random tubes, after ``warmup`` batches, device synchronised."""
    clock = Stopwatch(device)
    x = torch.rand(batch_size, 3, 2 * t + 1, 64, 64, device=device)
    targets = np.random.default_rng(0).random((batch_size, 80), dtype=np.float32)
    for _ in range(warmup):
        batch_scores(model, x, targets)
    start = clock.now()
    for _ in range(steps):
        batch_scores(model, x, targets)
    return batch_size * steps / (clock.now() - start)


def _stream(dataset: VideoDataset, detector: Detector, new_scorer: Callable[[tuple[int, int]], OnlineScorer], count: int, clock: Stopwatch) -> Iterator[tuple[dict[str, float], int]]:
    """Per frame of the first test videos (at most ``count`` frames): its component times and the
    number of objects scored during it."""
    for video in dataset.videos("test"):
        if hasattr(detector, "reset"):
            detector.reset(video.id)
        scorer = None
        for i in range(video.num_frames):
            if count == 0:
                return
            clock.start_frame()
            with clock.time("decode"):
                frame = video[i]
            with clock.time("detect"):
                found = detector.detect(frame[None])[0]
            scorer = scorer or new_scorer(frame.shape[:2])
            done = scorer.push(frame, found, clock) + (scorer.flush(clock) if i == video.num_frames - 1 else [])
            yield clock.stop_frame(), sum(len(scored.boxes) for scored in done)
            count -= 1


def benchmark_fps(
    dataset: VideoDataset,
    detector: Detector,
    model: SSMTL,
    t: int,
    *,
    frames: int = 60,
    warmup: int = 10,
    device: str | torch.device = "cpu",
    config: MapConfig | None = None,
    model_batch: int | None = None,
    model_steps: int = 5,
) -> dict:
    """End-to-end frames per second of online object-level inference and its components.

    Streams ``warmup + frames`` frames of the first test video(s) through decode, detection, tube
    cropping, the model and the anomaly map (:class:`OnlineScorer`), timing each component per
    frame (:class:`Stopwatch`); the first ``warmup`` frames are left out of the figures. Also
    measures the model alone on ``model_steps`` batches of ``model_batch`` random tubes (default:
    the scoring batch of the device, :func:`bench.score.default_batch_size`). Returns the run:
    ``end_to_end_fps``, ``ms_per_frame`` per component and ``total``, ``objects_per_frame``,
    ``ms_per_object`` (model time / objects), ``model_objects_per_s``, the device, detector and
    architecture.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    clock = Stopwatch(device)
    new_scorer = partial(OnlineScorer, model, t, device=device, config=config or MapConfig())
    measured = list(_stream(dataset, detector, new_scorer, warmup + frames, clock))[warmup:]
    if not measured:
        raise ValueError(f"{dataset.name}: the test videos have no frame left after {warmup} warm-up frames")
    n, objects = len(measured), sum(count for _, count in measured)
    seconds = {name: sum(times[name] for times, _ in measured) for name in (*FPS_COMPONENTS, "total")}
    batch = model_batch or default_batch_size(device)
    return {
        "dataset": dataset.name,
        "device": device.type,
        "device_name": device_name(device),
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "detector": detector.name,
        "detector_params": detector.params(),
        "arch": model.arch,
        "tasks": list(model.tasks),
        "t": t,
        "frames": n,
        "warmup": warmup,
        "end_to_end_fps": round(n / seconds["total"], 2),
        "ms_per_frame": {name: round(1000 * value / n, 3) for name, value in seconds.items()},
        "objects_per_frame": round(objects / n, 2),
        "ms_per_object": round(1000 * seconds["model"] / objects, 3) if objects else None,
        "model_batch": batch,
        "model_objects_per_s": round(model_throughput(model, device, t, batch, model_steps), 1),
    }


def write_fps_run(path: str | Path, run: dict) -> dict:
    """Add ``run`` to the ``{"paper": ..., "runs": [...]}`` file at ``path``, replacing the run with
    the same :data:`FPS_RUN_KEY` values; written atomically (temporary file, then rename)."""
    path = Path(path)
    old = json.loads(path.read_text()).get("runs", []) if path.is_file() else []
    runs = [r for r in old if any(r.get(k) != run[k] for k in FPS_RUN_KEY)] + [run]
    data = {"paper": PAPER_RUNNING_TIME, "runs": runs}
    write_json(path, data)
    return data


def format_fps_run(run: dict) -> str:
    """The run's figures next to the paper's (supplementary section 6.2)."""
    ms, paper = run["ms_per_frame"], PAPER_RUNNING_TIME
    parts = " + ".join(f"{name} {ms[name]:.1f}" for name in FPS_COMPONENTS)
    per_object = "-" if run["ms_per_object"] is None else f"{run['ms_per_object']:.2f}"
    return (
        f"{run['dataset']} on {run['device_name']} ({run['device']}), {run['detector']}, {run['arch']}: "
        f"{run['end_to_end_fps']:.1f} FPS end to end (paper: {paper['end_to_end_fps']:.0f} on a {paper['device_name']})\n"
        f"  ms per frame: {parts} = {ms['total']:.1f} (paper: detect {paper['ms_per_frame']['detect']:.0f}, map < 1)\n"
        f"  {run['objects_per_frame']:.1f} objects per frame, {per_object} ms per object in the stream (paper: 5, 6 ms); "
        f"model alone {run['model_objects_per_s']:.0f} objects/s in batches of {run['model_batch']}"
    )


def _parser() -> argparse.ArgumentParser:
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
    fps = sub.add_parser("fps", help="end-to-end frames/s of online inference per component, and model objects/s (supplementary 6.2)")
    fps.add_argument("name", help="dataset name (ped2, synthetic, ...)")
    fps.add_argument("--root", required=True, type=Path, help="dataset root folder")
    fps.add_argument("--detector", default="precomputed", help="yolo | precomputed | background_subtraction | full_frame (default: precomputed)")
    fps.add_argument("--precomputed", type=Path, help="precomputed: boxes .npz (one (k, 6) array per video); default: ROOT/detections/boxes_test.npz, then yolov3_test.npz")
    fps.add_argument("--weights", default="yolo11n_coco.pt", help="yolo: checkpoint path or name in $SSMTL_MODELS_DIR (paper: yolov3u.pt)")
    fps.add_argument("--confidence", type=float, help="keep boxes with confidence >= this (default: the paper's threshold for the dataset, else 0.5)")
    fps.add_argument("--image-size", type=int, default=640, help="yolo: input size of the long side")
    weights = fps.add_mutually_exclusive_group()
    weights.add_argument("--model", type=Path, help="SSMTL checkpoint (default: a randomly initialised --arch; speed does not depend on the weights)")
    weights.add_argument("--arch", choices=["shallow_narrow", "shallow_wide", "deep_narrow", "deep_wide"], default="shallow_narrow")
    fps.add_argument("--t", type=int, default=3, help="frames i-t..i+t (without --model; a checkpoint has its own)")
    fps.add_argument("--frames", type=int, default=60, help="frames measured")
    fps.add_argument("--warmup", type=int, default=10, help="frames run first and left out of the figures")
    fps.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    fps.add_argument("--out", type=Path, help="metrics file (default: metrics/NAME/fps.json); a run replaces the run of the same device, detector and arch")
    return parser


def _default_detections(root: Path, split: str) -> Path:
    """``ROOT/detections/boxes_SPLIT.npz``, else ``yolov3_SPLIT.npz``."""
    from bench.datasets import DatasetError

    candidates = [root / "detections" / f"{stem}_{split}.npz" for stem in ("boxes", "yolov3")]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise DatasetError(f"no detections file: give --detections (looked for {', '.join(map(str, candidates))})")
    return path


def _main_tubes(args: argparse.Namespace) -> int:
    import tempfile

    from bench.datasets import DatasetError, open_dataset
    from bench.detection.detectors import PAPER_CONFIDENCE, load_precomputed
    from bench.detection.table import Detections

    try:
        dataset = open_dataset(args.name, args.root)
        path = args.detections or _default_detections(args.root, args.split)
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


def _fps_detector(args: argparse.Namespace, device: torch.device) -> Detector:
    """The detector of the pipeline's ``detect`` stage (:func:`bench.pipeline.make_detector`)."""
    from bench.detection.detectors import PAPER_CONFIDENCE
    from bench.pipeline import make_detector

    confidence = PAPER_CONFIDENCE.get(args.name, 0.5) if args.confidence is None else args.confidence
    precomputed = args.precomputed or (_default_detections(args.root, "test") if args.detector == "precomputed" else None)
    return make_detector(args.detector, args.weights, confidence, args.image_size, precomputed, str(device))


def _main_fps(args: argparse.Namespace) -> int:
    from bench.datasets import DatasetError, open_dataset
    from bench.train import load_checkpoint

    device = torch.device(("cuda" if _cuda() else "cpu") if args.device == "auto" else args.device)
    model, t = SSMTL(args.arch), args.t
    try:
        if args.model:
            model, _, t = load_checkpoint(args.model)
        dataset = open_dataset(args.name, args.root)
        detector = _fps_detector(args, device)  # RuntimeError: not a YOLO checkpoint
        run = benchmark_fps(dataset, detector, model, t, frames=args.frames, warmup=args.warmup, device=device)
    except (DatasetError, ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    run["checkpoint"] = str(args.model) if args.model else None
    write_fps_run(args.out or Path("metrics") / args.name / "fps.json", run)
    print(format_fps_run(run))
    if args.model is None:
        print(f"  (randomly initialised {args.arch}: speed does not depend on the weights)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``ssmtl bench tubes|model|fps ...`` (see ``--help`` of each)."""
    args = _parser().parse_args(argv)
    if args.command == "model":
        for arch in args.arch:
            print(json.dumps(benchmark_model(arch, args.device, args.batch_size, args.steps, args.t)))
        return 0
    return _main_fps(args) if args.command == "fps" else _main_tubes(args)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_tube-child":
        print(json.dumps(_tube_child(json.loads(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
