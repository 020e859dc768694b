"""Batched anti-aliased rasterisation at 64x64, in NumPy.

Why our own: tasks render thousands of frames per generation and every frame is
a few dozen thin segments and discs. Drawing per frame with a 2-D library means
a Python loop over agents; here each primitive is evaluated only on a small
pixel window around it, for the whole batch at once, and coverage is the
signed distance filtered over one pixel, which keeps one-pixel lines visible
after the downscale (the tasks spec's anti-aliasing requirement).

Coordinates: world points are mapped to pixels with ``y`` pointing up in the
world and down in the image; pixel ``(row, col)`` has its centre at
``(col + 0.5, row + 0.5)``.
"""

from __future__ import annotations

import numpy as np

from serendip.tasks.base import FRAME_SIZE

WHITE = (1.0, 1.0, 1.0)
BLACK = (0.0, 0.0, 0.0)
GREY = (0.5, 0.5, 0.5)
RED = (0.9, 0.1, 0.1)
BLUE = (0.1, 0.3, 0.9)
GREEN = (0.1, 0.7, 0.2)
ORANGE = (1.0, 0.6, 0.0)


class Viewport:
    """Maps a world box ``[low, high]`` (2-D) onto the 64x64 image."""

    def __init__(self, low: tuple[float, float], high: tuple[float, float], size: int = FRAME_SIZE):
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.size = size
        self.scale = size / (self.high - self.low)

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """World points ``(..., 2)`` to pixel coordinates ``(..., 2)`` as (col, row)."""
        points = np.asarray(points, dtype=np.float64)
        col = (points[..., 0] - self.low[0]) * self.scale[0]
        row = (self.high[1] - points[..., 1]) * self.scale[1]
        return np.stack([col, row], axis=-1)

    def length(self, world_length: float) -> float:
        """A world length in pixels (the mean of both axes' scales)."""
        return float(world_length * self.scale.mean())


def _splat(coverage: np.ndarray, values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    """``coverage[b, row, col] = max(coverage, value)`` for every in-image window pixel."""
    n, size, _ = coverage.shape
    batch = np.arange(n).reshape((n,) + (1,) * (values.ndim - 1))
    valid = (values > 0) & (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
    flat = (np.broadcast_to(batch, values.shape) * size + rows) * size + cols
    np.maximum.at(coverage.reshape(-1), flat[valid], values[valid])


def segments_coverage(
    p0: np.ndarray, p1: np.ndarray, half_width: float, size: int = FRAME_SIZE
) -> np.ndarray:
    """Coverage ``(N, size, size)`` in [0, 1] of thick segments ``p0[n, m] -> p1[n, m]`` (pixels).

    Round caps, so consecutive segments of a chain join without gaps.
    """
    n, m, _ = p0.shape
    coverage = np.zeros((n, size, size), dtype=np.float32)
    if n == 0 or m == 0:
        return coverage
    reach = half_width + 1.0
    lo = np.floor(np.minimum(p0, p1) - reach).astype(np.int64)
    extent = np.max(np.abs(p1 - p0)) + 2 * reach
    window = int(np.ceil(extent)) + 1
    u = np.arange(window)
    cols = lo[..., 0, None] + u  # (n, m, W)
    rows = lo[..., 1, None] + u
    px = (cols + 0.5)[..., None, :]  # (n, m, 1, W)
    py = (rows + 0.5)[..., :, None]  # (n, m, W, 1)
    x0, y0 = p0[..., 0, None, None], p0[..., 1, None, None]
    dx = (p1[..., 0] - p0[..., 0])[..., None, None]
    dy = (p1[..., 1] - p0[..., 1])[..., None, None]
    length2 = np.maximum(dx * dx + dy * dy, 1e-12)
    t = np.clip(((px - x0) * dx + (py - y0) * dy) / length2, 0.0, 1.0)
    dist = np.hypot(px - x0 - t * dx, py - y0 - t * dy)
    values = np.clip(half_width + 0.5 - dist, 0.0, 1.0).astype(np.float32)
    _splat(
        coverage,
        values,
        np.broadcast_to(rows[..., :, None], values.shape),
        np.broadcast_to(cols[..., None, :], values.shape),
    )
    return coverage


def discs_coverage(centers: np.ndarray, radius: float, size: int = FRAME_SIZE) -> np.ndarray:
    """Coverage ``(N, size, size)`` of filled discs at pixel centres ``(N, M, 2)``."""
    n, m, _ = centers.shape
    coverage = np.zeros((n, size, size), dtype=np.float32)
    if n == 0 or m == 0:
        return coverage
    reach = radius + 1.0
    lo = np.floor(centers - reach).astype(np.int64)
    window = int(np.ceil(2 * reach)) + 1
    u = np.arange(window)
    cols = lo[..., 0, None] + u
    rows = lo[..., 1, None] + u
    px = (cols + 0.5)[..., None, :]
    py = (rows + 0.5)[..., :, None]
    dist = np.hypot(px - centers[..., 0, None, None], py - centers[..., 1, None, None])
    values = np.clip(radius + 0.5 - dist, 0.0, 1.0).astype(np.float32)
    _splat(
        coverage,
        values,
        np.broadcast_to(rows[..., :, None], values.shape),
        np.broadcast_to(cols[..., None, :], values.shape),
    )
    return coverage


def boxes_coverage(boxes: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """Coverage ``(size, size)`` of axis-aligned boxes ``(M, 4)`` = (col0, row0, col1, row1).

    Evaluated on the whole image: meant for static scenery drawn once.
    """
    centres = np.arange(size) + 0.5
    coverage = np.zeros((size, size), dtype=np.float32)
    for c0, r0, c1, r1 in np.asarray(boxes, dtype=np.float64):
        # Fraction of each pixel's extent inside the box along each axis.
        fx = np.clip(
            np.minimum(centres + 0.5, max(c0, c1)) - np.maximum(centres - 0.5, min(c0, c1)), 0, 1
        )
        fy = np.clip(
            np.minimum(centres + 0.5, max(r0, r1)) - np.maximum(centres - 0.5, min(r0, r1)), 0, 1
        )
        coverage = np.maximum(coverage, (fy[:, None] * fx[None, :]).astype(np.float32))
    return coverage


def paint(images: np.ndarray, coverage: np.ndarray, color: tuple[float, float, float]) -> None:
    """Blend ``color`` over float images ``(N, H, W, 3)`` by ``coverage`` ``(N|1, H, W)``."""
    alpha = coverage[..., None]
    images *= 1.0 - alpha
    if any(color):  # black needs no second pass
        images += alpha * np.asarray(color, dtype=np.float32)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] to uint8 frames (rounded; consumes ``images``)."""
    images *= 255.0
    images += 0.5
    np.clip(images, 0.0, 255.0, out=images)
    return images.astype(np.uint8)
