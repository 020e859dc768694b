"""Running experiments: the config, the run loop, checkpoints, the run directory."""

from serendip.experiment.checkpoint import CheckpointError
from serendip.experiment.config import ConfigError, RunConfig
from serendip.experiment.run_directory import Run, load_run
from serendip.experiment.runner import RunInterrupted, RunResult, resume, run

__all__ = [
    "CheckpointError",
    "ConfigError",
    "Run",
    "RunConfig",
    "RunInterrupted",
    "RunResult",
    "load_run",
    "resume",
    "run",
]
