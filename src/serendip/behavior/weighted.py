"""The paper's autoencoder with a reconstruction loss weighted towards the pixels that vary.

In the hard maze the robot is a disc of about 7 pixels (some 40 of the frame's
4,096) in a static frame of walls and floor. Under the paper's per-pixel mean
squared error a network that draws the background and no robot loses about
1 % of its loss, so its latent can ignore the robot. Removing the background
from the input (:mod:`serendip.behavior.background`) does not change that: the
difference images are then about 99 % zeros, the mean squared error is tiny
whatever the network does with the robot, and on the maze its later trainings
barely move the weights (``docs/results.md``).

This space keeps the paper's network and input (the frame as rendered) and
changes the loss. At each training the task's static background is learned as
in :mod:`serendip.behavior.background` (the per-pixel median of the training
frames); a pixel of a frame is *foreground* when any of its channels differs
from the background's by more than :data:`FOREGROUND_LEVELS` of 255. Each
frame's loss is then the class-balanced mean squared error

    0.5 * mean error over its foreground pixels + 0.5 * mean error over the rest

(the plain mean where a frame has no foreground pixel), so the robot, however
small, carries half the loss of every frame it is in. Class balancing of this
kind is the usual answer to a small foreground in segmentation losses; here it
needs no weight to tune: the halves are fixed and the foreground comes from the
frames.

Surprise and validation use the same balanced error (what the network was
trained to make small), so the epoch kept and the agents STAX calls surprising
are judged on the moving object too. Before the first training there is no
background, every pixel is background, and the loss, surprise and descriptors
are the paper's. The state is the paper's plus the background.

Select it with ``learned_space.encoder: weighted``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from serendip.behavior.background import BackgroundSpace
from serendip.behavior.learned import CompiledInference, frames_to_tensor
from serendip.tasks.base import FRAME_SIZE

FOREGROUND_LEVELS = 12
"""A channel that differs from the background by more than this (of 255) makes a foreground pixel.

Above the one or two levels of rounding in antialiased edges and of the median
itself; far below the contrast of any object a task draws (the maze's robot
against its floor differs by over 100 levels).
"""


def balanced_errors(
    reconstructions: torch.Tensor, images: torch.Tensor, background: torch.Tensor | None
) -> torch.Tensor:
    """Per-image class-balanced squared error ``(N,)`` of ``(N, 3, 64, 64)`` tensors.

    Half the mean over the image's foreground pixels (those where a channel of
    ``images`` differs from ``background`` by more than :data:`FOREGROUND_LEVELS`
    of 255) plus half the mean over its other pixels; the plain mean over all
    pixels when either set is empty, or when ``background`` is None.
    """
    squared = (reconstructions - images).square().mean(dim=1)  # (N, 64, 64), over channels
    if background is None:
        return squared.mean(dim=(1, 2))
    foreground = ((images - background).abs().amax(dim=1) > FOREGROUND_LEVELS / 255.0).to(
        squared.dtype
    )
    n_foreground = foreground.sum(dim=(1, 2))
    n_rest = FRAME_SIZE * FRAME_SIZE - n_foreground
    on_foreground = (squared * foreground).sum(dim=(1, 2))
    on_rest = squared.sum(dim=(1, 2)) - on_foreground
    both = (n_foreground > 0) & (n_rest > 0)
    balanced = 0.5 * on_foreground / n_foreground.clamp(min=1) + 0.5 * on_rest / n_rest.clamp(min=1)
    return torch.where(both, balanced, squared.mean(dim=(1, 2)))


class WeightedSpace(BackgroundSpace):
    """:class:`~serendip.behavior.learned.LearnedSpace` trained on the class-balanced error.

    A :class:`BackgroundSpace` for the background it learns and keeps, but its
    network sees the frame as rendered.
    """

    def __init__(self, *, n_frames: int, config: Any, seed: int) -> None:
        super().__init__(n_frames=n_frames, config=config, seed=seed)
        self._background_tensor: tuple[np.ndarray, torch.Tensor] | None = None

    def _prepare(self, flat: np.ndarray) -> np.ndarray:
        """The frame as rendered: the background weighs the loss, it is not removed."""
        return flat

    def _background(self) -> torch.Tensor | None:
        """The background as a ``(1, 3, 64, 64)`` tensor in ``[0, 1]``, like the images.

        Rebuilt when :attr:`background` is replaced (a training, a state loaded),
        always outside inference mode: the training loss uses it too.
        """
        if self.background is None:
            return None
        cached = self._background_tensor
        if cached is None or cached[0] is not self.background:
            with torch.inference_mode(False):
                tensor = frames_to_tensor(self.background.astype(np.uint8)[None])
            cached = self._background_tensor = (self.background, tensor)
        return cached[1]

    def _training_loss(self, images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """The mean over the mini-batch of each frame's class-balanced error; draws nothing."""
        return balanced_errors(self.autoencoder(images), images, self._background()).mean()

    def _chunk(
        self, images: torch.Tensor, surprise: bool, compiled: CompiledInference | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latents, and the class-balanced error per frame if ``surprise``.

        The compiled path encodes; the balanced error is computed eagerly (the
        compiled graph fuses the paper's plain error, not this one).
        """
        if compiled is not None:
            z, _ = compiled(images, surprise=False)
        else:
            z = self.autoencoder.encode(images)
        if not surprise:
            return z, None
        return z, balanced_errors(self.autoencoder.decode(z), images, self._background())
