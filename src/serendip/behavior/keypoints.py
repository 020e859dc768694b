"""Keypoints: where the things that move are, rather than what the frame looks like.

In the hard maze the robot is a disc of about 7 pixels in a static 64x64 frame,
and the paper's autoencoder keeps about half of its position
(``docs/results.md``): a latent that must reconstruct the whole frame spends
itself on what is the same in every frame. This space's latent is, by
construction, a list of image positions:

* **Input**: the frame minus the task's static background (the per-pixel median
  of the training frames, as in :mod:`serendip.behavior.background`), so what
  the network sees is what differs between agents: the robot, the arm, the stone.
* **Encoder**: three convolutions that keep a 32x32 map (3→16, stride 2, then
  16→32 and 32→K at stride 1), then a *spatial softmax* per map: the softmax of
  the map over its 1,024 cells, and the expected (x, y) under it, in [-1, 1].
  This is the feature-point bottleneck of deep spatial autoencoders (Finn et al.,
  "Deep Spatial Autoencoders for Visuomotor Learning", ICRA 2016; Levine et al.,
  JMLR 2016). ``K = latent_size / 2`` keypoints, so a frame's latent has
  ``latent_size`` numbers, as in the paper's space, and an agent's descriptor
  ``latent_size * S``.
* **Decoder**: each keypoint drawn as an isotropic Gaussian map on the 32x32 grid
  (standard deviation :data:`SIGMA`), then convolutions up to the 64x64
  difference image (Jakab et al., "Unsupervised Learning of Object Landmarks
  through Conditional Image Generation", NeurIPS 2018, without its appearance
  branch: the background is removed, not reconstructed). The only way through
  the bottleneck is position, so a low reconstruction error needs keypoints on
  the moving parts.

Surprise is the paper's: the per-frame mean squared error of that reconstruction
(of the difference image). Training, early stopping, the state (weights, Adam,
background) and the artefacts are :class:`~serendip.behavior.learned.LearnedSpace`'s;
the safetensors weights hold this network's parameters.

Cost: about 7.4 M multiply-adds per frame for the encoder against about 12 M for
the paper's; about 12 M for the decoder, as the paper's
(``benchmarks/bench_encoders.py`` times them). The ``compiled`` inference path
works for it too (within 1.4e-7 of eager on maze frames).

Measured (``docs/results.md``, "Keypoints"): on STAX runs of 20,000
evaluations the last training's fidelity error was 0.15 on the maze and the
arm against 0.48 and 0.30 for the paper's space; on the maze at 200,000
evaluations (5 seeds) 0.15-0.21, with a median coverage of 0.958 against the
paper's 0.952. Select it with
``learned_space.encoder: keypoints``; ``latent_size`` must be even.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from serendip.behavior.background import BackgroundSpace
from serendip.behavior.learned import EncoderDecoder
from serendip.errors import ConfigError

GRID = 32
"""Side of the keypoint maps (the 64x64 frame at stride 2)."""

SIGMA = 0.1
"""Standard deviation of a decoded keypoint's Gaussian, in the [-1, 1] frame units.

0.1 is 1.6 cells of the 32x32 grid, about 3 pixels of the frame: the size of the
maze's robot. A much wider Gaussian blurs nearby keypoints together; a much
narrower one gives the decoder a gradient only next to the keypoint.
"""


def _coordinates() -> torch.Tensor:
    """Cell centres of the grid along one axis, in [-1, 1]."""
    return torch.linspace(-1.0, 1.0, GRID)


class SpatialSoftmax(nn.Module):
    """Each of K maps ``(N, K, G, G)`` to the expected (x, y) under its softmax: ``(N, 2K)``.

    The softmax is sharpened by a learned temperature (``exp(log_sharpness)``, 1 at
    first), as Finn et al.'s is. The output is ``x1, y1, x2, y2, ...``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.log_sharpness = nn.Parameter(torch.zeros(()))
        self.register_buffer("grid", _coordinates(), persistent=False)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        n, k, h, w = maps.shape
        weights = torch.softmax(maps.reshape(n, k, h * w) * self.log_sharpness.exp(), dim=-1)
        weights = weights.reshape(n, k, h, w)
        x = (weights.sum(dim=2) * self.grid).sum(dim=-1)
        y = (weights.sum(dim=3) * self.grid).sum(dim=-1)
        return torch.stack([x, y], dim=-1).reshape(n, 2 * k)


class GaussianMaps(nn.Module):
    """Keypoints ``(N, 2K)`` drawn as K Gaussian maps ``(N, K, G, G)``, channels_last."""

    def __init__(self, keypoints: int) -> None:
        super().__init__()
        self.keypoints = keypoints
        self.register_buffer("grid", _coordinates(), persistent=False)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        points = latents.reshape(latents.shape[0], self.keypoints, 2)
        scale = -0.5 / SIGMA**2
        gx = torch.exp(scale * (self.grid - points[..., 0:1]).square())  # (N, K, G)
        gy = torch.exp(scale * (self.grid - points[..., 1:2]).square())
        maps = gy[..., :, None] * gx[..., None, :]
        return maps.contiguous(memory_format=torch.channels_last)


class KeypointNetwork(EncoderDecoder):
    """Encoder to ``latent_size / 2`` keypoints in [-1, 1], decoder back to a 64x64 image.

    Args:
        latent_size: numbers per frame, two per keypoint (even).
    """

    def __init__(self, latent_size: int = 10) -> None:
        super().__init__()
        keypoints = latent_size // 2
        self.latent_size = latent_size
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=5, stride=2, padding=2),
            nn.SELU(),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.SELU(),
            nn.Conv2d(32, keypoints, kernel_size=3, padding=1),
            SpatialSoftmax(),
        )
        self.decoder = nn.Sequential(
            GaussianMaps(keypoints),
            nn.Conv2d(keypoints, 32, kernel_size=3, padding=1),
            nn.SELU(),
            nn.ConvTranspose2d(32, 16, kernel_size=4, stride=2, padding=1),
            nn.SELU(),
            nn.Conv2d(16, 3, kernel_size=3, padding=1),
            nn.ReLU(),
        )


class KeypointSpace(BackgroundSpace):
    """:class:`BackgroundSpace` whose network is :class:`KeypointNetwork`."""

    def __init__(self, *, n_frames: int, config: Any, seed: int) -> None:
        if config.latent_size % 2:
            raise ConfigError(
                "learned_space.latent_size",
                f"must be even with encoder keypoints (two numbers per keypoint), "
                f"got {config.latent_size}",
            )
        super().__init__(n_frames=n_frames, config=config, seed=seed)

    def _network(self) -> EncoderDecoder:
        return KeypointNetwork(self.config.latent_size)
