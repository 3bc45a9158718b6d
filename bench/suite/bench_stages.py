"""The stages of ``ssmtl bench compare``: each hot stage and its plain reference on the same input.

:class:`Inputs` holds what every stage reads (the first frames of a test video and their
detections); each ``stage_*`` function times the project's stage (sections 3.1-3.4) and the
reference of :mod:`bench.suite.bench_reference` at ``k`` times the input, each under
:class:`~bench.suite.bench_memory.PeakRSS`, and returns ``(ours, reference, extra)``.
:mod:`bench.suite.bench_compare` runs them and writes the table.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from bench.detection import Detections
from bench.paper import RUNNING_TIME
from bench.suite import bench_reference as ref
from bench.suite.bench_memory import PeakRSS


@dataclass
class Inputs:
    """What every stage reads: the dataset, its first test video's first frames and boxes."""

    dataset: object
    video: object
    frames: np.ndarray  # (F, H, W, 3) uint8, decoded once for the references
    table: Detections  # the detections of those frames
    work: Path  # scratch folder
    t: int = 3
    arch: str = "shallow_narrow"
    imagenet: str = "mobilenet_v2_imagenet.torchscript.pt"
    yolo: str = "yolo11n_coco.pt"
    image_size: int = 640
    train_batch: int = 16
    train_steps: int = 4
    ref_batch: int = 32
    fps_detector: str = "precomputed"
    bf16: bool = False


def prepare_inputs(dataset, detections: Detections, frames: int, work: Path, **options) -> Inputs:
    """The first test video with detections, its first ``frames`` frames and their boxes."""
    for video in dataset.videos("test"):
        table = detections.for_video(video.id)
        table = table.filter(table.frame < frames)
        if len(table):
            decoded = video.read(0, frames)
            return Inputs(dataset, video, decoded, table, Path(work), **options)
    raise ValueError(f"{dataset.name}: no detections in the first {frames} frames of a test video")


def scaled(table: Detections, copies: int) -> Detections:
    """Every row plus ``copies - 1`` copies, copy ``j`` shifted by ``j / 2`` pixels."""
    parts = [replace(table, boxes=table.boxes + np.float32(j * 0.5)) for j in range(copies)]
    return Detections.concat(parts) if copies > 1 else table


@dataclass
class Side:
    items: int
    seconds: float
    peak_mb: float

    @property
    def per_s(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("nan")


def _measure(fn: Callable[[], tuple]) -> tuple[Side, tuple]:
    """Run ``fn`` (returning ``(items, seconds, ...)``) under :class:`PeakRSS`."""
    with PeakRSS() as peak:
        out = fn()
    return Side(int(out[0]), float(out[1]), peak.mb), out[2:]


def _timed(fn: Callable[[], int]) -> Callable[[], tuple]:
    def run() -> tuple:
        start = time.perf_counter()
        items = fn()
        return items, time.perf_counter() - start

    return run


# -- the stages: (inputs, scale, state) -> (ours, reference, extra) -----------------------------
def stage_tubes(inputs: Inputs, k: int, state: dict) -> tuple[Side, Side, dict]:
    """Ours beside the same tubes cut the obvious way (one ``roi_align`` per object), checked
    equal byte for byte; the ``cv2.resize`` loop, faster but sampling differently, beside both."""
    import shutil

    from bench.tubes import build_tube_cache

    table = scaled(inputs.table, k)
    out = inputs.work / f"tubes_x{k}"
    if "tubes_warm" not in state:  # first use: torchvision's import, roi_align's first call
        warm = inputs.work / "tubes_warm"
        state["tubes_warm"] = build_tube_cache(
            inputs.dataset, "test", table.filter(np.arange(len(table)) < 2), warm, inputs.t,
            intermittent=False, progress=False,
        )  # fmt: skip
    shutil.rmtree(out, ignore_errors=True)  # a finished cache would be reopened, not rebuilt

    def ours() -> int:
        cache = build_tube_cache(
            inputs.dataset, "test", table, out, inputs.t, intermittent=False, progress=False
        )
        state["cache"] = cache
        return len(cache)

    mine, _ = _measure(_timed(ours))
    boxes, frame, t = table.boxes, table.frame, inputs.t
    theirs, (tubes,) = _measure(lambda: ref.plain_roi_tubes(inputs.video, boxes, frame, t))
    same = bool(np.array_equal(np.load(out / "tubes.npy", mmap_mode="r"), tubes))
    del tubes
    resize, _ = _measure(lambda: ref.plain_tubes(inputs.video, boxes, frame, t))
    extra = {"reference": "per-object roi_align loop (the same tubes)", "same_output": same}
    return mine, theirs, extra | {"resize": resize}


def _imagenet_teacher(inputs: Inputs, state: dict):
    if "imagenet" not in state:
        from bench.teachers import ImageNetTeacher

        state["imagenet"] = ImageNetTeacher(inputs.imagenet)
    return state["imagenet"]


def stage_imagenet(inputs: Inputs, k: int, state: dict) -> tuple[Side, Side, dict]:
    from bench.teachers import teacher_targets

    teacher = _imagenet_teacher(inputs, state)
    table = scaled(inputs.table, k)
    path = inputs.work / f"imagenet_x{k}.npy"
    teacher(inputs.frames[:1], table.boxes[:2], np.zeros(min(2, len(table)), np.int64))  # warm-up

    def ours() -> int:
        out = teacher_targets(
            table, inputs.dataset, "test", path, teacher, with_detector=False, progress=False
        )
        return len(out)

    mine, _ = _measure(_timed(ours))
    net = state.setdefault("bare", ref.load_torchscript(teacher.weights))

    def batches(size: int) -> list[torch.Tensor]:
        return [
            teacher.crops(inputs.frames, table.boxes[i : i + size], table.frame[i : i + size])
            for i in range(0, len(table), size)
        ]

    extra: dict = {}
    if "imagenet_ref_batch" not in state:
        # the reference at its fastest batch: the bare network's best plain configuration
        speeds = {}
        for size in sorted({16, 32, 64, inputs.ref_batch}):
            crops = batches(size)
            ref.plain_classifier(net, crops[:1])  # warm-up
            n, seconds, _ = ref.plain_classifier(net, crops)
            speeds[size] = round(n / seconds, 1)
        state["imagenet_ref_batch"] = max(speeds, key=speeds.get)
        extra["reference_crops_per_s_by_batch"] = speeds
    size = state["imagenet_ref_batch"]
    crops = batches(size)
    ref.plain_classifier(net, crops[:1])  # warm-up
    theirs, (logits,) = _measure(lambda: ref.plain_classifier(net, crops))
    ours_logits = np.load(path)
    extra |= {
        "batch": teacher.batch_size,
        "ref_batch": size,
        "top1_agreement": float((ours_logits.argmax(1) == logits.argmax(1)).mean()),
        "max_abs_diff": float(np.abs(ours_logits - logits).max()),
    }
    path.unlink()
    # emulated on CPUs without AVX-512 BF16 / AMX: measured anyway
    if inputs.bf16 and k == 1 and state.get("first_repeat", True):
        few = crops[:2]
        ref.plain_classifier(net, few[:1], bf16=True)  # warm-up
        n, fp32_s, fp32 = ref.plain_classifier(net, few)
        _, bf16_s, bf16 = ref.plain_classifier(net, few, bf16=True)
        extra["bf16"] = {
            "crops": n,
            "fp32_crops_per_s": n / fp32_s,
            "bf16_crops_per_s": n / bf16_s,
            "top1_agreement": float((bf16.argmax(1) == fp32.argmax(1)).mean()),
            "logit_mae": float(np.abs(bf16 - fp32).mean()),
        }
    return mine, theirs, extra


def stage_detector(inputs: Inputs, k: int, state: dict) -> tuple[Side, Side, dict]:
    from bench.detection.yolo import YoloRunner
    from bench.teachers import DetectorTeacher
    from bench.weights import resolve_weights

    weights = resolve_weights(inputs.yolo)
    if "detector" not in state:
        runner = YoloRunner(weights, "cpu", inputs.image_size)
        state["detector"] = DetectorTeacher(runner=runner)
    teacher, n = state["detector"], len(inputs.frames)
    frames = np.concatenate([inputs.frames] * k)
    index = np.concatenate([inputs.table.frame + j * n for j in range(k)])
    boxes = np.concatenate([inputs.table.boxes] * k)
    warm = min(teacher.batch_size, n)  # oneDNN sets up each new input shape on its first call
    teacher(inputs.frames[:warm], boxes[:1], np.zeros(1, np.int64))
    mine, _ = _measure(_timed(lambda: (teacher(frames, boxes, index), len(frames))[1]))
    theirs, _ = _measure(lambda: ref.plain_yolo(weights, frames, inputs.image_size))
    return mine, theirs, {}


def quiet() -> contextlib.AbstractContextManager:
    """Swallow the progress bars the training loop writes to stderr (they would cut the table)."""
    return contextlib.redirect_stderr(io.StringIO())


def _train_cache(inputs: Inputs, state: dict):
    if "train_cache" not in state:
        from bench.tubes import build_tube_cache

        state["train_cache"] = build_tube_cache(
            inputs.dataset, "test", inputs.table, inputs.work / "train_tubes", inputs.t,
            intermittent=True, progress=False,
        )  # fmt: skip
    return state["train_cache"]


def stage_train(inputs: Inputs, k: int, state: dict) -> tuple[Side, Side, dict]:
    from bench.model import SSMTL
    from bench.train import TrainConfig, run_epoch, use_bf16

    cache = _train_cache(inputs, state)
    teachers = np.random.default_rng(0).standard_normal((len(inputs.table), 1080), np.float32)
    config = TrainConfig(inputs.arch, batch_size=inputs.train_batch, epochs=1, device="cpu")
    torch.manual_seed(0)
    model = SSMTL(config.arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    rng = np.random.default_rng(0)
    rows = np.resize(np.arange(len(cache)), inputs.train_batch * inputs.train_steps * k)

    def timed_epoch(precision: str) -> Side:
        """One warm-up step, then ``rows`` timed, at ``precision`` (same model and rows)."""
        run = replace(config, precision=precision)
        with quiet():
            run_epoch(model, cache, teachers, rows[: inputs.train_batch], run, optimizer, rng, "")

        def ours() -> int:
            with quiet():
                run_epoch(model, cache, teachers, rows, run, optimizer, rng, "bench")
            return len(rows)

        return _measure(_timed(ours))[0]

    mine = timed_epoch(config.precision)
    steps = inputs.train_steps * k
    args = (inputs.arch, inputs.train_batch, steps, inputs.t)
    theirs, _ = _measure(lambda: ref.plain_train(*args))
    same_layout, _ = _measure(lambda: ref.plain_train(*args, channels_last=True))
    dtype = "bf16" if use_bf16(config.precision, torch.device("cpu")) else "fp32"
    extra: dict = {"dtype": dtype, "batch": inputs.train_batch, "same_layout": same_layout}
    # bf16 beside fp32, whichever of the two the default is
    if inputs.bf16 and k == 1 and state.get("first_repeat", True):
        other = timed_epoch("fp32" if dtype == "bf16" else "bf16")
        bf16, fp32 = (mine, other) if dtype == "bf16" else (other, mine)
        extra["bf16"] = {"samples_per_s": bf16.per_s, "fp32_samples_per_s": fp32.per_s}
    return mine, theirs, extra


def stage_score(inputs: Inputs, k: int, state: dict) -> tuple[Side, Side, dict]:
    from bench.model import SSMTL
    from bench.score import object_scores
    from bench.tubes import build_tube_cache

    cache = state.get("cache")
    if cache is None or len(cache) != len(scaled(inputs.table, k)):
        cache = build_tube_cache(
            inputs.dataset, "test", scaled(inputs.table, k), inputs.work / f"tubes_x{k}",
            inputs.t, intermittent=False, progress=False,
        )  # fmt: skip
    torch.manual_seed(0)
    model = SSMTL(inputs.arch).eval()
    targets = np.random.default_rng(0).random((len(cache), 80), np.float32)
    object_scores(model, cache, targets, progress=False)  # warm-up
    mine, _ = _measure(_timed(lambda: len(object_scores(model, cache, targets, progress=False)
                                          ["score"])))  # fmt: skip
    args = (inputs.arch, len(cache), inputs.ref_batch, inputs.t)
    theirs, _ = _measure(lambda: ref.plain_score(*args))
    same_layout, _ = _measure(lambda: ref.plain_score(*args, channels_last=True))
    return mine, theirs, {"batch": None, "ref_batch": inputs.ref_batch, "same_layout": same_layout}


def stage_fps(inputs: Inputs, k: int, state: dict) -> tuple[Side, Side, dict]:
    from bench.model import SSMTL
    from bench.suite.bench_fps import benchmark_fps, fps_detector

    device = torch.device("cpu")
    detector = fps_detector(
        inputs.dataset.name, Path(inputs.dataset.root), inputs.fps_detector, inputs.yolo, None,
        inputs.image_size, None, device,
    )  # fmt: skip
    frames = len(inputs.frames) * k
    with PeakRSS() as peak:
        run = benchmark_fps(
            inputs.dataset, detector, SSMTL(inputs.arch), inputs.t, frames=frames, warmup=5,
            device=device, model_steps=1,
        )  # fmt: skip
    mine = Side(run["frames"], run["frames"] / run["end_to_end_fps"], peak.mb)
    paper = RUNNING_TIME["end_to_end_fps"]
    theirs = Side(run["frames"], run["frames"] / paper, float("nan"))
    extra = {
        "reference": f"paper, {RUNNING_TIME['device_name']}",
        "ms_per_frame": run["ms_per_frame"],
        "objects_per_frame": run["objects_per_frame"],
        "detector": run["detector"],
    }
    return mine, theirs, extra


STAGE_FUNCTIONS = {
    "tubes": stage_tubes,
    "imagenet": stage_imagenet,
    "detector": stage_detector,
    "train": stage_train,
    "score": stage_score,
    "fps": stage_fps,
}


__all__ = ["STAGE_FUNCTIONS", "Inputs", "Side", "prepare_inputs", "scaled"]
