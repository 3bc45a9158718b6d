"""How eq. (6) combines its heads: as published, or each head standardised first.

Eq. (6) averages per-object scores that live on different scales: T1 and T2 are probabilities
in [0, 1], T3 a pixel mean absolute error, T4 a mean absolute difference of class
probabilities. Their spreads differ by up to ~80x (Ped2 validation objects, per-object standard
deviation: T1 0.347, T2 0.268, T3 0.028, T4 0.004), so the plain mean is mostly T1 + T2
(docs/ped2.md, the head-scale suspect). Three head scales:

- ``eq6`` (default, the paper): the plain mean of the heads' scores;
- ``zscore_validation`` (a deviation, ``scoring.head_scale``): each head minus its mean, divided
  by its standard deviation, both over the *validation* objects (the last 15% of each training
  video, section 4.2), then averaged. It uses no test data; it changes the weights of the heads,
  not their ranking alone.
- ``log_zscore_validation`` (a deviation): each head on a log scale first, T1 and T2 as the
  log-odds of their abnormal class, T3 and T4 as the log of their error, then standardised with
  the validation objects' statistics of those values. A classifier that is right on 99.7% of
  its validation sequences (Ped2's frame level) puts its probabilities within 1e-4 of 0 on most
  frames and near 1 on a few, so a probability's mean and standard deviation are those few
  outliers'; on the log scale a head's typical values set its weight.

Both standardised scales centre the scores on the validation mean, and the anomaly map's
background is 0 (:mod:`bench.score.maps`): at object level an object under the validation mean
reads like an empty pixel (at frame level the one object covers the whole map).
"""

from __future__ import annotations

import numpy as np

from bench.errors import InputError, ParameterError
from bench.paper import HEAD_SCALE

HEAD_SCALES = ("eq6", "zscore_validation", "log_zscore_validation")

# the heads whose score is a probability (T1, T2: log-odds on the log scale); the others are errors
PROBABILITY_HEADS = ("arrow", "motion")
# float32 probabilities: the smallest positive normal value and the largest value under 1 bound
# the log-odds to about [-87.3, 16.6]; errors below 1e-12 (none measured) count as 1e-12
_P_LOW = float(np.finfo(np.float32).tiny)
_P_HIGH = 1.0 - float(np.finfo(np.float32).epsneg)
_ERROR_FLOOR = 1e-12

HeadStatistics = dict[str, tuple[float, float]]  # head -> (mean, std) over validation objects


def check_head_scale(head_scale: str) -> None:
    if head_scale not in HEAD_SCALES:
        raise ParameterError(f"head_scale must be one of {HEAD_SCALES}, got {head_scale!r}")


def head_statistics(heads: dict[str, np.ndarray]) -> HeadStatistics:
    """Mean and (population) standard deviation of each head's scores."""
    return {task: (float(np.mean(v)), float(np.std(v))) for task, v in heads.items() if len(v)}


def on_scale(heads: dict[str, np.ndarray], head_scale: str) -> dict[str, np.ndarray]:
    """The heads' scores as ``head_scale`` reads them before standardising: unchanged, or on
    the log scale of ``log_zscore_validation`` (module docstring)."""
    check_head_scale(head_scale)
    if not head_scale.startswith("log_"):
        return heads
    out = {}
    for task, values in heads.items():
        v = np.asarray(values, dtype=np.float64)
        if task in PROBABILITY_HEADS:
            p = np.clip(v, _P_LOW, _P_HIGH)
            out[task] = np.log(p) - np.log1p(-p)
        else:
            out[task] = np.log(np.maximum(v, _ERROR_FLOOR))
    return out


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
    (module docstring); ``stats`` the validation objects' statistics on that scale
    (:func:`on_scale`), needed by every scale but ``eq6``."""
    check_head_scale(head_scale)
    chosen = {task: heads[task] for task in tasks}
    if head_scale != "eq6":
        missing = [task for task in tasks if stats is None or task not in stats]
        if missing:
            raise InputError(
                f"head scale {head_scale} needs the validation objects' statistics of "
                f"{', '.join(missing)}",
                fix="give --validation-tubes (the training tube cache) and, with the distillation "
                "task, --validation-targets, or use --head-scale eq6",
            )
        chosen = standardise(on_scale(chosen, head_scale), stats)
    return np.mean([chosen[task] for task in tasks], axis=0)
