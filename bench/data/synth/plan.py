"""Where and when the synthetic scenes' objects move: the normal crowd of every video and the
anomalous objects of the test videos (their kinds: :mod:`bench.data.synth.anomalies`)."""

from __future__ import annotations

import numpy as np

from bench.data.synth.anomalies import SUBTYPES, AnomalyStyle
from bench.data.synth.motion import (
    WALK_SPEED,
    Agent,
    entry_offset,
    mean_multiplier,
    simulate,
    walking_direction,
)
from bench.data.synth.objects import sample_look, unusual_look
from bench.data.synth.scene import Scene


def _spawn_normal(
    rng, scene: Scene, t0: int, num_frames: int, style: AnomalyStyle, on_screen: bool
) -> Agent:
    agent = Agent("person", sample_look(rng), t0)
    rightwards = bool(rng.random() < 0.5)
    y = rng.uniform(*scene.feet_range)
    P = scene.person_size(y)
    if on_screen:
        x = rng.uniform(0, scene.width)
    else:
        x = (
            -entry_offset("person", agent.look, P)
            if rightwards
            else scene.width + entry_offset("person", agent.look, P)
        )
    return simulate(rng, scene, agent, x, y, walking_direction(rng, rightwards), num_frames, style)


def plan_normals(
    rng: np.random.Generator,
    scene: Scene,
    num_frames: int,
    count: tuple[int, int],
    style: AnomalyStyle,
    others: list[Agent],
) -> list[Agent]:
    """Normal walkers entering at the left and right borders, about ``count`` on screen at a time.

    The crowd is simulated from well before frame 0 (one crossing of the frame), so its size
    has no trend over the video. A target size is redrawn every ~40 frames; ``others`` (the
    anomalous objects) count towards it, so the mere number of objects gives anomalies away
    less.
    """
    lo, hi = count
    burn_in = int(scene.width / (np.mean(WALK_SPEED) * 0.8 * scene.person_height))
    target = int(rng.integers(lo, hi + 1))
    agents = [_spawn_normal(rng, scene, -burn_in, num_frames, style, True) for _ in range(target)]
    for t in range(1 - burn_in, num_frames):
        if rng.random() < 1 / 40:
            target = int(rng.integers(lo, hi + 1))
        active = sum(a.t0 <= t < a.t1 for a in agents) + sum(a.t0 <= t < a.t1 for a in others)
        if active < target and rng.random() < 0.15:
            agents.append(_spawn_normal(rng, scene, t, num_frames, style, False))
    kept = []
    for agent in agents:
        if agent.t0 < 0:
            agent.poses, agent.t0 = agent.poses[-agent.t0 :], 0
        if agent.poses:
            kept.append(agent)
    return kept + others


def _pick(rng: np.random.Generator, options: dict[str, float]) -> str:
    names = list(options)
    return names[
        int(rng.choice(len(names), p=np.array(list(options.values())) / sum(options.values())))
    ]


def plan_anomaly(
    rng, scene: Scene, kind: str, track_id: int, num_frames: int, style: AnomalyStyle, exits: bool
) -> Agent:
    """One anomalous object, entering at a border partway through the video (or, with ``exits``,
    on screen from the start and leaving partway through), so its video has normal frames too."""
    subtype = _pick(rng, SUBTYPES[kind])
    if kind == "unusual_appearance":
        agent = Agent("person", unusual_look(rng, subtype, style.pattern_contrast), 0)
    elif kind == "novel_object":
        look = sample_look(rng)
        look.size = style.novel_size * rng.uniform(0.9, 1.1)
        agent = Agent(subtype, look, 0)
    else:
        agent = Agent("person", sample_look(rng), 0)
    agent.kind, agent.subtype, agent.track_id = kind, subtype, track_id
    moves_right = bool(rng.random() < 0.5)
    # a reverse walker faces the way it came from: it *moves* towards moves_right
    faces_right = moves_right != (subtype == "reverse_walk")
    theta = walking_direction(rng, faces_right)
    y = rng.uniform(*scene.feet_range)
    P = scene.person_size(y)
    enter = entry_offset(agent.shape, agent.look, P)
    leave_at = rng.uniform(0.3, 0.65) * num_frames
    distance = (
        np.mean(WALK_SPEED) * P * mean_multiplier(subtype, style) * abs(np.cos(theta)) * leave_at
    )
    if (
        exits and 2 * enter < distance < 0.75 * scene.width
    ):  # on screen from the start, leaves at about leave_at
        x = scene.width + enter - distance if moves_right else -enter + distance
    else:  # enters at a border partway through
        agent.t0 = int(rng.integers(int(0.12 * num_frames), int(0.55 * num_frames) + 1))
        x = -enter if moves_right else scene.width + enter
    return simulate(rng, scene, agent, x, y, theta, num_frames, style)
