"""Trajectories of the synthetic objects: normal walkers and the anomalous movers.

Every object moves in image space along a direction ``u`` (a walking direction with depth
foreshortened) at a speed proportional to its person height at that depth, so far objects are
slower in pixels. Normal walkers face where they go, advance their gait phase by the distance
walked (a stance foot stays put on the ground), and keep a roughly constant speed. Walkers that
reach the near or far edge of the walkway turn back in depth; objects leave at the left and
right borders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.data.synth.anomalies import AnomalyStyle
from bench.data.synth.objects import Look, Pose
from bench.data.synth.scene import Scene

WALK_SPEED = (0.024, 0.036)  # person heights per frame
WALK_STRIDE = 2 * 0.16 / 0.6  # distance per gait cycle (person heights), see objects.draw_person
RUN_STRIDE = 2 * 0.24 / 0.4
WHEEL_RADIUS = {"cart": 0.15, "bicycle": 0.22}  # person heights, times Look.size


@dataclass
class Agent:
    """One object of one video: its look and its pose in frames ``t0 .. t0 + len(poses) - 1``."""

    shape: str  # person, cart, bicycle
    look: Look
    t0: int
    poses: list[Pose] = field(default_factory=list)
    kind: str | None = None  # anomaly kind, None for normal objects
    subtype: str = "normal"
    track_id: int | None = None

    @property
    def t1(self) -> int:
        return self.t0 + len(self.poses)

    def pose(self, t: int) -> Pose | None:
        return self.poses[t - self.t0] if self.t0 <= t < self.t1 else None


def speed_profile(
    rng: np.random.Generator, subtype: str, n: int, style: AnomalyStyle
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame speed multipliers, hop heights (person heights) and lateral jitter (person
    heights)."""
    t = np.arange(n)
    mult = 1.0 + 0.06 * np.sin(2 * np.pi * t / rng.uniform(30, 60) + rng.uniform(0, 2 * np.pi))
    lift = np.zeros(n)
    jitter = np.zeros(n)
    if subtype == "running":
        mult *= style.run_factor
    elif subtype == "reverse_walk":
        mult *= style.reverse_speed
    elif subtype == "stop_go":
        k, going = 0, True
        while k < n:
            length = int(rng.integers(5, 11) if going else rng.integers(4, 11))
            mult[k : k + length] = style.go_factor if going else 0.0
            k, going = k + length, not going
    elif subtype == "jumping":
        k = int(rng.integers(2, 8))
        while k < n:
            length = int(rng.integers(5, 8))
            s = np.arange(length + 1) / length
            hop = 4 * style.hop_height * s * (1 - s)
            lift[k : k + length + 1] = hop[: max(0, min(length + 1, n - k))]
            k += length + int(rng.integers(5, 12))
    elif subtype == "jerky":
        mult = np.maximum(0.0, 1.0 + style.jerk * rng.uniform(-1, 1, n))
        jitter = style.jitter * rng.uniform(-1, 1, n)
    return mult, lift, jitter


def mean_multiplier(subtype: str, style: AnomalyStyle) -> float:
    return {
        "running": style.run_factor,
        "reverse_walk": style.reverse_speed,
        "stop_go": style.go_factor * 0.55,
    }.get(subtype, 1.0)


def margin(shape: str, look: Look, P: float) -> float:
    """How far past the border the feet must be for the sprite to be entirely outside."""
    return (0.5 if shape == "person" else 1.0 * look.size) * P + 3


def entry_offset(shape: str, look: Look, P: float) -> float:
    """How far past the border an entering object starts: just out of sight, or barely in it."""
    return (0.25 if shape == "person" else 0.75 * look.size) * P


def simulate(
    rng: np.random.Generator,
    scene: Scene,
    agent: Agent,
    x: float,
    y: float,
    theta: float,
    num_frames: int,
    style: AnomalyStyle,
) -> Agent:
    """Fill ``agent.poses`` from frame ``agent.t0`` until it leaves the frame or the video ends."""
    ux, uy = np.cos(theta), 0.55 * np.sin(theta)
    norm = np.hypot(ux, uy)
    ux, uy = ux / norm, uy / norm
    v0 = rng.uniform(*WALK_SPEED)
    n = num_frames - agent.t0
    mult, lift, jitter = speed_profile(rng, agent.subtype, n, style)
    sign = -1.0 if agent.subtype == "reverse_walk" else 1.0
    running = agent.subtype == "running"
    if agent.shape == "person":
        stride = RUN_STRIDE if running else WALK_STRIDE
    else:
        stride = 2 * np.pi * WHEEL_RADIUS[agent.shape] * agent.look.size
    phase = rng.uniform(0, 1)
    lo, hi = scene.feet_range
    for k in range(n):
        P = scene.person_size(y)
        dx, dy = -uy * jitter[k] * P, ux * jitter[k] * P
        agent.poses.append(Pose(x + dx, y + dy, P, ux, uy, phase, lift[k] * P, running))
        step = v0 * P * mult[k]
        x += sign * step * ux
        y += sign * step * uy
        phase += sign * step / (stride * P)
        if (y < lo and sign * uy < 0) or (y > hi and sign * uy > 0):
            uy = -uy
        edge = margin(agent.shape, agent.look, P)
        if (x < -edge and sign * ux < 0) or (x > scene.width + edge and sign * ux > 0):
            break
    return agent


def walking_direction(rng: np.random.Generator, rightwards: bool) -> float:
    """A walking direction: mostly along the walkway (left/right), up to ~20 degrees off."""
    return (0.0 if rightwards else np.pi) + rng.uniform(-0.35, 0.35)
