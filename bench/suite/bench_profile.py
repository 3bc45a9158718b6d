"""Where a training step's time goes (``ssmtl bench profile``): issue 15's "profile that shows
why not" when training is not 2x faster.

One architecture's training step (:class:`bench.suite.bench_model.ModelSteps`: the joint loss of
eq. 5 over all four tasks, backward, an Adam step, random tubes) is timed, its FLOPs counted
(``torch.utils.flop_counter``) and run under torch's profiler. Each operator's self time goes to a
category (:data:`CATEGORIES`): the convolutions are compute-bound oneDNN kernels, batch norm,
ReLU, pooling, zero fills and copies move memory and do little arithmetic. Beside them, on the
same threads, the machine's two ceilings: a 2048 x 2048 fp32 matrix product (GFLOP/s) and a
256 MB copy (GB/s). From these follow the convolutions' rate as a share of the matrix
product's, and the samples/s the step would reach if everything but the convolutions took no
time, or if the convolutions also ran at the matrix product's rate: no layout, fusion or
compiler of the other operators gets past the first, no convolution kernel past the second.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from bench.suite.bench_model import model_steps

#: (category, kind, substrings of the profiler's event names): the first match wins, so the
#: backward convolution is tried before the forward one and autograd's own events before both
CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("autograd engine and optimizer", "overhead", ("autograd::", "Optimizer.")),
    ("convolution backward", "compute", ("convolution_backward",)),
    ("convolution forward", "compute", ("convolution", "conv2d", "conv3d")),
    ("linear layers", "compute", ("addmm", "aten::mm", "aten::linear")),
    ("batch norm", "memory", ("batch_norm",)),
    ("ReLU", "memory", ("threshold_backward", "relu", "clamp_min")),
    ("max pooling", "memory", ("max_pool",)),
    ("zero fills", "memory", ("fill_", "zero_", "zeros")),
    ("copies (cat, flip, layout)", "memory", ("copy_", "aten::cat", "flip", "clone")),
    ("upsampling", "memory", ("upsample",)),
    ("other", "other", ()),
)

#: FLOP counter operators -> the category whose time they take
FLOP_CATEGORIES = {
    "convolution": "convolution forward",
    "convolution_backward": "convolution backward",
    "addmm": "linear layers",
    "mm": "linear layers",
    "bmm": "linear layers",
}

#: Least memory traffic of a memory-bound category in passes over its tensor's bytes, forward
#: plus backward, and the modules whose outputs are those tensors. Batch norm in training: its
#: statistics read the input once, normalising reads it again and writes the output (3); the
#: backward reads the gradient and the input for its two sums, then both again to write the
#: input's gradient (5). ReLU in place reads and writes (2); its backward reads the gradient and
#: the output and writes a gradient (3).
MINIMUM_PASSES = {"batch norm": 8, "ReLU": 5}


def _module_kinds() -> dict[str, tuple[type, ...]]:
    from bench.model import TaskBatchNorm3d

    return {"batch norm": (TaskBatchNorm3d, torch.nn.BatchNorm2d), "ReLU": (torch.nn.ReLU,)}


#: issue 15's goal: 2x the 19.6 shallow_narrow training samples/s it started from (2 cores)
TARGET_SAMPLES_PER_S = 2 * 19.6


def category(name: str) -> str:
    """The :data:`CATEGORIES` entry of a profiler event name."""
    for label, _, patterns in CATEGORIES:
        if any(pattern in name for pattern in patterns):
            return label
    return "other"


def best_seconds(run: Callable[[], object], repeats: int = 5) -> float:
    """The fastest of ``repeats`` calls of ``run``, after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def machine_ceilings(size: int = 2048, copy_mb: int = 256) -> dict:
    """The CPU's practical fp32 ceilings on torch's current threads: the GFLOP/s of a ``size``
    square matrix product (oneDNN/MKL sgemm, what a well-blocked convolution can approach) and the
    GB/s of a ``copy_mb`` MB copy (read plus write, what a memory-bound operator can approach)."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    matmul = best_seconds(lambda: a @ b)
    source = torch.rand(copy_mb * 2**20 // 4)
    target = torch.empty_like(source)
    copy = best_seconds(lambda: target.copy_(source))
    return {
        "matmul_size": size,
        "matmul_gflop_per_s": 2 * size**3 / matmul / 1e9,
        "copy_mb": copy_mb,
        "copy_gb_per_s": 2 * source.numel() * 4 / copy / 1e9,
    }


def step_flops(step: Callable[[], None]) -> dict[str, float]:
    """FLOPs of one call of ``step`` per :data:`FLOP_CATEGORIES` category."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    flops: dict[str, float] = {}
    for op, count in counter.get_flop_counts().get("Global", {}).items():
        label = FLOP_CATEGORIES.get(str(op).split(".")[-1], "other")
        flops[label] = flops.get(label, 0.0) + float(count)
    return flops


def activation_bytes(model: torch.nn.Module, step: Callable[[], None]) -> dict[str, int]:
    """Bytes of the outputs of the batch norm and ReLU modules of ``model`` over one call of
    ``step``, per :data:`MINIMUM_PASSES` category."""
    totals = dict.fromkeys(MINIMUM_PASSES, 0)
    handles = []
    for label, types in _module_kinds().items():

        def count(_module, _inputs, output, label=label) -> None:
            totals[label] += output.numel() * output.element_size()

        handles += [m.register_forward_hook(count) for m in model.modules() if isinstance(m, types)]
    try:
        step()
    finally:
        for handle in handles:
            handle.remove()
    return totals


def profiled_self_seconds(step: Callable[[], None], steps: int) -> dict[str, float]:
    """Self CPU seconds per step of every category over ``steps`` profiled calls of ``step``."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    seconds: dict[str, float] = {}
    for event in prof.key_averages():
        label = category(event.key)
        seconds[label] = seconds.get(label, 0.0) + event.self_cpu_time_total / 1e6 / steps
    return seconds


def training_profile(
    arch: str = "shallow_narrow",
    batch_size: int = 16,
    t: int = 3,
    steps: int = 5,
    *,
    precision: str = "fp32",
    channels_last: bool = True,
    target_samples_per_s: float = TARGET_SAMPLES_PER_S,
) -> dict:
    """Time, FLOPs and profile of ``arch``'s CPU training step, the machine's ceilings and the
    bounds they set (module docstring). Category times are the profiler's shares of the step
    scaled to its unprofiled wall time, so the profiler's own overhead spreads evenly."""
    device = torch.device("cpu")
    run = model_steps(arch, device, batch_size, t, precision=precision, channels_last=channels_last)
    run.model.train()
    step_s = best_seconds(run.train_step, repeats=steps)
    flops = step_flops(run.train_step)
    moved = activation_bytes(run.model, run.train_step)
    profiled = profiled_self_seconds(run.train_step, steps)
    profiled_total = sum(profiled.values())
    ceilings = machine_ceilings()
    kinds = {label: kind for label, kind, _ in CATEGORIES}
    rows = []
    for label, _, _ in CATEGORIES:
        share = profiled.get(label, 0.0) / profiled_total
        row = {"category": label, "kind": kinds[label], "share": share, "ms": 1e3 * share * step_s}
        if flops.get(label):
            row["gflop"] = flops[label] / 1e9
            row["gflop_per_s"] = flops[label] / (share * step_s) / 1e9
            row["matmul_share"] = row["gflop_per_s"] / ceilings["matmul_gflop_per_s"]
        if label in MINIMUM_PASSES and row["ms"] > 0:
            row["minimum_gb"] = MINIMUM_PASSES[label] * moved[label] / 1e9
            row["gb_per_s"] = row["minimum_gb"] / (row["ms"] / 1e3)
            row["copy_share"] = row["gb_per_s"] / ceilings["copy_gb_per_s"]
        rows.append(row)
    compute_s = sum(row["ms"] for row in rows if row["kind"] == "compute") / 1e3
    allowed_s = batch_size / target_samples_per_s - compute_s
    return {
        "arch": arch,
        "batch_size": batch_size,
        "t": t,
        "precision": precision,
        "channels_last": channels_last,
        "steps": steps,
        "step_ms": 1e3 * step_s,
        "profiled_step_ms": 1e3 * profiled_total,
        "samples_per_s": batch_size / step_s,
        "gflop_per_step": sum(flops.values()) / 1e9,
        "categories": rows,
        "ceilings": ceilings,
        "bounds": {
            "compute_ms": 1e3 * compute_s,
            "rest_ms": 1e3 * (step_s - compute_s),
            "samples_per_s_if_rest_were_free": batch_size / compute_s,
            "samples_per_s_at_matmul_rate_alone": batch_size
            / (sum(flops.values()) / 1e9 / ceilings["matmul_gflop_per_s"]),
            "target_samples_per_s": target_samples_per_s,
            # how much faster everything but the compute would have to run to reach the target
            # with the convolutions as they are (None: the compute alone is over the budget)
            "rest_speedup_needed": (step_s - compute_s) / allowed_s if allowed_s > 0 else None,
        },
    }


def format_profile(profile: dict) -> str:
    """The profile as the table ``ssmtl bench profile`` prints."""
    lines = [
        f"{profile['arch']}, batch {profile['batch_size']}, t={profile['t']}, "
        f"{profile['precision']}, channels-last {'on' if profile['channels_last'] else 'off'}: "
        f"{profile['samples_per_s']:.1f} samples/s, {profile['step_ms']:.0f} ms per step, "
        f"{profile['gflop_per_step']:.1f} GFLOP per step",
        f"{'category':<30} {'kind':<9} {'ms':>7} {'share':>6}  rate",
    ]
    for row in profile["categories"]:
        rate = ""
        if "gflop" in row:
            rate = f"{row['gflop_per_s']:.0f} GFLOP/s, {row['matmul_share']:.0%} of the matmul's"
        elif "minimum_gb" in row:
            rate = (
                f"{row['minimum_gb']:.2f} GB at least: {row['gb_per_s']:.1f} GB/s, "
                f"{row['copy_share']:.0%} of the copy's"
            )
        lines.append(
            f"{row['category']:<30} {row['kind']:<9} {row['ms']:7.1f} {row['share']:6.1%}  {rate}"
        )
    ceilings, bounds = profile["ceilings"], profile["bounds"]
    needed = bounds["rest_speedup_needed"]
    lines += [
        f"ceilings: {ceilings['matmul_size']}^2 fp32 matmul "
        f"{ceilings['matmul_gflop_per_s']:.0f} GFLOP/s, {ceilings['copy_mb']} MB copy "
        f"{ceilings['copy_gb_per_s']:.1f} GB/s",
        f"bounds: {bounds['samples_per_s_if_rest_were_free']:.1f} samples/s if everything but "
        f"the compute took no time; {bounds['samples_per_s_at_matmul_rate_alone']:.1f} if the "
        "convolutions also ran at the matmul's rate",
        f"target {bounds['target_samples_per_s']:.1f} samples/s: "
        + (
            f"the non-compute {bounds['rest_ms']:.0f} ms would have to run {needed:.1f}x faster"
            if needed
            else "out of reach: the compute alone takes longer"
        ),
    ]
    return "\n".join(lines)
