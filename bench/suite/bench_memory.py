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


def _status_kb(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (``None`` off Linux)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _anon_kb() -> int:
    """Anonymous memory the process holds, resident or swapped out (kB)."""
    return (_status_kb("RssAnon") or 0) + (_status_kb("VmSwap") or 0)


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
            self._max = max(self._max, _status_kb("VmRSS") or 0)

    def __enter__(self) -> PeakRSS:
        # garbage of earlier work is freed first and the base read after the reset: memory
        # released during the block could otherwise hide the block's own peak
        gc.collect()
        hwm = _reset_high_water() and _status_kb("VmHWM") is not None
        self._base = _status_kb("VmRSS") or 0
        self._base_anon = _anon_kb()
        if not hwm:
            self.method = "sampled"
            self._max = self._base
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            peak = max(self._max, _status_kb("VmRSS") or 0)
        else:
            peak = _status_kb("VmHWM") or 0
        end_anon = _anon_kb()
        self.mb = max(0.0, (peak - self._base) / 1024, (end_anon - self._base_anon) / 1024)
        # the raw readings, for a figure that looks wrong on an unfamiliar platform
        self.readings_kb = {
            "rss_start": self._base, "rss_peak": peak,
            "anon_start": self._base_anon, "anon_end": end_anon,
        }  # fmt: skip


__all__ = ["PeakRSS"]
