"""The learned behavior space of TAXONS and STAX: a convolutional autoencoder's latent.

An agent's descriptor is the concatenation of the latents of its ``S`` frames, and
its *surprise* is the sum over those frames of the per-frame mean squared
reconstruction error. The autoencoder is retrained on the frames of the search
after exploration chunks 1, 3, 6, 10, 15, ... (:func:`training_chunks`); the
caller then re-encodes everything that holds a descriptor.

Speed (measured on a 2-core CPU): the network and its inputs use the
``channels_last`` memory format and go through it in chunks of :data:`CHUNK`
frames, about twice as fast as contiguous NCHW tensors or large batches;
``learned_space.inference: compiled`` (:class:`CompiledInference`) is faster
still, at the price of last-bit differences. Frames stay uint8 and
are converted to float32 in ``[0, 1]`` one chunk at a time, so an archive is never
held as floats.

Determinism: weights are initialised from the space's seed inside a forked torch
RNG (no global torch RNG state is read or changed), every training draw comes from
the NumPy generator handed to :meth:`LearnedSpace.train`, and building a space
switches torch to deterministic algorithms. The same seed, inputs, generator state
and thread count give bit-identical descriptors, surprise and weights on the same
machine.

Checkpoints need no pickle: :meth:`LearnedSpace.state_arrays` gives the weights, the
Adam state and the counters as plain NumPy arrays, and
:meth:`LearnedSpace.save_weights` writes a safetensors file.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from torch import nn

from serendip.behavior.threads import InferenceThreads
from serendip.behavior.training import (
    INFERENCE_PATHS,
    AutoencoderConfig,
    TrainingReport,
    is_training_chunk,
    training_chunks,
)
from serendip.errors import ConfigError, TrainingError
from serendip.tasks import EvaluationBatch
from serendip.tasks.base import FRAME_SIZE

ARTIFACT_DIR = "autoencoder"
TRAININGS_LOG = "trainings.jsonl"

CHUNK = 64
"""Frames per forward pass at inference: the fastest size measured on a 2-core CPU.

(``benchmarks/bench_encoder.py``: 64 frames a call encode about 1.25x faster than
128, which spills the first layers' activations out of cache.) A frame's latent
does not depend on the other frames of its call (checked for calls of 2 to 128
frames), so the chunk size changes no result.
"""

_FRAME_SHAPE = (FRAME_SIZE, FRAME_SIZE, 3)
_BOTTLENECK = (16, 4, 4)  # channels, height, width after the fourth convolution


# --- the network ----------------------------------------------------------------------


class UnflattenChannelsLast(nn.Module):
    """``nn.Unflatten(1, shape)`` whose output is in the ``channels_last`` memory format.

    Why: ``nn.Unflatten`` gives a contiguous NCHW tensor, so the decoder's transposed
    convolutions ran in NCHW while the rest of the network runs channels_last. One
    layout throughout gives the same values bit for bit (gradients included) and,
    on an idle 2-core CPU, the same speed (``benchmarks/bench_inference.py``); it
    was faster only in noisy measurements on a busy machine. It has no parameters,
    so the network's state-dict keys are the paper module's.
    """

    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        images = flat.reshape(flat.shape[0], *self.shape)
        return images.contiguous(memory_format=torch.channels_last)


class EncoderDecoder(nn.Module):
    """A network with an ``encoder`` and a ``decoder`` module: what a learned space runs.

    Subclasses build the two modules; the space calls ``encode``, ``decode`` and
    ``forward``.
    """

    encoder: nn.Module
    decoder: nn.Module

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Latents ``(N, latent_size)`` of images ``(N, 3, 64, 64)`` in ``[0, 1]``."""
        return self.encoder(images)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Reconstructions ``(N, 3, 64, 64)`` of latents ``(N, latent_size)``."""
        return self.decoder(latents)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstructions of ``images``."""
        return self.decoder(self.encoder(images))


class Autoencoder(EncoderDecoder):
    """The TAXONS convolutional autoencoder for 64x64 RGB frames.

    Encoder: four convolutions (kernel 4, stride 2, padding 1; channels
    3→32→64→32→16, so 64→32→16→8→4 pixels), flatten (256), linear to the latent;
    SELU after every layer, the latent included. The decoder mirrors it: linear
    latent→256, SELU, unflatten to (16, 4, 4), four transposed convolutions
    16→32→64→32→3 with SELU in between and a ReLU output. PyTorch's default
    initialisation.

    Args:
        latent_size: size of the latent.
    """

    def __init__(self, latent_size: int = 10) -> None:
        super().__init__()
        self.latent_size = latent_size
        flat = int(np.prod(_BOTTLENECK))
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=4, stride=2, padding=1),
            nn.SELU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1),
            nn.SELU(),
            nn.Conv2d(64, 32, kernel_size=4, stride=2, padding=1),
            nn.SELU(),
            nn.Conv2d(32, 16, kernel_size=4, stride=2, padding=1),
            nn.SELU(),
            nn.Flatten(),
            nn.Linear(flat, latent_size),
            nn.SELU(),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_size, flat),
            nn.SELU(),
            UnflattenChannelsLast(_BOTTLENECK),
            nn.ConvTranspose2d(16, 32, kernel_size=4, stride=2, padding=1),
            nn.SELU(),
            nn.ConvTranspose2d(32, 64, kernel_size=4, stride=2, padding=1),
            nn.SELU(),
            nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1),
            nn.SELU(),
            nn.ConvTranspose2d(32, 3, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
        )


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 frames ``(N, 64, 64, 3)`` as float32 ``(N, 3, 64, 64)`` in ``[0, 1]``, channels_last.

    A float32 division in NumPy, then a permutation of the NHWC array, which gives
    channels_last strides for free. Why not torch's ``.to(float32).div_(255)``:
    it gives the same values bit for bit (IEEE division is correctly rounded
    either way; tested on all 256 levels), but each torch op is an OpenMP region,
    and on 2 threads a 12-frame conversion was 41 % of an emitter generation's
    encoding time (``py-spy`` on a 500,000-evaluation arm run, alone on the machine).
    """
    floats = np.divide(frames, np.float32(255.0), dtype=np.float32)
    images = torch.from_numpy(floats).permute(0, 3, 1, 2)
    return images.contiguous(memory_format=torch.channels_last)  # a no-op: already so


BUCKETS = (8, 12, 16, 24, 32, 48, CHUNK)
"""Batch sizes the compiled path is built for; a chunk is zero-padded up to the next one."""


def compiler_available() -> bool:
    """Whether a C++ compiler that ``torch.compile``'s CPU backend can call is on PATH."""
    names = [os.environ.get("CXX", ""), "g++", "clang++", "c++"]
    return any(name and shutil.which(name) for name in names)


class CompiledInference:
    """The network's inference, compiled by ``torch.compile`` (inductor) for fixed batch sizes.

    Why: on a 2-core CPU a third of the encoder's time is its SELU activations
    (``expm1`` over every feature map), run as separate passes over memory; the
    compiled graph fuses each into the convolution's output pass, and the
    reconstruction error into the decoder's last layer.

    What it computes is the paper's network, but not bit for bit the eager path:
    the fused activations round differently in the last bits (measured: at most
    about 5e-7 on latents of order 1). It is deterministic on one machine for a
    fixed thread count. Each chunk is zero-padded to one of :data:`BUCKETS`
    frames (12 and 24: an emitter generation of 6 or 12 agents with S = 2), so at
    most ``len(BUCKETS)`` graphs are compiled per path (torch's limit is 8) and a frame's
    result depends only on the size of the call it came in, which a run repeats
    exactly on resume. Compiled code is cached on disk by torch, so only the first
    process on a machine pays the compilation (tens of seconds).

    Args:
        model: the autoencoder; its weights are read at each call (trainings
            update them in place), so one compilation serves the whole run.
    """

    def __init__(self, model: EncoderDecoder) -> None:
        self.model = model
        self._encode = torch.compile(model.encode, dynamic=False, fullgraph=True)
        self._full = torch.compile(self._encode_with_error, dynamic=False, fullgraph=True)

    def _encode_with_error(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.model.encode(images)
        return z, (self.model.decode(z) - images).square().mean(dim=(1, 2, 3))

    def __call__(
        self, images: torch.Tensor, *, surprise: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latents (and per-frame errors if ``surprise``) of at most ``CHUNK`` images."""
        n = images.shape[0]
        size = next(b for b in BUCKETS if b >= n)
        if size != n:
            padding = images.new_zeros((size - n, *images.shape[1:]))
            images = torch.cat([images, padding]).contiguous(memory_format=torch.channels_last)
        if surprise:
            z, error = self._full(images)
            return z[:n], error[:n]
        return self._encode(images)[:n], None


def _derived_seed(seed: int, training: int) -> int:
    """A 63-bit torch seed for the weights used from training number ``training`` on."""
    state = np.random.SeedSequence([seed, training]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def _checked_frames(frames: np.ndarray, n_frames: int) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if frames.ndim != 5 or frames.shape[1] != n_frames or frames.shape[2:] != _FRAME_SHAPE:
        raise ValueError(
            f"frames must have shape (N, {n_frames}, {FRAME_SIZE}, {FRAME_SIZE}, 3), "
            f"got {frames.shape}"
        )
    return frames


# --- the behavior space ---------------------------------------------------------------


class LearnedSpace:
    """Behavior space of an agent's frames encoded by an autoencoder trained during the run.

    Decisions:
        * The weights carry over from one training to the next (unless
          ``config.reinitialise``), and so does the Adam state, as in the original
          TAXONS code where the optimizer is built once with the network. At the
          end of a training both the weights *and* the Adam state are restored to
          the best validation epoch, so the moments always belong to the kept
          weights. ``reinitialise`` resets both.
        * Building a space calls ``torch.use_deterministic_algorithms(True)``
          (process-wide): a run must be reproducible from its seed, and this makes
          torch refuse, rather than silently use, any non-deterministic kernel.

    Args:
        n_frames: frames per agent ``S`` (>= 1).
        config: autoencoder and training hyper-parameters.
        seed: seeds the initial weights (and any re-initialisation).

    Attributes:
        autoencoder: the network (channels_last).
        optimizer: its Adam optimizer.
        trainings: number of trainings done.
        reports: one :class:`TrainingReport` per training.
    """

    needs_frames = True
    measures_surprise = True

    def __init__(self, *, n_frames: int, config: AutoencoderConfig, seed: int) -> None:
        if int(n_frames) != n_frames or n_frames < 1:
            raise ValueError(f"n_frames must be an integer >= 1, got {n_frames!r}")
        self.n_frames = int(n_frames)
        self.config = config
        self.seed = int(seed)
        self.descriptor_size = config.latent_size * self.n_frames
        if config.inference == "compiled" and not compiler_available():
            raise ConfigError(
                "learned_space.inference",
                "compiled needs a C++ compiler (g++ or clang++) on PATH for torch.compile; "
                "eager needs none",
            )
        torch.use_deterministic_algorithms(True)
        self._pin_threads()
        self.trainings = 0
        self.reports: list[TrainingReport] = []
        self._saved = 0  # trainings whose weights and report are in the run directory
        self._compiled_inference: CompiledInference | None = None
        self._inference_threads: InferenceThreads | None = None
        self._initialise(training=0)

    @property
    def version(self) -> int:
        """Descriptors change with every training."""
        return self.trainings

    def _initialise(self, training: int) -> None:
        """Fresh weights (from ``(seed, training)``) and a fresh Adam optimizer."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_derived_seed(self.seed, training))
            model = self._network()
        self.autoencoder = model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(
            self.autoencoder.parameters(), lr=self.config.learning_rate
        )

    def _network(self) -> EncoderDecoder:
        """A fresh network with ``encode``, ``decode`` and ``forward``: here the paper's.

        A space built on this one (:mod:`serendip.behavior.keypoints`) overrides it;
        it is called inside the forked, seeded torch RNG of :meth:`_initialise`.
        """
        return Autoencoder(self.config.latent_size)

    def _pin_threads(self) -> None:
        """(Re)apply ``config.threads`` before torch works.

        Why at every call: another OpenMP user in the process (numba's OpenMP layer,
        if the user selects it) can change the count torch reads, and results are
        bit-identical only for a fixed count.
        """
        if self.config.threads is not None and torch.get_num_threads() != self.config.threads:
            torch.set_num_threads(self.config.threads)

    # --- encoding ----------------------------------------------------------------
    def describe(self, batch: EvaluationBatch) -> np.ndarray:
        """Descriptors ``(N, latent_size * S)`` of the batch's frames."""
        return self.encode(batch.frames)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Descriptors ``(N, latent_size * S)`` float64 of frames ``(N, S, 64, 64, 3)`` uint8.

        Encoder only, the cheap path when surprise is not needed.
        """
        frames = _checked_frames(frames, self.n_frames)
        latents, _ = self._infer(self._prepare(frames.reshape(-1, *_FRAME_SHAPE)), surprise=False)
        return latents.reshape(frames.shape[0], self.descriptor_size)

    def _prepare(self, flat: np.ndarray) -> np.ndarray:
        """Frames ``(K, 64, 64, 3)`` uint8 as the network sees them: unchanged here.

        A space built on this one (:mod:`serendip.behavior.background`) overrides it.
        """
        return flat

    def describe_with_surprise(self, batch: EvaluationBatch) -> tuple[np.ndarray, np.ndarray]:
        """Descriptors and surprise of the batch's frames (see :meth:`encode_with_surprise`)."""
        return self.encode_with_surprise(batch.frames)

    def encode_with_surprise(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Descriptors ``(N, latent_size * S)`` and surprise ``(N,)`` from one forward pass.

        Surprise is the sum over the agent's frames of each frame's mean squared
        reconstruction error.
        """
        frames = _checked_frames(frames, self.n_frames)
        latents, errors = self._forward(self._prepare(frames.reshape(-1, *_FRAME_SHAPE)))
        n = frames.shape[0]
        return latents.reshape(n, self.descriptor_size), errors.reshape(n, self.n_frames).sum(1)

    def surprise(self, frames: np.ndarray) -> np.ndarray:
        """Surprise ``(N,)`` of frames ``(N, S, 64, 64, 3)`` uint8."""
        return self.encode_with_surprise(frames)[1]

    def _forward(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latents ``(K, latent)`` and per-frame mean squared errors ``(K,)`` of ``K`` frames."""
        latents, errors = self._infer(flat, surprise=True)
        assert errors is not None
        return latents, errors

    def _infer(self, flat: np.ndarray, *, surprise: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Latents (and per-frame errors if ``surprise``) of frames ``(K, 64, 64, 3)``, by chunks.

        The inference path is ``config.inference``: ``eager`` runs the modules as
        written (the reference); ``compiled`` runs the same computation compiled
        by ``torch.compile`` (see :class:`CompiledInference`).
        """
        self._pin_threads()
        latents = np.empty((flat.shape[0], self.config.latent_size), dtype=np.float64)
        errors = np.empty(flat.shape[0], dtype=np.float64) if surprise else None
        compiled = self._compiled()
        threads = torch.get_num_threads()
        chooser = self._inference_threads
        if chooser is None or chooser.counts[0] != threads:
            # The compiled path's kernels are built for one thread count: it keeps it.
            chooser = self._inference_threads = InferenceThreads(threads, adaptive=compiled is None)
        try:
            with torch.inference_mode():
                for start in range(0, flat.shape[0], CHUNK):
                    images = frames_to_tensor(flat[start : start + CHUNK])
                    kind = (images.shape[0], surprise)
                    if chooser.unchecked(kind):
                        z, error = self._chunk_checking_threads(images, surprise, kind)
                    else:
                        wanted = chooser.choose(kind)
                        if torch.get_num_threads() != wanted:
                            torch.set_num_threads(wanted)
                        began = time.perf_counter()
                        z, error = self._chunk(images, surprise, compiled)
                        chooser.record(kind, wanted, time.perf_counter() - began)
                    latents[start : start + CHUNK] = z.numpy()
                    if errors is not None and error is not None:
                        errors[start : start + CHUNK] = error.numpy()
        finally:
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
        return latents, errors

    def _chunk(
        self, images: torch.Tensor, surprise: bool, compiled: CompiledInference | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latents (and per-frame errors if ``surprise``) of at most ``CHUNK`` images."""
        if compiled is not None:
            return compiled(images, surprise=surprise)
        z = self.autoencoder.encode(images)
        if not surprise:
            return z, None
        return z, (self.autoencoder.decode(z) - images).square().mean(dim=(1, 2, 3))

    def _chunk_checking_threads(
        self, images: torch.Tensor, surprise: bool, kind: tuple[int, bool]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A chunk on every thread count the chooser may pick, compared bit for bit.

        The first call of each kind: if this machine's kernels give different bits
        on different thread counts, that kind keeps the space's count for good.
        """
        chooser = self._inference_threads
        assert chooser is not None
        results = []
        for count in chooser.counts:
            torch.set_num_threads(count)
            results.append(self._chunk(images, surprise, None))
        z, error = results[0]
        same = all(
            torch.equal(z, other_z) and (error is None or torch.equal(error, other_error))
            for other_z, other_error in results[1:]
        )
        chooser.checked(kind, same)
        torch.set_num_threads(chooser.counts[0])
        return z, error

    def _compiled(self) -> CompiledInference | None:
        """The compiled inference path of the current network, built on first use."""
        if self.config.inference != "compiled":
            return None
        current = self._compiled_inference
        if current is None or current.model is not self.autoencoder:
            current = self._compiled_inference = CompiledInference(self.autoencoder)
        return current

    def _validation_loss(self, frames: np.ndarray) -> float:
        """Mean per-pixel MSE of the autoencoder on frames ``(K, 64, 64, 3)``."""
        return float(self._forward(frames)[1].mean())

    # --- training ----------------------------------------------------------------
    def _training_loss(self, images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """The loss one training mini-batch ``(B, 3, 64, 64)`` minimises: the paper's MSE.

        The per-pixel mean squared reconstruction error; it draws nothing from
        ``rng``. A space built on this one (:mod:`serendip.behavior.contrastive`)
        overrides it, drawing any randomness it needs from ``rng``.
        """
        return nn.functional.mse_loss(self.autoencoder(images), images)

    def train(self, frames: np.ndarray, rng: np.random.Generator) -> TrainingReport:
        """Train the autoencoder on every frame of ``frames`` ``(M, S, 64, 64, 3)`` uint8.

        At most ``config.max_training_frames`` frames, drawn at random, are used;
        they are split at random into training and validation sets. Adam runs over
        shuffled mini-batches until ``patience`` epochs pass without a new best
        validation loss (or ``max_epochs``); the best epoch's weights and Adam state
        are then restored. Every random draw comes from ``rng``.

        Returns:
            The report of this training, also appended to :attr:`reports`.
        """
        started = time.perf_counter()
        self._pin_threads()
        config = self.config
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim < 4 or frames.shape[-3:] != _FRAME_SHAPE:
            raise ValueError(
                f"frames must be uint8 with shape (M, S, {FRAME_SIZE}, {FRAME_SIZE}, 3), "
                f"got {frames.dtype} {frames.shape}"
            )
        flat = frames.reshape(-1, *_FRAME_SHAPE)
        if flat.shape[0] < 2:
            raise ValueError(f"training needs at least 2 frames, got {flat.shape[0]}")
        if config.max_training_frames is not None and flat.shape[0] > config.max_training_frames:
            chosen = rng.choice(flat.shape[0], size=config.max_training_frames, replace=False)
            data = flat[np.sort(chosen)]
        else:
            data = flat
        data = self._prepare(data)
        n = data.shape[0]
        n_validation = min(max(1, round(config.validation_fraction * n)), n - 1)
        order = rng.permutation(n)
        validation = data[np.sort(order[:n_validation])]
        training_rows = np.sort(order[n_validation:])

        self.trainings += 1
        if config.reinitialise:
            self._initialise(training=self.trainings)
        model, optimizer = self.autoencoder, self.optimizer

        best_loss = math.inf
        best_epoch = 0
        # The patience counter restarts only on an improvement of more than
        # `min_improvement` (relative); the weights kept are the best ever seen.
        reference_loss = math.inf
        improved_epoch = 0
        best_weights: dict[str, torch.Tensor] = {}
        best_optimizer: dict[str, Any] = {}
        train_losses: list[float] = []
        validation_losses: list[float] = []
        for epoch in range(config.max_epochs):
            model.train()
            shuffled = training_rows[rng.permutation(training_rows.shape[0])]
            total = 0.0
            for start in range(0, shuffled.shape[0], config.batch_size):
                images = frames_to_tensor(data[shuffled[start : start + config.batch_size]])
                loss = self._training_loss(images, rng)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * images.shape[0]
            model.eval()
            train_losses.append(total / shuffled.shape[0])
            validation_losses.append(self._validation_loss(validation))
            if not (math.isfinite(train_losses[-1]) and math.isfinite(validation_losses[-1])):
                raise TrainingError(
                    f"learned_space: training {self.trainings} diverged at epoch {epoch + 1} "
                    f"(training loss {train_losses[-1]}, validation loss "
                    f"{validation_losses[-1]}, learning_rate {config.learning_rate}); "
                    "lower learned_space.learning_rate"
                )
            loss = validation_losses[-1]
            if loss < best_loss:
                best_loss, best_epoch = loss, epoch
                best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best_optimizer = copy.deepcopy(optimizer.state_dict())
            if loss < reference_loss * (1.0 - config.min_improvement):
                reference_loss, improved_epoch = loss, epoch
            elif epoch - improved_epoch >= config.patience:
                break
        model.load_state_dict(best_weights)  # every loss was finite: the best one is set
        optimizer.load_state_dict(best_optimizer)

        report = TrainingReport(
            training=self.trainings,
            frames_used=n,
            epochs_run=len(train_losses),
            best_epoch=best_epoch,
            train_losses=train_losses,
            validation_losses=validation_losses,
            seconds=time.perf_counter() - started,
        )
        self.reports.append(report)
        return report

    # --- state -------------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The contract's state: :meth:`state_arrays`, no JSON part."""
        return self.state_arrays(), {}

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> None:
        self.load_state_arrays(arrays)

    def status(self) -> dict[str, float | int]:
        return {"trainings": self.trainings}

    def save_artifacts(self, run_dir: Path, *, evaluations: int = 0) -> None:
        """After a training: its weights (safetensors) and a line of ``trainings.jsonl``.

        ``autoencoder/training-NNN.safetensors`` holds the weights kept by training
        NNN; ``autoencoder/trainings.jsonl`` one report per training, with the
        evaluations done when it ran.
        """
        if self._saved >= self.trainings:
            return
        directory = Path(run_dir) / ARTIFACT_DIR
        directory.mkdir(exist_ok=True)
        self.save_weights(directory / f"training-{self.trainings:03d}.safetensors")
        with open(directory / TRAININGS_LOG, "a") as handle:
            for report in self.reports[self._saved :]:
                line = {"evaluations": int(evaluations), **dataclasses.asdict(report)}
                handle.write(json.dumps(line, allow_nan=False) + "\n")
        self._saved = self.trainings

    def restore_artifacts(self, run_dir: Path) -> None:
        """Drop the reports and weights written after the state that was loaded."""
        directory = Path(run_dir) / ARTIFACT_DIR
        log = directory / TRAININGS_LOG
        if log.exists():
            lines = log.read_text().splitlines(keepends=True)
            if len(lines) > self.trainings:
                partial = log.with_name(log.name + ".partial")
                partial.write_text("".join(lines[: self.trainings]))
                os.replace(partial, log)  # never a half-written log
        for path in directory.glob("training-*.safetensors"):
            number = path.stem.removeprefix("training-")
            if number.isdigit() and int(number) > self.trainings:
                path.unlink()
        self._saved = self.trainings

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Weights, Adam state, counters and reports as plain NumPy arrays (no pickle).

        Keys: ``autoencoder.<parameter>``, ``optimizer.<index>.<step|exp_avg|exp_avg_sq>``
        (absent before the first training), ``trainings`` and ``reports.<field>``
        (per-epoch losses concatenated over trainings).
        """
        arrays: dict[str, np.ndarray] = {
            f"autoencoder.{name}": _array(tensor)
            for name, tensor in self.autoencoder.state_dict().items()
        }
        for index, state in self.optimizer.state_dict()["state"].items():
            for name, value in state.items():
                arrays[f"optimizer.{index}.{name}"] = _array(torch.as_tensor(value))
        arrays["trainings"] = np.asarray(self.trainings, dtype=np.int64)
        reports = self.reports
        arrays["reports.training"] = np.array([r.training for r in reports], dtype=np.int64)
        arrays["reports.frames_used"] = np.array([r.frames_used for r in reports], dtype=np.int64)
        arrays["reports.epochs_run"] = np.array([r.epochs_run for r in reports], dtype=np.int64)
        arrays["reports.best_epoch"] = np.array([r.best_epoch for r in reports], dtype=np.int64)
        arrays["reports.seconds"] = np.array([r.seconds for r in reports], dtype=np.float64)
        arrays["reports.fidelity_error"] = np.array(
            [np.nan if r.fidelity_error is None else r.fidelity_error for r in reports],
            dtype=np.float64,
        )
        arrays["reports.train_losses"] = np.array(
            [x for r in reports for x in r.train_losses], dtype=np.float64
        )
        arrays["reports.validation_losses"] = np.array(
            [x for r in reports for x in r.validation_losses], dtype=np.float64
        )
        return arrays

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_arrays` gave; the space then continues bit-identically."""
        weights = {
            name.removeprefix("autoencoder."): torch.from_numpy(np.array(value))
            for name, value in arrays.items()
            if name.startswith("autoencoder.")
        }
        self.autoencoder.load_state_dict(weights)
        parameters = list(self.autoencoder.parameters())
        state: dict[int, dict[str, torch.Tensor]] = {}
        for name, value in arrays.items():
            if not name.startswith("optimizer."):
                continue
            _, index, field_name = name.split(".")
            tensor = torch.from_numpy(np.array(value))
            parameter = parameters[int(index)]
            if tensor.shape == parameter.shape:  # match the parameter's memory format
                tensor = torch.empty_like(parameter).copy_(tensor)
            state.setdefault(int(index), {})[field_name] = tensor
        self.optimizer = torch.optim.Adam(parameters, lr=self.config.learning_rate)
        if state:
            saved = self.optimizer.state_dict()
            self.optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
        self.trainings = int(arrays["trainings"])
        self._saved = self.trainings
        self.reports = []
        if "reports.epochs_run" not in arrays:  # reports are informative, not needed to resume
            return
        epochs = np.asarray(arrays["reports.epochs_run"], dtype=np.int64)
        bounds = np.concatenate([[0], np.cumsum(epochs)])
        train_losses = np.asarray(arrays["reports.train_losses"], dtype=np.float64)
        validation_losses = np.asarray(arrays["reports.validation_losses"], dtype=np.float64)
        for i in range(epochs.shape[0]):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            self.reports.append(
                TrainingReport(
                    training=int(arrays["reports.training"][i]),
                    frames_used=int(arrays["reports.frames_used"][i]),
                    epochs_run=int(epochs[i]),
                    best_epoch=int(arrays["reports.best_epoch"][i]),
                    train_losses=train_losses[lo:hi].tolist(),
                    validation_losses=validation_losses[lo:hi].tolist(),
                    seconds=float(arrays["reports.seconds"][i]),
                    fidelity_error=_optional(arrays.get("reports.fidelity_error"), i),
                )
            )

    def save_weights(self, path: str | Path) -> None:
        """Write the autoencoder's weights as a safetensors file (readable without code)."""
        tensors = {k: v.detach().contiguous() for k, v in self.autoencoder.state_dict().items()}
        metadata = {
            "format": "serendip-autoencoder",
            "latent_size": str(self.config.latent_size),
            "trainings": str(self.trainings),
        }
        safetensors.torch.save_file(tensors, str(path), metadata=metadata)


def _array(tensor: torch.Tensor) -> np.ndarray:
    """A C-ordered NumPy copy of ``tensor``, of the same shape (0-d stays 0-d)."""
    return np.array(tensor.detach().numpy(), order="C", copy=True)


def _optional(values: np.ndarray | None, row: int) -> float | None:
    """``values[row]`` as a float, None where absent or NaN."""
    if values is None or row >= len(values) or np.isnan(values[row]):
        return None
    return float(values[row])


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The autoencoder state dict saved by :meth:`LearnedSpace.save_weights`, without pickle.

    Load it with ``space.autoencoder.load_state_dict(load_weights(path))``.
    """
    return safetensors.torch.load_file(str(path))


__all__ = [
    "INFERENCE_PATHS",
    "Autoencoder",
    "AutoencoderConfig",
    "CompiledInference",
    "EncoderDecoder",
    "LearnedSpace",
    "TrainingReport",
    "compiler_available",
    "frames_to_tensor",
    "is_training_chunk",
    "load_weights",
    "training_chunks",
]
