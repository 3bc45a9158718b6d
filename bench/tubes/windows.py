"""Which frames an object-centric sequence reads (paper sections 3.1 and 3.3, task 2).

For an object detected in frame ``i`` the regular sequence reads frames ``i-t .. i+t``
(:func:`window_offsets`, section 3.1). Task 2's intermittent sequence keeps frame ``i`` and
"gradually" adds ``t`` previous and ``t`` succeeding frames with random gaps in ``{1, 2, 3, 4}``
(:func:`intermittent_offsets`, section 3.3).

Choices where the paper is silent:

* **Video ends.** A frame index outside the video is replaced by the first/last frame
  (:func:`clamp_frames`: the sequence repeats the edge frame), or the detection is skipped; which
  one is the builder's edge policy (:mod:`bench.tubes.plan`).
* **Intermittent gaps.** Gaps are drawn outward from frame ``i``, each uniform in
  ``{1 .. max_gap}``; when frames are short near a video end, each gap's upper bound is lowered so
  the whole sequence fits in the video (so inside the video, away from its ends, the gaps are the
  paper's i.i.d. uniform ones). A draw whose gaps are all 1 is the consecutive sequence, not an
  intermittent one, so it is rejected and redrawn (rejection keeps the other draws' distribution).
  Where no intermittent sequence fits (the side of a window that reaches a video end under
  ``"clamp"``, or exactly ``t`` frames on both sides) the gaps are drawn without the fit
  constraint and the frame indices are clamped.
"""

from __future__ import annotations

import numpy as np

from bench.paper import MAX_GAP


def window_offsets(t: int) -> np.ndarray:
    """Offsets ``-t .. t`` of the regular (forward, consecutive) sequence around frame ``i``."""
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t}")
    return np.arange(-t, t + 1, dtype=np.int64)


def intermittent_offsets(
    t: int,
    rng: np.random.Generator,
    max_gap: int = MAX_GAP,
    before: int | None = None,
    after: int | None = None,
) -> np.ndarray:
    """Offsets (length ``2t+1``, strictly increasing, ``0`` in the middle) of an intermittent
    sequence (section 3.3, task 2).

    Starting from frame ``i`` (offset 0), ``t`` previous and ``t`` succeeding frames are added one
    after the other, each ``gap`` frames further out, ``gap`` uniform in ``{1 .. max_gap}``. At
    least one gap is > 1 (an all-ones draw is rejected and redrawn). ``before``/``after``: how many
    frames the video has before/after frame ``i`` (``None`` = unlimited); when given, each gap is
    capped so the sequence stays inside the video. A side with fewer than ``t`` frames, or both
    sides when exactly ``t`` frames are on each (only the consecutive sequence would fit), is drawn
    without the cap and the caller clamps the frame indices. See the module docstring.
    """
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t}")
    if max_gap < 2:
        raise ValueError(f"max_gap must be >= 2 for an intermittent sequence, got {max_gap}")
    # a side with fewer than t frames cannot fit any sequence: drawn freely there (clamped later)
    budgets = [np.inf if b is None or b < t else b for b in (before, after)]
    if budgets[0] == budgets[1] == t:  # only the consecutive sequence fits: draw freely, clamp
        budgets = [np.inf, np.inf]
    while True:
        u = rng.random(2 * t)
        gaps = np.empty(2 * t, dtype=np.int64)
        for side in range(2):
            left = budgets[side]
            for k in range(t):
                # leave at least one frame for each of the t-1-k gaps still to draw on this side
                cap = int(min(max_gap, left - (t - 1 - k)))
                gap = 1 + int(u[side * t + k] * cap)
                gaps[side * t + k] = gap
                left -= gap
        if gaps.max() > 1:
            break
    previous = -np.cumsum(gaps[:t])[::-1]
    succeeding = np.cumsum(gaps[t:])
    return np.concatenate([previous, [0], succeeding]).astype(np.int64)


def clamp_frames(center: np.ndarray, offsets: np.ndarray, num_frames: int) -> np.ndarray:
    """Frame indices ``center + offsets`` clamped to ``0 .. num_frames-1`` (edge frames repeat)."""
    center = np.asarray(center).reshape(-1, 1)
    return np.clip(center + np.asarray(offsets), 0, num_frames - 1)
