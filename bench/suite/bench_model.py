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
from dataclasses import dataclass

import torch

from bench.devices import device_name
from bench.model import SSMTL
from bench.paper import LEARNING_RATE


def contiguous_encoder(model: SSMTL) -> None:
    """The encoder in the default (contiguous) layout: weights and input, instead of the
    channels-last 3D layout :class:`bench.model.SharedCNN` picks."""
    model.encoder.memory_format = torch.contiguous_format
    model.encoder.to(memory_format=torch.contiguous_format)


@dataclass
class ModelSteps:
    """One architecture on a batch of random tubes, ready to time: :meth:`train_step` (the
    joint loss of eq. (5), backward, an Adam step) and :meth:`score_step` (every head of eq. 6,
    no gradients). ``batch_size`` objects per step."""

    model: SSMTL
    batch: dict[str, torch.Tensor]
    optimizer: torch.optim.Optimizer
    autocast: torch.autocast
    batch_size: int

    def train_step(self) -> None:
        from bench.tasks import joint_loss, task_losses

        with self.autocast:
            loss = joint_loss(task_losses(self.model, self.batch, self.model.tasks)[0], 0.5)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    @torch.no_grad()
    def score_step(self) -> None:
        from bench.tasks import distill_input, middle_context

        x, model = self.batch["regular"], self.model
        with self.autocast:
            context, _ = middle_context(x, axis=2)
            model.sequence_logits(x), model.middle(context), model.distill(distill_input(x))


def model_steps(
    arch: str,
    device: torch.device,
    batch_size: int,
    t: int = 3,
    *,
    precision: str = "fp32",
    channels_last: bool = True,
    compile: bool = False,
) -> ModelSteps:
    """:class:`ModelSteps` of ``arch`` with seed 0: ``precision`` ``fp32`` or ``bf16``
    (autocast), ``channels_last`` the encoder's layout, ``compile`` ``torch.compile`` of the
    encoder (one graph per task's input shape, so the recompile limit is raised to hold them)."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16, got {precision!r}")
    torch.manual_seed(0)
    model = SSMTL(arch).to(device)
    if not channels_last:
        contiguous_encoder(model)
    if compile:
        import torch._dynamo as dynamo

        # the encoder sees four input shapes per step (T1/T2 2t+1 frames, T3 2t, T4 one), each
        # in training and eval mode; the default limit of 8 left some passes uncompiled
        dynamo.config.recompile_limit = max(dynamo.config.recompile_limit, 64)
        model.encoder = torch.compile(model.encoder)
    frames = 2 * t + 1
    batch = {
        "regular": torch.rand(batch_size, 3, frames, 64, 64, device=device),
        "intermittent": torch.rand(batch_size, 3, frames, 64, 64, device=device),
        "teacher": torch.rand(batch_size, 1080, device=device),
    }
    return ModelSteps(
        model=model,
        batch=batch,
        optimizer=torch.optim.Adam(model.parameters(), LEARNING_RATE),
        autocast=torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"),
        batch_size=batch_size,
    )


def compiled_warmup(model: SSMTL) -> int:
    """Extra warm-up steps of a compiled training step: batch norm's first updates average
    cumulatively (:class:`bench.model.TaskBatchNorm3d`), a factor the compiled graph holds as a
    constant, so each of those steps compiles anew until the warm-up's end."""
    from bench.model import TaskBatchNorm3d

    return max((m.warmup for m in model.modules() if isinstance(m, TaskBatchNorm3d)), default=0)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize()


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
    ``compile``: ``torch.compile`` the encoder (compilation falls in the warm-up steps, reported
    as ``train_samples_warmup_s`` and ``score_objects_warmup_s``); ``threads``: torch's CPU
    threads (0: leave as is)."""
    if threads > 0:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    steps_of = model_steps(
        arch, dev, batch_size, t, precision=precision, channels_last=channels_last, compile=compile
    )
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
        ("train_samples_per_s", steps_of.train_step, True),
        ("score_objects_per_s", steps_of.score_step, False),
    )
    for name, step, train_mode in steps_to_time:
        steps_of.model.train(train_mode)
        extra = compiled_warmup(steps_of.model) if compile and train_mode else 0
        start = time.perf_counter()
        for _ in range(warmup + extra):
            step()
        synchronize(dev)
        report[name.replace("_per_s", "_warmup_s")] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize(dev)
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
