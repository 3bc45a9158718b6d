"""The static scene of a synthetic dataset: one fixed camera over a paved walkway.

The upper part of the frame is a lawn with trees and a wall; the lower part is the walkway
where objects move, with paving joints, a curb, benches, lamp posts and bins along its far
edge. Perspective: an object's height grows linearly from ``far_scale * person_height`` at the
far edge of the walkway to ``person_height`` at the bottom of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.synth.objects import capsule, ellipse, rounded_box, smooth_noise


@dataclass
class Scene:
    height: int
    width: int
    walk_top: float  # y of the far edge of the walkway (pixels)
    person_height: float  # person height at the bottom of the frame (pixels)
    far_scale: float
    background: np.ndarray  # float32 (H, W, 3)

    def person_size(self, y: float) -> float:
        """Person height (pixels) of an object whose feet are at row ``y``."""
        t = np.clip((y - self.walk_top) / (self.height - self.walk_top), 0.0, 1.0)
        return float(self.person_height * (self.far_scale + (1.0 - self.far_scale) * t))

    @property
    def feet_range(self) -> tuple[float, float]:
        """Rows where feet may be: from just inside the far edge to just above the bottom."""
        return self.walk_top + 0.04 * self.height, self.height - 0.03 * self.height


def _paint(canvas: np.ndarray, coverage: np.ndarray, color, y0: int = 0, x0: int = 0) -> None:
    h, w = coverage.shape
    region = canvas[y0 : y0 + h, x0 : x0 + w]
    a = coverage[..., None]
    region *= 1.0 - a
    region += a * np.asarray(color, np.float32)


def make_scene(rng: np.random.Generator, height: int, width: int, person_height: float) -> Scene:
    H, W = height, width
    walk_top = float(round(H * rng.uniform(0.27, 0.33)))
    Y, X = np.mgrid[0:H, 0:W].astype(np.float32) + 0.5
    canvas = np.empty((H, W, 3), np.float32)
    # walkway: light grey-beige paving with smooth stains and joints denser towards the far edge
    paving = np.array([168, 164, 155], np.float32) * rng.uniform(0.92, 1.05)
    canvas[:] = paving
    stains = smooth_noise(rng, H, W, (6, 9)) * 9 + smooth_noise(rng, H, W, (24, 36)) * 4
    canvas += stains[..., None]
    depth = np.clip((Y - walk_top) / (H - walk_top), 0, 1)
    rows = np.sqrt(depth) * 7.0  # joint rows closer together in the distance
    joints = np.abs(rows - np.round(rows)) < 0.05 + 0.04 * depth
    cols = ((X - W / 2) / (0.55 + 0.45 * depth)) / (W / 8)
    joints |= (np.abs(cols - np.round(cols)) < 0.02 + 0.02 * depth) & (walk_top < Y)
    canvas[joints] -= 14
    # lawn and wall above the walkway
    lawn = walk_top > Y
    grass = np.array([105, 122, 92], np.float32) * rng.uniform(0.9, 1.05)
    canvas[lawn] = (
        grass
        + (smooth_noise(rng, H, W, (10, 15)) * 10 + smooth_noise(rng, H, W, (30, 45)) * 6)[lawn][
            :, None
        ]
    )
    wall_bottom = walk_top * rng.uniform(0.3, 0.45)
    wall = wall_bottom > Y
    canvas[wall] = (
        np.array([130, 122, 118], np.float32) + smooth_noise(rng, H, W, (4, 6))[wall][:, None] * 6
    )
    for x in np.linspace(W * 0.08, W * 0.92, int(rng.integers(4, 8))):  # windows
        _paint(
            canvas,
            rounded_box(X, Y, x, wall_bottom * 0.45, W * 0.03, wall_bottom * 0.22, 1.0),
            [70, 78, 88],
        )
    for _ in range(int(rng.integers(3, 6))):  # trees on the lawn
        x, r = rng.uniform(0, W), rng.uniform(0.06, 0.1) * H
        y = rng.uniform(wall_bottom, walk_top - r * 0.6)
        _paint(canvas, capsule(X, Y, x, y, x, walk_top - 0.02 * H, 0.012 * H + 0.5), [80, 65, 50])
        leaves = ellipse(X, Y, x, y, r * 1.2, r) * np.clip(
            1.0 + 0.4 * smooth_noise(rng, H, W, (20, 30)), 0, 1
        )
        _paint(canvas, leaves, np.array([60, 88, 55], np.float32) * rng.uniform(0.85, 1.1))
    # curb along the far edge of the walkway
    _paint(canvas, rounded_box(X, Y, W / 2, walk_top, W, 0.012 * H + 0.5, 0.0), [192, 190, 184])
    # benches, lamp posts and bins standing on the far edge
    P_far = person_height * 0.6
    for x in rng.uniform(0.05, 0.95, int(rng.integers(2, 4))) * W:
        y = walk_top + 0.02 * H
        wood = np.array([105, 80, 58], np.float32) * rng.uniform(0.85, 1.1)
        _paint(
            canvas,
            rounded_box(X, Y, x, y - 0.42 * P_far, 0.55 * P_far, 0.14 * P_far, 1.0),
            wood * 0.9,
        )
        _paint(
            canvas,
            rounded_box(X, Y, x, y - 0.22 * P_far, 0.6 * P_far, 0.05 * P_far + 0.4, 0.5),
            wood,
        )
        for side in (-1, 1):
            _paint(
                canvas,
                capsule(
                    X,
                    Y,
                    x + side * 0.5 * P_far,
                    y - 0.2 * P_far,
                    x + side * 0.5 * P_far,
                    y,
                    0.04 * P_far + 0.4,
                ),
                [50, 45, 40],
            )
    for x in rng.uniform(0.03, 0.97, int(rng.integers(2, 4))) * W:
        y = walk_top + 0.01 * H
        _paint(canvas, capsule(X, Y, x, y - 1.5 * P_far, x, y, 0.025 * P_far + 0.5), [60, 62, 66])
        _paint(
            canvas,
            ellipse(X, Y, x, y - 1.55 * P_far, 0.09 * P_far + 0.7, 0.07 * P_far + 0.6),
            [225, 222, 200],
        )
    for x in rng.uniform(0.05, 0.95, int(rng.integers(1, 3))) * W:
        y = walk_top + 0.015 * H
        _paint(
            canvas,
            rounded_box(X, Y, x, y - 0.2 * P_far, 0.12 * P_far + 0.5, 0.2 * P_far + 0.5, 1.0),
            [70, 85, 75],
        )
    # soft illumination falloff
    light = 1.0 + 0.08 * smooth_noise(rng, H, W, (2, 3))
    canvas *= light[..., None]
    return Scene(H, W, walk_top, person_height, 0.6, np.clip(canvas, 0, 255))
