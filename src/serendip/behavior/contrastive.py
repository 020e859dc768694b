"""The paper's autoencoder trained with a contrastive objective as well (CURL/SimCLR style).

In the hard maze the robot is a disc of about 7 pixels in a static 64x64 frame
of walls and floor. A reconstruction loss is nearly met by drawing the
background, which is the same in every frame, so the paper's latent keeps
little of the robot's position (``docs/results.md``). A contrastive loss cannot
be met that way: it asks the latent to tell each frame of a mini-batch apart
from the others, and the static background, shared by every frame of the
batch, tells none apart; what does is what differs between frames, the robot
(the arm, the ball). This is the instance discrimination of CURL (Laskin,
Srinivas and Abbeel, "CURL: Contrastive Unsupervised Representations for
Reinforcement Learning", ICML 2020) and SimCLR (Chen et al., ICML 2020).

The objective of each training mini-batch of ``B`` frames:

* Two views of every frame by a random translation, as DrQ and CURL do: the
  frame is padded by :data:`PAD` pixels (edge pixels replicated) and a random
  64x64 window is cut out of it, independently per frame and view.
* NT-Xent (InfoNCE) over the ``2B`` latents of those views, in SimCLR's
  symmetric form: each view's positive is the other view of its frame, its
  negatives the ``2B - 2`` views of the other frames; the similarity is the
  cosine of the latents over :data:`TEMPERATURE`. The latent itself is compared
  (no projection head), so the descriptor is the representation the loss
  shapes, and the network is exactly the paper's (same size, same cost to
  encode, same descriptor size).
* Plus :data:`RECONSTRUCTION_WEIGHT` times the paper's loss, the per-pixel MSE
  of the paper's decoder on the *unaugmented* frame, so that surprise (the
  per-frame reconstruction error STAX selects on) is defined exactly as in the
  paper's space and the decoder is trained on the paper's loss.

Decisions:
    * Early stopping and the choice of the kept epoch stay on the validation
      reconstruction MSE (the paper's rule, :meth:`LearnedSpace._validation_loss`):
      the weights kept are those whose surprise is best calibrated, a training
      stops as the paper's does (so its cost stays comparable), and validating
      needs no augmentation draws. The contrastive term shapes the encoder at
      every epoch whichever epoch is kept. The report's ``train_losses`` are the
      combined training objective; its ``validation_losses`` the MSE.
    * Every random draw (the crop offsets) comes from the generator handed to
      :meth:`~serendip.behavior.learned.LearnedSpace.train`, after the base
      class's draws for the epoch's shuffle, so trainings are deterministic and
      a resumed run continues bit-identically. The space holds nothing beyond
      the paper's state (weights, Adam, counters, reports).
    * A training step encodes three batches (two views and the frame) and
      decodes one: about twice the paper's cost per step. Encoding and
      surprise cost exactly what they cost in the paper's space.

Measured (``tests/test_contrastive_space.py``, 1 thread): on a static noise
texture with a white disc of radius 3, after 6 epochs on 128 frames, the
fidelity error of the disc's position (0 kept, about 1 lost) averaged 0.22
over seeds 0-2 against 0.41 for the paper's space; seed by seed it is steadier
than the paper's (0.20-0.38 against 0.26-0.47 over seeds 0-4) but not better on
every seed. In such short trainings NT-Xent stays near its chance level
``log(2B - 1)``: the latent separates frames only coarsely.

Select it with ``learned_space.encoder: contrastive``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from serendip.behavior.learned import LearnedSpace
from serendip.tasks.base import FRAME_SIZE

PAD = 4
"""Pixels of replicate padding before the random 64x64 crop (DrQ, CURL: 4 at 84 pixels)."""

TEMPERATURE = 0.1
"""Divides the cosine similarities in NT-Xent.

SimCLR's best value for l2-normalised embeddings with batches of a few hundred
(Chen et al. 2020, table 5): a low temperature weighs the hardest negatives
most, here the frames whose robot is close to this one's, which are the ones
the latent must learn to separate; a high one (1.0) weighs all negatives
nearly alike, and the loss is then met by pushing apart frames that are
already far apart.
"""

RECONSTRUCTION_WEIGHT = 1.0
"""Weight of the paper's reconstruction MSE next to NT-Xent (weight 1).

The decoder's parameters see only the reconstruction term and Adam rescales
each parameter's gradient, so the decoder's steps hardly depend on this weight
(only through Adam's epsilon); it sets how much the shared encoder also serves
reconstruction, and 1.0 leaves NT-Xent (about ``log(2B - 1)`` at first, against
an MSE of a few hundredths) to lead the latent.
"""


def random_translations(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Each image ``(B, 3, 64, 64)`` shifted at random by up to :data:`PAD` pixels each way.

    Replicate-pad by :data:`PAD`, then cut a 64x64 window at an offset drawn
    from ``rng`` per image (rows first, then columns). The result is channels_last.
    """
    padded = nn.functional.pad(images, (PAD, PAD, PAD, PAD), mode="replicate")
    offsets = rng.integers(0, 2 * PAD + 1, size=(images.shape[0], 2))
    views = torch.stack(
        [padded[i, :, y : y + FRAME_SIZE, x : x + FRAME_SIZE] for i, (y, x) in enumerate(offsets)]
    )
    return views.contiguous(memory_format=torch.channels_last)


def nt_xent(first: torch.Tensor, second: torch.Tensor, temperature: float = TEMPERATURE):
    """SimCLR's NT-Xent of paired latents ``(B, d)``: row ``i`` of each is the same frame.

    The mean over the ``2B`` views of the cross-entropy of picking its pair among
    the other ``2B - 1`` by cosine similarity over ``temperature``.
    """
    n = first.shape[0]
    latents = nn.functional.normalize(torch.cat([first, second]), dim=1)
    logits = latents @ latents.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return nn.functional.cross_entropy(logits, targets)


class ContrastiveSpace(LearnedSpace):
    """:class:`LearnedSpace` trained on NT-Xent over translated views plus the paper's MSE."""

    def _training_loss(self, images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        model = self.autoencoder
        first = model.encode(random_translations(images, rng))
        second = model.encode(random_translations(images, rng))
        reconstruction = nn.functional.mse_loss(model(images), images)
        return nt_xent(first, second) + RECONSTRUCTION_WEIGHT * reconstruction
