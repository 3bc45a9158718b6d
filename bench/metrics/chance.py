"""Chance levels: the AUC a scorer without information gets, per convention and per dataset.

A frame AUC means little without the value a random scorer reaches under the same convention on
the same labels. For scores drawn i.i.d. from a continuous distribution (no ties, every ranking
equally likely) the expected AUC is exact and closed-form:

* **micro** and **macro, strict**: 1/2 for any class balance (each positive/negative pair is
  ordered either way with probability 1/2).
* **macro, padded** (:func:`bench.metrics.frame_auc.frame_auc_macro_padded`): each video is
  min-max normalised, then a normal frame scored 0 and an abnormal frame scored 1 are added.
  With ``n0`` normal and ``n1`` abnormal real frames (``n = n0 + n1``) the
  ``(n0 + 1)(n1 + 1)`` pairs are expected to be ordered correctly

  - ``n0 n1 / 2`` times among the real frames;
  - ``n0 - n0 / (2n)`` times for the abnormal pad against the real normal frames (the highest
    real frame is normalised to 1 and ties the pad, with probability ``n0 / n``);
  - ``n1 - n1 / (2n)`` times for the real abnormal frames against the normal pad (likewise for
    the lowest);
  - once for the two pads;

  so ``E[AUC] = (n0 n1 / 2 + n0 + n1 + 1/2) / ((n0 + 1)(n1 + 1))``. An all-abnormal video
  (``n0 = 0``) gives ``(n1 + 1/2) / (n1 + 1)``, nearly 1: the pads alone decide it. The
  padded macro chance level of a dataset is the mean over its videos (about 68% on Ped2,
  whose test videos 08-11 have no normal frame).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

RANDOM_SCORER_AUC = 0.5


def padded_chance(n_normal: int, n_abnormal: int) -> float:
    """Expected padded AUC of one video under random scores (module docstring)."""
    n0, n1 = int(n_normal), int(n_abnormal)
    if n0 < 0 or n1 < 0 or n0 + n1 == 0:
        raise ValueError(f"a video needs frames, got {n0} normal and {n1} abnormal")
    if n0 + n1 == 1:  # a constant video normalises to 0: a real abnormal frame ties the pad
        return 1.0 if n0 else 0.75
    return (n0 * n1 / 2 + n0 + n1 + 0.5) / ((n0 + 1) * (n1 + 1))


def _bool(labels: np.ndarray) -> np.ndarray:
    return np.asarray(labels).astype(bool)


def chance_levels(labels: Mapping[str, np.ndarray]) -> dict[str, float | None]:
    """Expected AUC of a random scorer under each convention of :func:`frame_auc_report`.

    ``auc_macro_strict`` is ``None`` when no video holds both classes (the strict macro is then
    undefined too)."""
    counts = [(int((~y).sum()), int(y.sum())) for y in map(_bool, labels.values())]
    if not counts:
        raise ValueError("no videos")
    two_class = any(n0 and n1 for n0, n1 in counts)
    return {
        "auc_micro": RANDOM_SCORER_AUC,
        "auc_macro_strict": RANDOM_SCORER_AUC if two_class else None,
        "auc_macro_padded": float(np.mean([padded_chance(n0, n1) for n0, n1 in counts])),
    }
