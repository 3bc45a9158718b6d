"""3D CNN benchmark (``ssmtl bench model``): training samples/s and scoring objects/s.

Times one architecture of Table 1 / section 3.2 on batches of random tubes: a training step of
the joint loss of eq. (5) (all four proxy tasks of section 3.3, lambda 0.5) and an inference pass
of every head used by eq. (6), after warm-up steps, with device synchronisation. The model's
throughput inside the streaming pipeline is :mod:`bench.suite.bench_fps` (supplementary 6.2).
"""

from __future__ import annotations

import time

import torch

from bench.model import SSMTL
from bench.paper import LEARNING_RATE


def benchmark_model(
    arch: str, device: str, batch_size: int, steps: int, t: int = 3, warmup: int = 2
) -> dict:
    """Training samples/s (objects per second, all four tasks) and scoring objects/s of one
    architecture on random tubes, after ``warmup`` steps, with device synchronisation."""
    from bench.tasks import distill_input, joint_loss, middle_context, task_losses

    dev = torch.device(device)
    model = SSMTL(arch).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), LEARNING_RATE)
    T = 2 * t + 1
    batch = {
        "regular": torch.rand(batch_size, 3, T, 64, 64, device=dev),
        "intermittent": torch.rand(batch_size, 3, T, 64, 64, device=dev),
        "teacher": torch.rand(batch_size, 1080, device=dev),
    }
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
            context, _ = middle_context(x, axis=2)
            model.sequence_logits(x), model.middle(context), model.distill(distill_input(x))

    report = {"arch": arch, "device": str(dev), "batch_size": batch_size, "t": t}
    steps_to_time = (
        ("train_samples_per_s", train_step, True),
        ("score_objects_per_s", score_step, False),
    )
    for name, step, train_mode in steps_to_time:
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
