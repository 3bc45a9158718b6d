"""How busy the rest of the machine was while a benchmark ran (``ssmtl bench compare``).

A load average read at the end of a benchmark counts the benchmark's own threads, so a
two-thread benchmark on two cores always looks "loaded". :class:`OtherLoad` instead takes the
CPU time the whole machine spent busy (``/proc/stat``: every state but idle and iowait) minus
the CPU time of this process and its children, over the block's wall time: the average number of
CPUs other processes kept busy. Off Linux it records ``None``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_STAT = Path("/proc/stat")


def machine_busy_seconds() -> float | None:
    """CPU seconds every CPU of the machine spent busy since boot (``None`` off Linux)."""
    try:
        fields = [int(v) for v in _STAT.read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wall_seconds() -> float:
    return time.monotonic()


def own_busy_seconds() -> float:
    """CPU seconds of this process and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class OtherLoad:
    """``with OtherLoad() as load: ...`` then ``load.cpus``: the average number of CPUs that
    other processes kept busy during the block (``None`` where ``/proc/stat`` is missing)."""

    def __init__(self) -> None:
        self.cpus: float | None = None

    def __enter__(self) -> OtherLoad:
        self._start = (wall_seconds(), machine_busy_seconds(), own_busy_seconds())
        return self

    def __exit__(self, *exc) -> None:
        wall0, machine0, own0 = self._start
        machine = machine_busy_seconds()
        wall = wall_seconds() - wall0
        if machine is None or machine0 is None or wall <= 0:
            return
        others = (machine - machine0) - (own_busy_seconds() - own0)
        self.cpus = round(max(0.0, others) / wall, 2)


__all__ = ["OtherLoad", "machine_busy_seconds", "own_busy_seconds", "wall_seconds"]
