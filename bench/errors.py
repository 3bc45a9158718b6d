"""Named errors: what a user can fix (exit code 2) versus a bug (exit code 1 with a traceback).

Every problem a user can fix (a missing or malformed file, a parameter out of range, inputs
that do not belong together, unsafe weights, a full disk) is raised as a :class:`BenchError`
naming the ``file``, the ``problem`` and the ``fix``; ``ssmtl`` prints it and exits with
:data:`EXIT_BAD_INPUT`. Anything else is a bug: ``ssmtl`` lets the traceback through and exits
with :data:`EXIT_INTERNAL`. The classes also derive from the builtin a caller would catch
(``ValueError``, ``OSError``), so library callers that caught those still do.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2


class BenchError(Exception):
    """A problem the user can fix; ``str()`` reads ``file: problem; fix``."""

    def __init__(self, problem: str, file: str | Path | None = None, fix: str | None = None):
        self.problem, self.file, self.fix = problem, file, fix
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


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "BenchError",
    "DiskSpaceError",
    "InputError",
    "ParameterError",
    "ProvenanceError",
    "UnsafeWeightsError",
    "check_range",
]
