"""The paper's autoencoder over what differs between agents: frames minus the background.

In the hard maze the robot is a disc of about 7 pixels in a static 64x64 frame
of walls and floor, which a reconstruction loss can nearly ignore: the paper's
autoencoder keeps little of the robot's position (``docs/results.md``). This
space removes the task's static background before the network sees a frame:
at each training the background is the per-pixel median of the training frames
(a moving object is at any one pixel in few of them), and every frame, in
training and in encoding, becomes its absolute difference from it. What stays
is what differs between agents: the robot, the arm, the ball.

Everything else is the paper's space (:class:`~serendip.behavior.learned.LearnedSpace`):
the network, the training, surprise (here the reconstruction error of the
difference image), the state (plus the background) and the artefacts. Before
the first training there is no background, and frames go in unchanged.
Select it with ``learned_space.encoder: background``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from serendip.behavior.learned import LearnedSpace
from serendip.tasks.base import FRAME_SIZE

FRAME_SHAPE = (FRAME_SIZE, FRAME_SIZE, 3)
BACKGROUND_FRAMES = 1000
"""At most this many training frames (evenly strided) make the median."""


class BackgroundSpace(LearnedSpace):
    """:class:`LearnedSpace` over ``|frame - background|``, the background learned at training."""

    def __init__(self, *, n_frames: int, config: Any, seed: int) -> None:
        super().__init__(n_frames=n_frames, config=config, seed=seed)
        self.background: np.ndarray | None = None

    def _prepare(self, flat: np.ndarray) -> np.ndarray:
        """``|frame - background|`` in uint8: the larger of the two minus the smaller.

        Why not ``abs`` over int16: the same bytes, but converting every frame to
        int16 and back took 30 us a frame, about 20x this (measured on 128 frames).
        """
        if self.background is None:
            return flat
        background = self.background.astype(np.uint8)  # a median of uint8 values
        larger = np.maximum(flat, background)
        return np.subtract(larger, np.minimum(flat, background), out=larger)

    def train(self, frames: np.ndarray, rng: np.random.Generator):
        """Learn the background (per-pixel median), then train on the difference images."""
        flat = np.asarray(frames).reshape(-1, *FRAME_SHAPE)
        step = max(1, flat.shape[0] // BACKGROUND_FRAMES)
        median = np.median(flat[::step], axis=0)
        self.background = np.round(median).astype(np.int16)
        return super().train(frames, rng)

    def state_arrays(self) -> dict[str, np.ndarray]:
        arrays = super().state_arrays()
        arrays["background"] = (
            np.empty((0, *FRAME_SHAPE), np.int16)
            if self.background is None
            else self.background[None].copy()
        )
        return arrays

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super().load_state_arrays(arrays)
        background = np.asarray(arrays["background"])
        self.background = background[0].astype(np.int16) if len(background) else None
