"""Peak resident memory of a block of code, for the benchmarks (``ssmtl bench compare``).

``ru_maxrss`` only ever grows, so it cannot tell the peak of one stage run after another in the
same process. On Linux the kernel's high-water mark ``VmHWM`` can be reset by writing ``5`` to
``/proc/self/clear_refs``; :class:`PeakRSS` does so at the start of the block and reads
``VmHWM`` at its end (exact: every page the block touched counts). Where that is not allowed it
samples ``VmRSS`` from a thread every few milliseconds (a lower bound on the peak). The figure
reported is the peak minus the resident set at the start of the block: the block's own memory.

The resident set also holds file pages (shared libraries, memory-mapped caches) that the kernel
may drop under memory pressure while the block runs, which lowers the peak by as much, and under
a memory limit with swap the kernel may swap the process's older anonymous pages out as the block
touches new ones, so the resident set need not grow at all. The growth of anonymous memory,
resident or swapped (``RssAnon`` + ``VmSwap``), from start to end is a floor the figure never
falls under, whatever happens to file pages or swap.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status() -> dict[str, int]:
    """The ``kB`` fields of ``/proc/self/status``, read once (empty off Linux)."""
    try:
        text = _STATUS.read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            fields[name] = int(value.split()[0])
    return fields


def _anon_kb(status: dict[str, int]) -> int:
    """Anonymous memory the process holds, resident or swapped out (kB)."""
    return status.get("RssAnon", 0) + status.get("VmSwap", 0)


def _reset_high_water() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class PeakRSS:
    """``with PeakRSS() as peak: ...`` then ``peak.mb``: the block's peak resident memory above
    the resident set at its start, in MiB (``method``: ``"hwm"`` or ``"sampled"``)."""

    def __init__(self, interval_s: float = 0.005):
        self.interval_s = interval_s
        self.mb = 0.0
        self.method = "hwm"
        self._stop = threading.Event()
        self._max = 0
        self._thread: threading.Thread | None = None
        self.readings_kb: dict[str, int] = {}

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._max = max(self._max, _status().get("VmRSS", 0))

    def __enter__(self) -> PeakRSS:
        # garbage of earlier work is freed first and the base read after the reset: memory
        # released during the block could otherwise hide the block's own peak
        gc.collect()
        reset = _reset_high_water()
        status = _status()
        hwm = reset and "VmHWM" in status
        self._base = status.get("VmRSS", 0)
        self._base_anon = _anon_kb(status)
        if not hwm:
            self.method = "sampled"
            self._max = self._base
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        sampled = self._thread is not None
        if sampled:
            self._stop.set()
            self._thread.join()
        status = _status()
        peak = max(self._max, status.get("VmRSS", 0)) if sampled else status.get("VmHWM", 0)
        end_anon = _anon_kb(status)
        self.mb = max(0.0, (peak - self._base) / 1024, (end_anon - self._base_anon) / 1024)
        # the raw readings, for a figure that looks wrong on an unfamiliar platform
        self.readings_kb = {
            "rss_start": self._base, "rss_peak": peak,
            "anon_start": self._base_anon, "anon_end": end_anon,
        }  # fmt: skip


__all__ = ["PeakRSS"]
