"""Running experiments: the config, the run loop, the run directory."""

from serendip.experiment.config import ConfigError, RunConfig
from serendip.experiment.run_directory import Run, load_run
from serendip.experiment.runner import RunResult, run

__all__ = ["ConfigError", "Run", "RunConfig", "RunResult", "load_run", "run"]
