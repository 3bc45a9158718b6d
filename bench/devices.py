"""Which device runs the networks, whether it computes bf16 natively, and its name as the report
shows it.

torch is imported inside the functions that need it: the report names the CPU without paying
for the import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


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
