"""Soft shapes for the synthetic sprites: coverage in [0, 1] from an approximate signed distance
(pixels) on a sprite's local pixel grid, and the painter that composites them."""

from __future__ import annotations

import numpy as np


def _cover(distance: np.ndarray) -> np.ndarray:
    return np.clip(0.5 - distance, 0.0, 1.0)


def ellipse(X, Y, cx, cy, rx, ry):
    rx, ry = max(rx, 0.5), max(ry, 0.5)
    return _cover((np.sqrt(((X - cx) / rx) ** 2 + ((Y - cy) / ry) ** 2) - 1.0) * min(rx, ry))


def ring(X, Y, cx, cy, r, thickness):
    return _cover(np.abs(np.sqrt((X - cx) ** 2 + (Y - cy) ** 2) - r) - max(thickness, 0.8) / 2)


def capsule(X, Y, ax, ay, bx, by, r):
    dx, dy = bx - ax, by - ay
    t = np.clip(((X - ax) * dx + (Y - ay) * dy) / max(dx * dx + dy * dy, 1e-6), 0.0, 1.0)
    return _cover(np.sqrt((X - ax - t * dx) ** 2 + (Y - ay - t * dy) ** 2) - max(r, 0.5))


def rounded_box(X, Y, cx, cy, hw, hh, radius):
    radius = min(radius, hw, hh)
    qx = np.abs(X - cx) - (hw - radius)
    qy = np.abs(Y - cy) - (hh - radius)
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
    inside = np.minimum(np.maximum(qx, qy), 0)
    return _cover(outside + inside - radius)


class Painter:
    """Composites soft parts of one sprite into premultiplied colour + alpha on a local grid."""

    def __init__(self, X: np.ndarray, Y: np.ndarray):
        self.X, self.Y = X, Y
        self.color = np.zeros((*X.shape, 3), np.float32)
        self.alpha = np.zeros(X.shape, np.float32)

    def add(self, coverage: np.ndarray, color: np.ndarray) -> None:
        a = coverage.astype(np.float32)[..., None]
        self.color *= 1.0 - a
        self.color += a * color
        self.alpha *= 1.0 - a[..., 0]
        self.alpha += a[..., 0]
