"""Running-time benchmark (``ssmtl bench fps``): the figures of supplementary section 6.2.

The paper reports 23 FPS end to end on a GeForce GTX 1080 Ti with ~5 objects per frame, 6 ms per
object, YOLOv3 26 ms per frame and less than 1 ms for the anomaly map
(:data:`bench.paper.RUNNING_TIME`). :func:`benchmark_fps` streams the frames of the first test
video(s) as an online detector sees them (:class:`bench.score.online.OnlineScorer`), times each
component on its own (decode, detect, tubes, model, map) and measures the model's throughput on
batches of random tubes apart. :func:`write_fps_run` keeps one run per device, detector and
architecture in the metrics file, next to the paper's figures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from bench.devices import device_name
from bench.io import write_json
from bench.model import SSMTL
from bench.paper import DETECTION_CONFIDENCE, RUNNING_TIME
from bench.score import MapConfig, batch_scores, default_batch_size, fold_batch_norm
from bench.score.online import FPS_COMPONENTS, OnlineScorer, Stopwatch
from bench.suite.bench_tubes import default_detections

if TYPE_CHECKING:
    from bench.data import VideoDataset
    from bench.detection import Detector

#: A new run replaces the run with the same values of these keys.
FPS_RUN_KEY = ("device", "device_name", "detector", "arch")


def fps_detector(
    dataset_name: str,
    root: Path,
    kind: str,
    weights: str,
    confidence: float | None,
    image_size: int,
    precomputed: Path | None,
    device: torch.device,
) -> Detector:
    """The detector of the pipeline's ``detect`` stage (:func:`bench.pipeline.make_detector`):
    ``confidence``, else the paper's threshold for the dataset (section 4.2), else 0.5; a
    precomputed detector defaults to ``ROOT/detections/boxes_test.npz`` (then ``yolov3_``).
    RuntimeError when the weights are not a YOLO checkpoint."""
    from bench.pipeline import make_detector

    threshold = DETECTION_CONFIDENCE.get(dataset_name, 0.5) if confidence is None else confidence
    if precomputed is None and kind == "precomputed":
        precomputed = default_detections(root, "test")
    return make_detector(kind, weights, threshold, image_size, precomputed, str(device))


@torch.no_grad()
def model_throughput(
    model: SSMTL, device: torch.device, t: int, batch_size: int, steps: int = 5, warmup: int = 2
) -> float:
    """Objects per second of eq. (6) scoring (every enabled head, :func:`bench.score.batch_scores`)
    on batches of random tubes, after ``warmup`` batches, device synchronised; batch norm
    folded as in scoring (:mod:`bench.score.fold`)."""
    model = fold_batch_norm(model)
    clock = Stopwatch(device)
    x = torch.rand(batch_size, 3, 2 * t + 1, 64, 64, device=device)
    targets = np.random.default_rng(0).random((batch_size, 80), dtype=np.float32)
    for _ in range(warmup):
        batch_scores(model, x, targets)
    start = clock.now()
    for _ in range(steps):
        batch_scores(model, x, targets)
    return batch_size * steps / (clock.now() - start)


def _stream(
    dataset: VideoDataset,
    detector: Detector,
    new_scorer: Callable[[tuple[int, int]], OnlineScorer],
    count: int,
    clock: Stopwatch,
) -> Iterator[tuple[dict[str, float], int]]:
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
            done = scorer.push(frame, found, clock)
            if i == video.num_frames - 1:
                done += scorer.flush(clock)
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
    cropping, the model and the anomaly map (:class:`bench.score.online.OnlineScorer`), timing
    each component per frame (:class:`bench.score.online.Stopwatch`); the first ``warmup`` frames
    are left out of the figures. Also measures the model alone on ``model_steps`` batches of
    ``model_batch`` random tubes (default: the scoring batch of the device,
    :func:`bench.score.default_batch_size`). Returns the run: ``end_to_end_fps``,
    ``ms_per_frame`` per component and ``total``, ``objects_per_frame``, ``ms_per_object`` (model
    time / objects), ``model_objects_per_s``, the device, detector and architecture.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    clock = Stopwatch(device)
    new_scorer = partial(OnlineScorer, model, t, device=device, config=config or MapConfig())
    measured = list(_stream(dataset, detector, new_scorer, warmup + frames, clock))[warmup:]
    if not measured:
        raise ValueError(
            f"{dataset.name}: the test videos have no frame left after {warmup} warm-up frames"
        )
    n, objects = len(measured), sum(count for _, count in measured)
    seconds = {
        name: sum(times[name] for times, _ in measured) for name in (*FPS_COMPONENTS, "total")
    }
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
    """Add ``run`` to the ``{"paper": ..., "runs": [...]}`` file at ``path``, replacing the run
    with the same :data:`FPS_RUN_KEY` values; written atomically (temporary file, then rename)."""
    path = Path(path)
    old = json.loads(path.read_text()).get("runs", []) if path.is_file() else []
    runs = [r for r in old if any(r.get(k) != run[k] for k in FPS_RUN_KEY)] + [run]
    data = {"paper": RUNNING_TIME, "runs": runs}
    write_json(path, data)
    return data


def format_fps_run(run: dict) -> str:
    """The run's figures next to the paper's (supplementary section 6.2)."""
    ms, paper = run["ms_per_frame"], RUNNING_TIME
    parts = " + ".join(f"{name} {ms[name]:.1f}" for name in FPS_COMPONENTS)
    per_object = "-" if run["ms_per_object"] is None else f"{run['ms_per_object']:.2f}"
    return (
        f"{run['dataset']} on {run['device_name']} ({run['device']}), {run['detector']}, "
        f"{run['arch']}: {run['end_to_end_fps']:.1f} FPS end to end "
        f"(paper: {paper['end_to_end_fps']:.0f} on a {paper['device_name']})\n"
        f"  ms per frame: {parts} = {ms['total']:.1f} "
        f"(paper: detect {paper['ms_per_frame']['detect']:.0f}, map < 1)\n"
        f"  {run['objects_per_frame']:.1f} objects per frame, {per_object} ms per object in the "
        "stream (paper: 5, 6 ms); "
        f"model alone {run['model_objects_per_s']:.0f} objects/s in batches of "
        f"{run['model_batch']}"
    )
