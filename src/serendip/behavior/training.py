"""The learned space's configuration, training schedule and training report.

Kept apart from :mod:`serendip.behavior.learned` so that reading a config or
listing algorithms does not import PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# --- schedule ---------------------------------------------------------------------


def training_chunks(limit: int) -> list[int]:
    """Exploration chunks (1-based, ``<= limit``) after which the autoencoder trains.

    The interval grows by one after each training: 1, 3, 6, 10, 15, 21, ... (the
    triangular numbers).
    """
    chunks: list[int] = []
    k = 1
    while k * (k + 1) // 2 <= limit:
        chunks.append(k * (k + 1) // 2)
        k += 1
    return chunks


def is_training_chunk(chunk: int) -> bool:
    """Whether the autoencoder trains after exploration chunk ``chunk`` (1-based).

    ``chunk`` is triangular exactly when ``8 * chunk + 1`` is a perfect square.
    """
    if chunk < 1:
        return False
    root = math.isqrt(8 * chunk + 1)
    return root * root == 8 * chunk + 1


# --- configuration and report -------------------------------------------------------

INFERENCE_PATHS = ("eager", "compiled")
"""``learned_space.inference``: how frames go through the network outside training."""


@dataclass(frozen=True)
class AutoencoderConfig:
    """Hyper-parameters of the autoencoder and of its trainings.

    Attributes:
        latent_size: size of one frame's latent (the paper: 10).
        learning_rate: Adam learning rate.
        batch_size: frames per training mini-batch.
        max_epochs: upper bound on the epochs of one training.
        patience: stop after this many consecutive epochs without a new best
            validation loss.
        min_improvement: relative margin a validation loss must beat the best by
            to reset the patience counter (0: any new best does, as in the paper).
            On arm frames the loss keeps creeping down by fractions of a percent,
            so with 0 a training never stops early (100 epochs, measured); the
            best weights are restored whatever this margin.
        validation_fraction: share of the training frames held out for validation.
        max_training_frames: a training uses a random subset of at most this many
            frames (the cost knob); ``None`` uses them all.
        reinitialise: re-initialise the weights (and Adam) before each training
            instead of carrying them over.
        threads: torch intra-op threads to set when a space is built; ``None``
            leaves torch's default. Results are bit-identical only for a fixed
            thread count.
        encoder: the learned behavior space, by registered name. The default,
            ``weighted``, is the papers' convolutional autoencoder trained on a
            foreground-balanced error: of the five spaces it had the highest
            median coverage on the arm, curling and the maze (5 seeds each; not
            significantly above ``paper``'s on the arm and the maze, above its
            quartiles on curling) and the worst fidelity error on the maze
            (``docs/results.md``); ``paper`` is the papers' own, for
            reproductions.
        inference: how frames go through the network outside training:
            ``eager`` (the reference, bit for bit the published tables) or
            ``compiled`` (``torch.compile``: faster, the same network rounded
            differently in the last bits; needs a C++ compiler).
    """

    latent_size: int = 10
    learning_rate: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 10
    patience: int = 4
    min_improvement: float = 0.01
    validation_fraction: float = 0.2
    max_training_frames: int | None = 1000
    reinitialise: bool = False
    threads: int | None = None
    encoder: str = "weighted"
    inference: str = "eager"

    def __post_init__(self) -> None:
        positive = {
            "latent_size": self.latent_size,
            "batch_size": self.batch_size,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
        }
        for name, value in positive.items():
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0 <= self.min_improvement < 1:
            raise ValueError(f"min_improvement must be in [0, 1), got {self.min_improvement!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
            )
        if self.max_training_frames is not None and (
            int(self.max_training_frames) != self.max_training_frames
            or self.max_training_frames < 2
        ):
            raise ValueError(
                "max_training_frames must be None or an integer >= 2, "
                f"got {self.max_training_frames!r}"
            )
        if self.threads is not None and (int(self.threads) != self.threads or self.threads < 1):
            raise ValueError(f"threads must be None or an integer >= 1, got {self.threads!r}")
        if self.inference not in INFERENCE_PATHS:
            raise ValueError(
                f"inference must be one of {', '.join(INFERENCE_PATHS)}, got {self.inference!r}"
            )


@dataclass
class TrainingReport:
    """What one training of the autoencoder did.

    Attributes:
        training: 1-based number of this training.
        frames_used: frames it trained and validated on (after subsampling).
        epochs_run: epochs run before early stopping or ``max_epochs``.
        best_epoch: 0-based index (into the loss lists) of the epoch whose weights
            were kept.
        train_losses: the training objective's mean over the training frames, per
            epoch (the paper's space: per-pixel MSE; ``contrastive``: NT-Xent plus
            that MSE).
        validation_losses: mean per-pixel MSE over the validation frames, per epoch.
        seconds: wall-clock duration.
        fidelity_error: how much of the task's ground truth the trained space keeps
            (:mod:`serendip.behavior.fidelity`: 0 all, about 1 nothing), measured by
            the search loop on its stored agents; None when not measured.
    """

    training: int
    frames_used: int
    epochs_run: int
    best_epoch: int
    train_losses: list[float] = field(default_factory=list)
    validation_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    fidelity_error: float | None = None

    @property
    def best_validation_loss(self) -> float:
        """Validation loss of the kept weights."""
        return self.validation_losses[self.best_epoch]
