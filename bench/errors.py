"""Named errors: what a user can fix (exit code 2) versus a bug (exit code 1 with a traceback).

Every problem a user can fix (a missing or malformed file, a parameter out of range, inputs
that do not belong together, unsafe weights, a full disk) is raised as a :class:`BenchError`
naming the ``file``, the ``problem`` and the ``fix``; ``ssmtl`` prints it and exits with
:data:`EXIT_BAD_INPUT`. Anything else is a bug: ``ssmtl`` lets the traceback through and exits
with :data:`EXIT_INTERNAL`. The classes also derive from the builtin a caller would catch
(``ValueError``, ``OSError``), so library callers that caught those still do.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell's code for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


class BenchError(Exception):
    """A problem the user can fix; ``str()`` reads ``file: problem; fix``. A subclass's
    ``default_fix`` is the fix when a raise gives none (every message then says what to do)."""

    default_fix: str | None = None

    def __init__(self, problem: str, file: str | Path | None = None, fix: str | None = None):
        self.problem, self.file = problem, file
        self.fix = fix if fix is not None else self.default_fix
        super().__init__(self.message())

    def message(self) -> str:
        text = f"{self.file}: {self.problem}" if self.file is not None else self.problem
        return f"{text}; {self.fix}" if self.fix else text

    def lines(self) -> list[str]:
        """The lines ``ssmtl`` prints after ``error:`` (one per problem)."""
        return [self.message()]


class InputError(BenchError, ValueError):
    """An input file or value is malformed, inconsistent or out of range."""


class ParameterError(InputError):
    """A parameter is out of its range (``lambda < 0``, ``stride < 1``, ...)."""


class ProvenanceError(InputError):
    """Two inputs that must belong together (same dataset, split, videos) do not."""


class UnsafeWeightsError(InputError):
    """A weights file could run code when loaded and was not trusted explicitly."""


class DiskSpaceError(BenchError, OSError):
    """Not enough free disk space for an output; the message says how much is needed."""


def check_range(
    name: str,
    value: float,
    minimum: float | None = None,
    maximum: float | None = None,
    fix: str | None = None,
) -> None:
    """Raise :class:`ParameterError` unless ``minimum <= value <= maximum`` (and finite)."""
    import math

    bad = value is None or (isinstance(value, float) and not math.isfinite(value))
    bad = bad or (minimum is not None and value < minimum)
    bad = bad or (maximum is not None and value > maximum)
    if bad:
        bounds = " and ".join(
            part
            for part in (
                f">= {minimum}" if minimum is not None else "",
                f"<= {maximum}" if maximum is not None else "",
            )
            if part
        )
        raise ParameterError(
            f"{name} is {value!r}, it must be a finite number {bounds}".rstrip(),
            fix=fix or f"pass a value {bounds}",
        )


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a CI timeout, ``dvc`` stopping a stage) as an interrupt: the same
    clean-up runs as for Ctrl-C (unfinished atomic outputs removed, an MLflow run ended
    ``KILLED``); ``ssmtl`` exits with :data:`EXIT_TERMINATED`."""


def _interrupt(signum: int, frame: Any) -> None:
    """The handler of SIGTERM (and of SIGINT where Python's default was in place): raise
    :class:`Terminated` or ``KeyboardInterrupt`` in the main thread, except inside the
    re-delivering hook, where the exception would be swallowed: there, deliver again later."""
    if _inside(frame, _redeliver.__code__):
        _deliver_soon(signum)
        return
    if signum == signal.SIGTERM:
        raise Terminated(f"terminated by signal {signum}")
    raise KeyboardInterrupt


def _inside(frame: Any, code: Any) -> bool:
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def _deliver_soon(signum: int) -> None:
    """Mark ``signum`` pending in the main thread a moment from now, from another thread: its
    handler then runs in the code the main thread has returned to."""
    timer = threading.Timer(0.01, _thread.interrupt_main, args=(signum,))
    timer.daemon = True
    timer.start()


def _redeliver(unraisable: Any) -> None:
    """``sys.unraisablehook`` while :func:`terminate_as_interrupt` is open: an interrupt that
    Python swallowed is delivered again; any other unraisable error goes to the hook before.

    A signal's handler runs in whatever Python code the main thread executes next; when that is
    a weakref callback or a ``__del__`` (the garbage collector runs them anywhere, e.g. inside
    ``torch``'s backward), the exception is printed as "Exception ignored" and lost, and the
    process would go on as if never signalled."""
    error = unraisable.exc_value
    if isinstance(error, KeyboardInterrupt):
        _deliver_soon(signal.SIGTERM if isinstance(error, Terminated) else signal.SIGINT)
    else:
        _previous_hooks[-1](unraisable)


_previous_hooks: list[Any] = []


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While open, SIGTERM raises :class:`Terminated` in the main thread instead of ending the
    process on the spot (which would leave the run ``RUNNING`` forever), and an interrupt that
    landed in a weakref callback or ``__del__`` is delivered again (:func:`_redeliver`); the
    previous handlers and hook are restored after. Signal handlers can only be set in the main
    thread: elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    _previous_hooks.append(sys.unraisablehook)
    sys.unraisablehook = _redeliver
    try:
        yield
    finally:
        sys.unraisablehook = _previous_hooks.pop()
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "BenchError",
    "DiskSpaceError",
    "InputError",
    "ParameterError",
    "ProvenanceError",
    "Terminated",
    "UnsafeWeightsError",
    "check_range",
    "terminate_as_interrupt",
]
