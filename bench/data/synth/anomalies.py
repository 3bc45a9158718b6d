"""The four anomaly kinds of the synthetic scenes, one aimed at each SSMTL proxy task.

* ``wrong_direction`` (T1, arrow of time): a pedestrian that faces one way and walks the other
  way with its gait cycle running backwards, i.e. exactly a normal walker played in reverse.
  Every normal object faces where it goes (face patch and backpack mark the front and the
  back) and bobs with a time-asymmetric sawtooth (slow rise, quick drop), so the arrow of time
  is learnable on normal data.
* ``irregular_motion`` (T2, motion irregularity): a normal-looking pedestrian that runs
  (2.5-4x the normal speed, like a clip with skipped frames), hops, stops and starts, or moves
  jerkily.
* ``unusual_appearance`` (T3, middle-box reconstruction): a normally shaped, normally moving
  pedestrian dressed in a pattern never seen in training (stripes, checkerboard, saturated
  colour); training clothes are muted, low-contrast, smoothly textured.
* ``novel_object`` (T4, distillation of the teachers' class scores): an object type never seen
  in training (a cart on wheels or a rider-less bicycle) at walking speed.

``difficulty`` in [0, 1] makes each kind subtler (see :class:`AnomalyStyle`).
"""

from __future__ import annotations

from dataclasses import dataclass

ANOMALY_KINDS: dict[str, int] = {
    "wrong_direction": 1,
    "irregular_motion": 2,
    "unusual_appearance": 4,
    "novel_object": 8,
}
KIND_NAMES: tuple[str, ...] = tuple(ANOMALY_KINDS)
# The proxy task each kind is designed to be caught by (paper names T1..T4, see the module
# docstring).
AIMED_TASK: dict[str, str] = {
    "wrong_direction": "T1",
    "irregular_motion": "T2",
    "unusual_appearance": "T3",
    "novel_object": "T4",
}

# Sub-types drawn for each kind, with their probabilities.
SUBTYPES: dict[str, dict[str, float]] = {
    "wrong_direction": {"reverse_walk": 1.0},
    "irregular_motion": {"running": 0.4, "stop_go": 0.2, "jumping": 0.2, "jerky": 0.2},
    "unusual_appearance": {
        "stripes_h": 0.25,
        "stripes_v": 0.25,
        "checkerboard": 0.25,
        "saturated": 0.25,
    },
    "novel_object": {"cart": 0.5, "bicycle": 0.5},
}


def lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


@dataclass(frozen=True)
class AnomalyStyle:
    """How blatant each anomaly is at one difficulty (0 = blatant, 1 = subtle)."""

    difficulty: float

    @property
    def run_factor(self) -> float:
        """Speed multiplier of runners (4x at difficulty 0, 2.5x at 1)."""
        return lerp(4.0, 2.5, self.difficulty)

    @property
    def reverse_speed(self) -> float:
        """Speed multiplier of reverse walkers (slower walkers show less of the arrow of time)."""
        return lerp(1.1, 0.75, self.difficulty)

    @property
    def hop_height(self) -> float:
        """Hop height, in person heights."""
        return lerp(0.45, 0.2, self.difficulty)

    @property
    def jerk(self) -> float:
        """Per-frame speed spread (as a multiple of the walking speed) of jerky movers."""
        return lerp(2.2, 1.2, self.difficulty)

    @property
    def jitter(self) -> float:
        """Lateral jitter of jerky movers, in person heights."""
        return lerp(0.07, 0.03, self.difficulty)

    @property
    def go_factor(self) -> float:
        """Speed multiplier of the bursts between stops of stop-go movers."""
        return lerp(3.0, 2.0, self.difficulty)

    @property
    def pattern_contrast(self) -> float:
        """Blend weight of the unusual pattern over the normal clothes colour."""
        return lerp(1.0, 0.5, self.difficulty)

    @property
    def novel_size(self) -> float:
        """Size of novel objects relative to the default (a cart ~1.3 person heights wide)."""
        return lerp(1.15, 0.75, self.difficulty)
