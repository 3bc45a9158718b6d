"""3D CNN benchmark (``ssmtl bench model``): training samples/s and scoring objects/s.

Times one architecture of Table 1 / section 3.2 on batches of random tubes: a training step of
the joint loss of eq. (5) (all four proxy tasks of section 3.3, lambda 0.5, each task on its
own encoder pass as :func:`bench.tasks.task_losses` runs them) and an inference pass of every head
used by eq. (6), after warm-up steps, with device synchronisation. The knobs a performance
engineer would try are options, so each can be measured on its own (:func:`knob_grid`):
``precision`` (fp32, or bf16 autocast, emulated on CPUs without AVX-512 BF16 / AMX),
``channels_last`` (the encoder's 3D convs in channels-last or contiguous layout),
``compile`` (``torch.compile`` of the encoder), the batch size and the CPU threads. The model's
throughput inside the streaming pipeline is :mod:`bench.suite.bench_fps` (supplementary 6.2).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence

import torch

from bench.devices import device_name
from bench.model import SSMTL
from bench.paper import LEARNING_RATE


def _contiguous_encoder(model: SSMTL) -> None:
    """The encoder in the default (contiguous) layout: weights and input, instead of the
    channels-last 3D layout :class:`bench.model.SharedCNN` picks."""
    model.encoder.memory_format = torch.contiguous_format
    model.encoder.to(memory_format=torch.contiguous_format)


def benchmark_model(
    arch: str,
    device: str,
    batch_size: int,
    steps: int,
    t: int = 3,
    warmup: int = 2,
    *,
    precision: str = "fp32",
    channels_last: bool = True,
    compile: bool = False,
    threads: int = 0,
) -> dict:
    """Training samples/s (objects per second, all four tasks) and scoring objects/s of one
    architecture on random tubes, after ``warmup`` steps, with device synchronisation.
    ``precision``: ``fp32`` or ``bf16`` (autocast); ``channels_last``: the encoder's layout;
    ``compile``: ``torch.compile`` the encoder (its compilation time is reported apart, as
    ``compile_s``); ``threads``: torch's CPU threads (0: leave as is)."""
    from bench.tasks import distill_input, joint_loss, middle_context, task_losses

    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16, got {precision!r}")
    if threads > 0:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    torch.manual_seed(0)
    model = SSMTL(arch).to(dev)
    if not channels_last:
        _contiguous_encoder(model)
    if compile:
        model.encoder = torch.compile(model.encoder)
    optimizer = torch.optim.Adam(model.parameters(), LEARNING_RATE)
    T = 2 * t + 1
    batch = {
        "regular": torch.rand(batch_size, 3, T, 64, 64, device=dev),
        "intermittent": torch.rand(batch_size, 3, T, 64, 64, device=dev),
        "teacher": torch.rand(batch_size, 1080, device=dev),
    }
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")

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
            context, _ = middle_context(x, axis=2)
            model.sequence_logits(x), model.middle(context), model.distill(distill_input(x))

    report = {
        "arch": arch,
        "device": str(dev),
        "device_name": device_name(dev),
        "batch_size": batch_size,
        "t": t,
        "precision": precision,
        "channels_last": channels_last,
        "compile": compile,
        "threads": torch.get_num_threads() if dev.type == "cpu" else None,
        "interop_threads": torch.get_num_interop_threads() if dev.type == "cpu" else None,
    }
    steps_to_time = (
        ("train_samples_per_s", train_step, True),
        ("score_objects_per_s", score_step, False),
    )
    for name, step, train_mode in steps_to_time:
        model.train(train_mode)
        start = time.perf_counter()
        for _ in range(warmup):
            step()
        sync()
        report[name.replace("_per_s", "_warmup_s")] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        report[name] = batch_size * steps / (time.perf_counter() - start)
    return report


def knob_grid(
    precision: Sequence[str] = ("fp32",),
    channels_last: Sequence[bool] = (True,),
    compile: Sequence[bool] = (False,),
    batch_size: Sequence[int] = (32,),
    threads: Sequence[int] = (0,),
) -> Iterator[dict]:
    """Every combination of the knobs, as keyword arguments of :func:`benchmark_model`."""
    for p, c, k, b, n in itertools.product(precision, channels_last, compile, batch_size, threads):
        yield {"precision": p, "channels_last": c, "compile": k, "batch_size": b, "threads": n}
