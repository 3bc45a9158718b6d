"""Looks and sprites of the synthetic objects: pedestrians, carts and bicycles.

Sprites are drawn from soft signed-distance shapes evaluated on the pixel grid of the object's
bounding box (numpy, no per-pixel Python loops), so positions are sub-pixel and edges are
anti-aliased. An object's *silhouette* is where its own coverage exceeds 0.5; that silhouette is
what its ground-truth mask, track box and oracle detection box are made of.

Geometry is in units of the object's person height ``P`` (pixels at its depth). The object
stands with its feet at ``(x, y)``; ``heading`` ``(hx, hy)`` is the unit vector it *faces*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from bench.data.synth.shapes import Painter, capsule, ellipse, ring, rounded_box

TEXTURE_SIZE = 32

# Muted clothes colours of normal pedestrians (RGB); saturation is reduced further per object.
CLOTHES = np.array(
    [
        [60, 70, 95],
        [85, 85, 85],
        [110, 90, 70],
        [70, 85, 65],
        [150, 140, 120],
        [40, 40, 45],
        [120, 110, 130],
        [95, 60, 55],
        [140, 145, 150],
        [75, 95, 110],
    ],
    dtype=np.float32,
)
SKIN = np.array(
    [[205, 170, 140], [175, 135, 105], [135, 100, 75], [225, 195, 170]], dtype=np.float32
)
HAIR = np.array([[35, 30, 25], [70, 50, 35], [110, 90, 60], [55, 55, 55]], dtype=np.float32)
SATURATED = np.array(
    [[235, 25, 25], [25, 210, 40], [230, 30, 220], [250, 220, 20], [20, 200, 230], [255, 120, 0]],
    dtype=np.float32,
)


@dataclass
class Look:
    """Colours, texture and build of one object."""

    shirt: np.ndarray
    trousers: np.ndarray
    hair: np.ndarray
    skin: np.ndarray
    backpack: np.ndarray | None
    texture: np.ndarray  # (TEXTURE_SIZE, TEXTURE_SIZE) smooth noise in about [-1, 1]
    texture_amp: float
    build: float  # width multiplier of the torso
    pattern: str | None = None  # stripes_h, stripes_v, checkerboard, saturated
    pattern_colors: np.ndarray = field(default_factory=lambda: np.zeros((2, 3), np.float32))
    pattern_period: float = 0.16  # person heights
    pattern_contrast: float = 1.0
    size: float = 1.0  # novel objects: size multiplier


def smooth_noise(
    rng: np.random.Generator, height: int, width: int, cells: tuple[int, int]
) -> np.ndarray:
    """Smooth noise of about unit standard deviation: a coarse random grid upsampled bicubically."""
    coarse = rng.standard_normal((cells[0] + 1, cells[1] + 1)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def desaturate(color: np.ndarray, amount: float) -> np.ndarray:
    gray = color.mean()
    return (color + (gray - color) * amount).astype(np.float32)


def sample_look(rng: np.random.Generator) -> Look:
    """A normal pedestrian: muted clothes with a faint smooth texture, a face and often a
    backpack."""
    shirt = desaturate(
        CLOTHES[rng.integers(len(CLOTHES))] * rng.uniform(0.85, 1.15), rng.uniform(0.0, 0.4)
    )
    trousers = desaturate(
        CLOTHES[rng.integers(len(CLOTHES))] * rng.uniform(0.6, 0.9), rng.uniform(0.2, 0.6)
    )
    backpack = None
    if rng.random() < 0.6:
        backpack = desaturate(CLOTHES[rng.integers(len(CLOTHES))] * rng.uniform(0.5, 0.8), 0.3)
    return Look(
        shirt=shirt,
        trousers=trousers,
        hair=HAIR[rng.integers(len(HAIR))] * rng.uniform(0.9, 1.1),
        skin=SKIN[rng.integers(len(SKIN))] * rng.uniform(0.95, 1.05),
        backpack=backpack,
        texture=smooth_noise(rng, TEXTURE_SIZE, TEXTURE_SIZE, (4, 4)),
        texture_amp=float(rng.uniform(0.05, 0.12)),
        build=float(rng.uniform(0.85, 1.15)),
    )


def unusual_look(rng: np.random.Generator, pattern: str, contrast: float) -> Look:
    """A normal pedestrian's look with clothes in a pattern never used for normal objects."""
    look = sample_look(rng)
    look.pattern = pattern
    look.pattern_contrast = contrast
    look.pattern_period = float(rng.uniform(0.14, 0.2))
    if pattern == "saturated":
        pick = rng.choice(len(SATURATED), size=2, replace=False)
        look.pattern_colors = SATURATED[pick].copy()
    else:
        bright = (
            SATURATED[rng.integers(len(SATURATED))]
            if rng.random() < 0.5
            else np.full(3, 240, np.float32)
        )
        look.pattern_colors = np.stack([bright, np.full(3, 20, np.float32)]).astype(np.float32)
    return look


# --- per-frame pose ------------------------------------------------------------------------------


@dataclass
class Pose:
    """Where and how one object is drawn in one frame."""

    x: float  # feet, pixels
    y: float
    P: float  # person height at this depth, pixels
    hx: float  # facing direction (unit)
    hy: float
    phase: float  # gait phase (cycles; only its fractional part matters) or wheel turn
    lift: float = 0.0  # hop height, pixels
    running: bool = False


def _foot_offset(phase: float, stance: float) -> tuple[float, float]:
    """Foot position along the heading in [-1, 1] and its lift in [0, 1] for a gait phase.

    Stance (fraction ``stance`` of the cycle): the foot slides back from +1 to -1 under the
    body, i.e. it rests on the ground while the body moves on. Swing: it is lifted and brought
    forward quickly.
    """
    p = phase % 1.0
    if p < stance:
        return 1.0 - 2.0 * p / stance, 0.0
    q = (p - stance) / (1.0 - stance)
    return -1.0 + 2.0 * q, float(np.sin(np.pi * q))


def bob(phase: float) -> float:
    """Time-asymmetric body bob in [-0.5, 0.5]: slow rise over 75% of each step, quick drop."""
    p = (2.0 * phase) % 1.0
    return (p / 0.75 if p < 0.75 else (1.0 - p) / 0.25) - 0.5


def extent(shape: str, pose: Pose, look: Look) -> tuple[float, float, float, float]:
    """A box ``(x0, y0, x1, y1)`` that surely contains the sprite."""
    P = pose.P
    half = (0.5 * P if shape == "person" else 1.0 * P * look.size) + 2
    return pose.x - half, pose.y - 1.15 * P - pose.lift - 2, pose.x + half, pose.y + 0.12 * P + 2


def _clothes(
    painter: Painter, look: Look, base: np.ndarray, cx: float, cy: float, P: float
) -> np.ndarray:
    """Per-pixel clothes colour: a textured base colour, or the unusual pattern blended over it."""
    X, Y = painter.X, painter.Y
    u = ((X - cx) / P * 40).astype(np.int64) % TEXTURE_SIZE
    v = ((Y - cy) / P * 40).astype(np.int64) % TEXTURE_SIZE
    color = base * (1.0 + look.texture_amp * look.texture[v, u])[..., None]
    if look.pattern is None:
        return color
    half = look.pattern_period * P / 2
    if look.pattern == "stripes_h":
        select = np.floor((Y - cy) / half).astype(np.int64) % 2
    elif look.pattern == "stripes_v":
        select = np.floor((X - cx) / half).astype(np.int64) % 2
    elif look.pattern == "checkerboard":
        select = (np.floor((X - cx) / half) + np.floor((Y - cy) / half)).astype(np.int64) % 2
    else:  # saturated: shirt and trousers each in one flat saturated colour
        select = np.zeros(X.shape, np.int64) if base is look.shirt else np.ones(X.shape, np.int64)
    pattern = look.pattern_colors[select]
    c = look.pattern_contrast
    return color * (1.0 - c) + pattern * c


def draw_person(painter: Painter, pose: Pose, look: Look) -> None:
    X, Y = painter.X, painter.Y
    P, hx, hy = pose.P, pose.hx, pose.hy
    stance, reach, amp = (0.4, 0.24, 0.07) if pose.running else (0.6, 0.16, 0.045)
    lean = (0.06 if pose.running else 0.015) * P * hx
    rise = pose.lift + bob(pose.phase) * amp * P
    hip_y = pose.y - 0.47 * P - rise
    ground = pose.y - 0.03 * P - pose.lift
    leg_r = 0.055 * P * look.build
    trousers = _clothes(painter, look, look.trousers, pose.x, hip_y, P)
    for k, shade in ((1, 0.8), (0, 1.0)):  # far leg (darker) first
        offset, up = _foot_offset(pose.phase + 0.5 * k, stance)
        fx = pose.x + offset * reach * P * hx
        fy = ground + offset * reach * P * hy * 0.3 - up * 0.06 * P
        cover = capsule(X, Y, pose.x + 0.02 * P * hx * (1 - 2 * k), hip_y, fx, fy, leg_r)
        painter.add(cover, trousers * shade)
    torso_x, torso_y = pose.x + lean, pose.y - 0.65 * P - rise
    half_w = 0.14 * P * look.build
    if look.backpack is not None:
        cover = rounded_box(
            X,
            Y,
            torso_x - 0.13 * P * look.build * hx,
            torso_y - 0.02 * P,
            0.08 * P,
            0.12 * P,
            0.04 * P,
        )
        painter.add(cover, look.backpack)
    cover = rounded_box(X, Y, torso_x, torso_y, half_w, 0.2 * P, 0.07 * P)
    painter.add(cover, _clothes(painter, look, look.shirt, torso_x, torso_y, P))
    head_x, head_y, head_r = torso_x + 0.025 * P * hx, pose.y - 0.94 * P - rise, 0.1 * P
    head = ellipse(X, Y, head_x, head_y, head_r, head_r * 1.05)
    painter.add(head, look.hair)
    face = ellipse(
        X, Y, head_x + 0.05 * P * hx, head_y + 0.015 * P + 0.04 * P * hy, 0.065 * P, 0.075 * P
    )
    painter.add(np.minimum(face, head), look.skin)


def _wheel(
    painter: Painter,
    cx: float,
    cy: float,
    r: float,
    turn: float,
    tyre: np.ndarray,
    hub: np.ndarray,
    solid: bool,
) -> None:
    X, Y = painter.X, painter.Y
    if solid:
        painter.add(ellipse(X, Y, cx, cy, r, r), tyre)
    else:
        painter.add(ring(X, Y, cx, cy, r * 0.9, r * 0.22), tyre)
    for spoke in (0.0, 0.5):
        angle = 2 * np.pi * (turn + spoke * 0.5)
        dx, dy = np.cos(angle) * r * 0.75, np.sin(angle) * r * 0.75
        painter.add(capsule(X, Y, cx - dx, cy - dy, cx + dx, cy + dy, max(0.12 * r, 0.5)), hub)


def draw_cart(painter: Painter, pose: Pose, look: Look) -> None:
    """A wide box on two wheels with a push handle at the back."""
    X, Y = painter.X, painter.Y
    P, s = pose.P, look.size
    sx = 1.0 if pose.hx >= 0 else -1.0
    width, height, r = 1.3 * P * s, 0.5 * P * s, 0.15 * P * s
    top = pose.y - 2 * r - height
    cover = capsule(
        X,
        Y,
        pose.x - sx * width / 2,
        top + 0.02 * P,
        pose.x - sx * (width / 2 + 0.18 * P * s),
        top - 0.28 * P * s,
        0.035 * P,
    )
    painter.add(cover, look.trousers * 0.7)
    body = rounded_box(X, Y, pose.x, top + height / 2, width / 2, height / 2, 0.06 * P * s)
    painter.add(body, _clothes(painter, look, look.shirt, pose.x, top, P))
    painter.add(
        rounded_box(X, Y, pose.x, top + 0.03 * P * s, width / 2, 0.035 * P * s, 0.02 * P),
        look.shirt * 0.6,
    )
    turn = pose.phase
    for side in (-1.0, 1.0):
        _wheel(
            painter,
            pose.x + side * 0.33 * width,
            pose.y - r,
            r,
            turn,
            np.full(3, 30, np.float32),
            np.full(3, 120, np.float32),
            True,
        )


def draw_bicycle(painter: Painter, pose: Pose, look: Look) -> None:
    """Two thin-rimmed wheels joined by a diamond frame, with a saddle and handlebar; no rider."""
    X, Y = painter.X, painter.Y
    P, s = pose.P, look.size
    sx = 1.0 if pose.hx >= 0 else -1.0
    r = 0.22 * P * s
    d = 0.4 * P * s
    hub_y = pose.y - r
    rear, front, crank = (
        (pose.x - sx * d, hub_y),
        (pose.x + sx * d, hub_y),
        (pose.x - sx * 0.05 * P * s, hub_y),
    )
    seat = (pose.x - sx * 0.15 * P * s, hub_y - 0.42 * P * s)
    bar = (pose.x + sx * 0.3 * P * s, hub_y - 0.48 * P * s)
    tyre = np.full(3, 25, np.float32)
    for hub in (rear, front):
        _wheel(painter, hub[0], hub[1], r, pose.phase, tyre, np.full(3, 150, np.float32), False)
    frame = look.shirt * 1.2
    thick = 0.028 * P * s + 0.3
    for a, b in (
        (rear, crank),
        (crank, seat),
        (seat, rear),
        (seat, bar),
        (bar, front),
        (crank, bar),
    ):
        painter.add(capsule(X, Y, a[0], a[1], b[0], b[1], thick), frame)
    painter.add(
        capsule(
            X,
            Y,
            seat[0] - 0.07 * P * s,
            seat[1],
            seat[0] + 0.05 * P * s,
            seat[1],
            0.035 * P * s + 0.3,
        ),
        tyre,
    )
    painter.add(
        capsule(X, Y, bar[0], bar[1], bar[0] - sx * 0.08 * P * s, bar[1] - 0.05 * P * s, thick),
        tyre,
    )


DRAW = {"person": draw_person, "cart": draw_cart, "bicycle": draw_bicycle}


def render(
    canvas: np.ndarray, shape: str, pose: Pose, look: Look
) -> tuple[np.ndarray, tuple[int, int]] | None:
    """Draw one object on ``canvas`` (float ``(H, W, 3)``, in place).

    Returns its silhouette ``(mask (h, w) bool, (y0, x0))`` in frame coordinates (clipped to the
    frame), or ``None`` when no part of it is inside the frame.
    """
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = extent(shape, pose, look)
    x0, y0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    x1, y1 = min(int(np.ceil(x1)) + 1, W), min(int(np.ceil(y1)) + 1, H)
    if x0 >= x1 or y0 >= y1:
        return None
    Y, X = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    X += 0.5  # pixel centres
    Y += 0.5
    painter = Painter(X, Y)
    DRAW[shape](painter, pose, look)
    silhouette = painter.alpha > 0.5
    if not silhouette.any():
        return None
    region = canvas[y0:y1, x0:x1]
    region *= 1.0 - painter.alpha[..., None]
    region += painter.color
    return silhouette, (y0, x0)
