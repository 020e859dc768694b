"""Optional TensorBoard scalars of a run (``tensorboard: true`` in the config).

Written with tensorboardX (extra ``serendip[tensorboard]``), which writes event
files without TensorFlow or the TensorBoard server installed; view them with
``tensorboard --logdir RUN_DIR/tensorboard``. The scalars are informative only:
the evaluation log stays the record every metric is computed from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from serendip.experiment.config import ConfigError


class Scalars:
    """Writes live figures every ``every`` evaluations, and each autoencoder training."""

    def __init__(self, directory: Path, every: int) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ConfigError(
                "tensorboard",
                "needs tensorboardX: pip install 'serendip[tensorboard]' (or set it to false)",
            ) from None
        self.writer = SummaryWriter(logdir=str(directory), flush_secs=30)
        self.every = every
        self.next = 0

    def batch(self, evaluations: int, live: Any, status: dict[str, float | int]) -> None:
        """Coverage, areas found, best reward and the algorithm's status figures."""
        if evaluations < self.next:
            return
        self.next = (evaluations // self.every + 1) * self.every
        self.writer.add_scalar("search/coverage", live.coverage, evaluations)
        self.writer.add_scalar("search/reward_areas_found", live.reward_areas_found, evaluations)
        self.writer.add_scalar("search/best_reward", live.best_reward, evaluations)
        for name, value in status.items():
            self.writer.add_scalar(f"process/{name}", value, evaluations)

    def training(self, evaluations: int, report: Any) -> None:
        """One autoencoder training: its best validation loss, epochs and seconds."""
        if report.validation_losses:
            best = min(report.validation_losses)
            self.writer.add_scalar("autoencoder/validation_loss", best, evaluations)
        self.writer.add_scalar("autoencoder/epochs", report.epochs_run, evaluations)
        self.writer.add_scalar("autoencoder/seconds", report.seconds, evaluations)
        if getattr(report, "fidelity_error", None) is not None:
            self.writer.add_scalar("autoencoder/fidelity_error", report.fidelity_error, evaluations)

    def close(self) -> None:
        self.writer.close()
