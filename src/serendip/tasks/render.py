"""Batched anti-aliased rasterisation at 64x64.

Why our own: tasks render thousands of frames per generation and every frame is
a few dozen thin segments and discs. Drawing per frame with a 2-D library means
a Python loop over agents; here each primitive is evaluated only on the small
pixel window around it, for the whole batch in one compiled call (numba: the
earlier NumPy version spent most of its time scattering windows into images),
and coverage is the signed distance filtered over one pixel, which keeps
one-pixel lines visible after the downscale (the tasks spec's anti-aliasing
requirement).

Coordinates: world points are mapped to pixels with ``y`` pointing up in the
world and down in the image; pixel ``(row, col)`` has its centre at
``(col + 0.5, row + 0.5)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numba
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


@numba.njit(cache=True, inline="always")
def _pixel_span(low, high, reach, size):  # pragma: no cover - jitted
    """First and last pixel (clamped to the image) within ``reach`` of ``[low, high]``."""
    return max(math.floor(low - reach), 0), min(math.ceil(high + reach), size - 1)


@numba.njit(cache=True)
def _segments_kernel(p0, p1, half_width, coverage):  # pragma: no cover - jitted
    n, m, _ = p0.shape
    size = coverage.shape[1]
    reach = half_width + 1.0
    for b in range(n):
        for s in range(m):
            x0, y0 = p0[b, s, 0], p0[b, s, 1]
            dx, dy = p1[b, s, 0] - x0, p1[b, s, 1] - y0
            length2 = max(dx * dx + dy * dy, 1e-12)
            col0, col1 = _pixel_span(min(x0, x0 + dx), max(x0, x0 + dx), reach, size)
            row0, row1 = _pixel_span(min(y0, y0 + dy), max(y0, y0 + dy), reach, size)
            for row in range(row0, row1 + 1):
                py = row + 0.5
                for col in range(col0, col1 + 1):
                    px = col + 0.5
                    t = ((px - x0) * dx + (py - y0) * dy) / length2
                    t = min(max(t, 0.0), 1.0)
                    dist = math.hypot(px - x0 - t * dx, py - y0 - t * dy)
                    value = min(max(half_width + 0.5 - dist, 0.0), 1.0)
                    if value > coverage[b, row, col]:
                        coverage[b, row, col] = value


def segments_coverage(
    p0: np.ndarray, p1: np.ndarray, half_width: float, size: int = FRAME_SIZE
) -> np.ndarray:
    """Coverage ``(N, size, size)`` in [0, 1] of thick segments ``p0[n, m] -> p1[n, m]`` (pixels).

    Round caps, so consecutive segments of a chain join without gaps.
    """
    n = p0.shape[0]
    coverage = np.zeros((n, size, size), dtype=np.float32)
    _segments_kernel(
        np.ascontiguousarray(p0, dtype=np.float64),
        np.ascontiguousarray(p1, dtype=np.float64),
        float(half_width),
        coverage,
    )
    return coverage


@numba.njit(cache=True)
def _discs_kernel(centers, radius, coverage):  # pragma: no cover - jitted
    n, m, _ = centers.shape
    size = coverage.shape[1]
    reach = radius + 1.0
    for b in range(n):
        for s in range(m):
            cx, cy = centers[b, s, 0], centers[b, s, 1]
            col0, col1 = _pixel_span(cx, cx, reach, size)
            row0, row1 = _pixel_span(cy, cy, reach, size)
            for row in range(row0, row1 + 1):
                for col in range(col0, col1 + 1):
                    dist = math.hypot(col + 0.5 - cx, row + 0.5 - cy)
                    value = min(max(radius + 0.5 - dist, 0.0), 1.0)
                    if value > coverage[b, row, col]:
                        coverage[b, row, col] = value


def discs_coverage(centers: np.ndarray, radius: float, size: int = FRAME_SIZE) -> np.ndarray:
    """Coverage ``(N, size, size)`` of filled discs at pixel centres ``(N, M, 2)``."""
    n = centers.shape[0]
    coverage = np.zeros((n, size, size), dtype=np.float32)
    _discs_kernel(np.ascontiguousarray(centers, dtype=np.float64), float(radius), coverage)
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


def floor_with_areas(viewport: Viewport, areas: Sequence[Any]) -> np.ndarray:
    """A task's static background to draw walls on: white, one red disc per reward area.

    ``areas`` are :class:`~serendip.tasks.base.RewardArea`s (centre, radius in
    world units); the result is a float image ``(1, size, size, 3)``.
    """
    image = np.ones((1, viewport.size, viewport.size, 3), dtype=np.float32)
    for area in areas:
        centre = viewport.to_pixels(np.array([[area.center]]))
        paint(image, discs_coverage(centre, viewport.length(area.radius), viewport.size), RED)
    return image


def paint(images: np.ndarray, coverage: np.ndarray, color: tuple[float, float, float]) -> None:
    """Blend ``color`` over float images ``(N, H, W, 3)`` by ``coverage`` ``(N|1, H, W)``."""
    alpha = coverage[..., None]
    images *= 1.0 - alpha
    if any(color):  # black needs no second pass
        images += alpha * np.asarray(color, dtype=np.float32)


@numba.njit(cache=True)
def _compose_kernel(background, coverages, colors, frames):  # pragma: no cover - jitted
    size_r, size_c = background.shape[0], background.shape[1]
    one = np.float32(1.0)
    for b in range(frames.shape[0]):
        for row in range(size_r):
            for col in range(size_c):
                covered = False
                for layer in range(coverages.shape[0]):
                    if coverages[layer, b, row, col] > 0.0:
                        covered = True
                        break
                if not covered:
                    continue  # the frame already holds the background's pixel
                for k in range(3):
                    value = background[row, col, k]
                    for layer in range(coverages.shape[0]):
                        alpha = coverages[layer, b, row, col]
                        value = value * (one - alpha) + alpha * colors[layer, k]
                    value = value * np.float32(255.0) + np.float32(0.5)
                    frames[b, row, col, k] = np.uint8(min(max(value, 0.0), 255.0))


def compose(
    background: np.ndarray,
    layers: list[tuple[np.ndarray, tuple[float, float, float]]],
) -> np.ndarray:
    """uint8 frames ``(N, H, W, 3)``: coverage layers painted in order over a static background.

    ``background`` is a float image ``(1, H, W, 3)`` (drawn once per task) and each
    layer a ``(coverage (N, H, W), color)`` pair. Equal, bit for bit, to
    :func:`paint` of every layer then :func:`to_uint8`, but only the covered
    pixels are blended: painting whole float images costs about 120 us a frame,
    several times a task's physics, while the moving parts cover a few pixels.
    """
    n = layers[0][0].shape[0]
    frames = np.repeat(to_uint8(background.copy()), n, axis=0)
    coverages = np.ascontiguousarray(np.stack([c for c, _ in layers]), dtype=np.float32)
    colors = np.array([color for _, color in layers], dtype=np.float32)
    _compose_kernel(background[0], coverages, colors, frames)
    return frames


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] to uint8 frames (rounded; consumes ``images``)."""
    images *= 255.0
    images += 0.5
    np.clip(images, 0.0, 255.0, out=images)
    return images.astype(np.uint8)


@numba.njit(cache=True)
def _area_average_kernel(images, out):  # pragma: no cover - jitted
    n, height, width, _ = images.shape
    size = out.shape[1]
    for k in range(n):
        for i in range(size):
            top = (i * height) // size
            bottom = -((-(i + 1) * height) // size)  # ceil
            for j in range(size):
                left = (j * width) // size
                right = -((-(j + 1) * width) // size)
                kh = np.float32(bottom - top)
                kw = np.float32(right - left)
                # Integer sums (exact in float32 below 2**24: any bin up to 65,000 pixels).
                red = green = blue = 0
                for y in range(top, bottom):
                    for x in range(left, right):
                        red += images[k, y, x, 0]
                        green += images[k, y, x, 1]
                        blue += images[k, y, x, 2]
                for c, total in ((0, red), (1, green), (2, blue)):
                    value = np.rint(np.float32(total) / kh / kw)
                    out[k, i, j, c] = np.uint8(min(max(value, 0.0), 255.0))


def area_average(images: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """RGB images ``(N, H, W, >=3)`` uint8 area-averaged to ``(N, size, size, 3)`` uint8.

    Each output pixel is the mean of the input pixels of its bin (rows
    ``floor(i*H/size)`` to ``ceil((i+1)*H/size)``, columns likewise), rounded
    half to even: exactly torch's ``adaptive_avg_pool2d`` followed by
    ``round()`` (sums of integers are exact in float32; the test compares the
    two), without torch, in one compiled pass over the images.
    """
    images = np.ascontiguousarray(images)
    if images.ndim != 4 or images.shape[3] < 3:
        raise ValueError(f"images must have shape (N, H, W, 3), got {images.shape}")
    out = np.empty((images.shape[0], size, size, 3), dtype=np.uint8)
    _area_average_kernel(images, out)
    return out
