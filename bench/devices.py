"""Which device runs the networks, whether it computes bf16 natively, and its name as the report
shows it.

torch is imported inside the functions that need it: the report names the CPU without paying
for the import.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


# oneDNN's AMX bf16 3D convolutions (torch 2.14 on CPUs with AMX-BF16, e.g. Sapphire Rapids)
# compute wrong results on the shared CNN's shapes: a one-frame 3 -> 16 conv (T4's input) off
# by up to 27x its output's scale, NaN weight gradients of 32 -> 32 convs at 64x64
# (docs/performance.md, "bf16 on a CPU with AMX"). With oneDNN capped at AVX-512 BF16 (this
# variable) the same scan finds only the two-frame defect that bench.model.BF16_UNSAFE_DEPTH
# guards.
ONEDNN_ISA_CAP = "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16"

# (c_in, c_out, frames, side) of the shared CNN's 3D convolutions the probe checks: the first
# layer on T4's single frame and on 2t + 1 = 7 frames, a middle layer on T3's 2t = 6 and the
# 32 -> 32 shape whose AMX weight gradients were NaN (depth 2 is guarded, not probed)
_PROBE_SHAPES = ((3, 16, 1, 64), (3, 16, 7, 64), (16, 32, 6, 32), (32, 32, 7, 64))
_PROBE_TOLERANCE = 0.05  # relative to the fp32 result's largest magnitude; bf16 rounding: ~0.004


@functools.cache
def cpu_bf16_conv3d_agrees() -> bool:
    """Whether bf16 autocast 3D convolutions on this CPU agree with fp32 (output and weight
    gradient within :data:`_PROBE_TOLERANCE`, finite) on the shared CNN's shapes; once per
    process, ~1 s. ``precision: auto`` trains in fp32 where they do not."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(0)
    for c_in, c_out, frames, side in _PROBE_SHAPES:
        x = torch.rand(2, c_in, frames, side, side, generator=generator)
        weight = torch.randn(c_out, c_in, 3, 3, 3, generator=generator) * 0.1
        results = []
        for bf16 in (False, True):
            w = weight.clone().requires_grad_()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = F.conv3d(x, w, padding=1)
            out.float().square().sum().backward()
            results.append((out.detach().float(), w.grad))
        for exact, rounded in zip(*results, strict=True):
            error = (rounded - exact).abs().max() / exact.abs().max().clamp_min(1e-12)
            if not (torch.isfinite(rounded).all() and error <= _PROBE_TOLERANCE):
                warnings.warn(
                    f"bf16 3D convolutions on this CPU disagree with fp32 ({c_in} -> {c_out} "
                    f"channels, {frames} frames, {side}x{side}: relative error {float(error):.3g}):"
                    " precision auto trains in fp32 here, and --precision bf16 would train with "
                    f"these convolutions; {ONEDNN_ISA_CAP} in the environment avoids oneDNN's AMX "
                    "kernels (right, but no faster than fp32 on the AMX CPU measured)",
                    RuntimeWarning,
                    stacklevel=2,
                )
                return False
    return True


# Training precisions (``ssmtl train --precision``): auto is bf16 autocast where the device
# computes bf16 natively (:func:`native_bf16`), else fp32.
PRECISIONS = ("auto", "fp32", "bf16")


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else the CPU; any other torch device name as given."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware: CUDA with bf16, a CPU with AVX-512 BF16."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU model (:func:`cpu_name`)."""
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    return cpu_name()


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (``unknown CPU`` where there is none)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    return next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
        "unknown CPU",
    )
