"""How eq. (6) combines its heads: as published, or each head standardised first.

Eq. (6) averages per-object scores that live on different scales: T1 and T2 are probabilities
in [0, 1], T3 a pixel mean absolute error, T4 a mean absolute difference of class
probabilities. Their spreads differ by up to ~80x (Ped2 validation objects, per-object standard
deviation: T1 0.347, T2 0.268, T3 0.028, T4 0.004), so the plain mean is mostly T1 + T2
(docs/ped2.md, the head-scale suspect). Two head scales:

- ``eq6`` (default, the paper): the plain mean of the heads' scores;
- ``zscore_validation`` (a deviation, ``scoring.head_scale``): each head minus its mean, divided
  by its standard deviation, both over the *validation* objects (the last 15% of each training
  video, section 4.2), then averaged. It uses no test data; it changes the weights of the heads,
  not their ranking alone.
"""

from __future__ import annotations

import numpy as np

from bench.errors import InputError, ParameterError
from bench.paper import HEAD_SCALE

HEAD_SCALES = ("eq6", "zscore_validation")

HeadStatistics = dict[str, tuple[float, float]]  # head -> (mean, std) over validation objects


def check_head_scale(head_scale: str) -> None:
    if head_scale not in HEAD_SCALES:
        raise ParameterError(f"head_scale must be one of {HEAD_SCALES}, got {head_scale!r}")


def head_statistics(heads: dict[str, np.ndarray]) -> HeadStatistics:
    """Mean and (population) standard deviation of each head's scores."""
    return {task: (float(np.mean(v)), float(np.std(v))) for task, v in heads.items() if len(v)}


def standardise(heads: dict[str, np.ndarray], stats: HeadStatistics) -> dict[str, np.ndarray]:
    """``(score - mean) / std`` per head; a head with no spread keeps std 1 (no division by 0)."""
    return {task: (heads[task] - stats[task][0]) / (stats[task][1] or 1.0) for task in heads}


def combine_heads(
    heads: dict[str, np.ndarray],
    tasks: tuple[str, ...],
    head_scale: str = HEAD_SCALE,
    stats: HeadStatistics | None = None,
) -> np.ndarray:
    """The object scores of eq. (6): the mean of the ``tasks`` heads, on the ``head_scale``
    (module docstring); ``stats`` the validation objects' statistics, needed by
    ``zscore_validation``."""
    check_head_scale(head_scale)
    chosen = {task: heads[task] for task in tasks}
    if head_scale == "zscore_validation":
        missing = [task for task in tasks if stats is None or task not in stats]
        if missing:
            raise InputError(
                f"head scale zscore_validation needs the validation objects' statistics of "
                f"{', '.join(missing)}",
                fix="give --validation-tubes (the training tube cache) and, with the distillation "
                "task, --validation-targets, or use --head-scale eq6",
            )
        chosen = standardise(chosen, stats)
    return np.mean([chosen[task] for task in tasks], axis=0)
