"""Training batches (section 3.3): the tubes of a batch of objects, their intermittent sequences
(T2) and teacher targets (T4), from the tube cache's memory maps or from a copy in GPU memory.

On a CUDA device the whole training cache is copied once into device memory as ``uint8``
(:func:`on_device`, when it fits): a batch is then a gather on the device instead of a read
from the memory maps and a host-to-device copy per step, which would otherwise leave the GPU
waiting (a full-data Ped2 cache is 25,510 tubes, 4.4 GB with its intermittent sequences). The
batches hold the same numbers either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bench.tubes import TubeCache

# device memory left free beside the copy (activations, cuDNN workspaces, a second run)
HEADROOM_BYTES = 16 * 2**30


@dataclass
class DeviceCache:
    """The parts of a :class:`~bench.tubes.TubeCache` a training batch reads, as device tensors."""

    tubes: torch.Tensor
    intermittent: torch.Tensor | None
    index: dict[str, np.ndarray] = field(default_factory=dict)


def cache_bytes(cache: TubeCache, teachers: np.ndarray | None) -> int:
    """Bytes of the tubes, intermittent sequences and (as float32) teacher targets."""
    extra = cache.intermittent.nbytes if cache.intermittent is not None else 0
    total = cache.tubes.nbytes + extra
    return total + (teachers.shape[0] * teachers.shape[1] * 4 if teachers is not None else 0)


def on_device(
    cache: TubeCache, teachers: np.ndarray | None, device: torch.device
) -> tuple[TubeCache | DeviceCache, np.ndarray | torch.Tensor | None]:
    """``cache`` and ``teachers`` copied into ``device``'s memory when it is a CUDA device with
    room for them (plus :data:`HEADROOM_BYTES`); else both as given (read per batch)."""
    if device.type != "cuda":
        return cache, teachers
    free, _ = torch.cuda.mem_get_info(device)
    if cache_bytes(cache, teachers) + HEADROOM_BYTES > free:
        return cache, teachers

    def copy(array: np.ndarray) -> torch.Tensor:
        out = torch.empty(array.shape, dtype=torch.uint8, device=device)
        step = 2048  # in slices, so the host never holds a second copy of the cache
        for start in range(0, len(array), step):
            chunk = np.ascontiguousarray(array[start : start + step])
            out[start : start + len(chunk)] = torch.from_numpy(chunk).to(device)
        return out

    moved = DeviceCache(
        tubes=copy(cache.tubes),
        intermittent=copy(cache.intermittent) if cache.intermittent is not None else None,
        index={"detection_row": cache.index["detection_row"]},
    )
    targets = None
    if teachers is not None:
        targets = torch.from_numpy(np.asarray(teachers, dtype=np.float32)).to(device)
    return moved, targets


def gather(array: Any, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array[rows]`` on ``device``: a device gather for a tensor, a read of the memory map for
    an array (moved as stored: ``uint8`` tubes are a quarter of their float bytes)."""
    if isinstance(array, torch.Tensor):
        return array[torch.from_numpy(rows).to(array.device)]
    return torch.from_numpy(np.ascontiguousarray(array[rows])).to(device, non_blocking=True)


def as_input(tubes: torch.Tensor) -> torch.Tensor:
    """Stored tubes ``(B, 2t+1, 3, 64, 64)`` ``uint8`` as the network's input ``(B, 3, 2t+1, 64,
    64)`` in [0, 1] (:func:`bench.tasks.tubes_to_float`)."""
    return tubes.permute(0, 2, 1, 3, 4).float().div_(255.0)


def load_batch(
    cache: TubeCache | DeviceCache,
    teachers: np.ndarray | torch.Tensor | None,
    rows: np.ndarray,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """The tubes of ``rows`` (read in sorted order) as floats in [0, 1], ``(B, 3, T, 64, 64)``,
    plus their intermittent sequences (T2) and teacher targets (T4)."""
    rows = np.sort(rows)
    batch = {"regular": as_input(gather(cache.tubes, rows, device))}
    if cache.intermittent is not None:
        batch["intermittent"] = as_input(gather(cache.intermittent, rows, device))
    if teachers is not None:
        detection_rows = cache.index["detection_row"][rows]
        batch["teacher"] = gather(teachers, detection_rows, device).float()
    return batch


def batches(
    rows: np.ndarray, batch_size: int, rng: np.random.Generator | None
) -> Iterator[np.ndarray]:
    """``rows`` in batches of ``batch_size``, shuffled by ``rng`` (``None``: in order)."""
    order = rng.permutation(rows) if rng is not None else rows
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
