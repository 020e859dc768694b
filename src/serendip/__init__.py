"""serendip: quality-diversity search for sparse rewards in a learned behavior space.

The Python API mirrors the command line::

    import serendip
    config = serendip.RunConfig.from_dict({"task": "arm", "algorithm": "ns", "budget": 20_000})
    result = serendip.run(config)        # Ctrl-C checkpoints; serendip.resume(path) continues
    run = serendip.load_run(result.path)
    run.evaluations, run.metrics, run.archive("novelty_archive")
"""

from serendip.experiment import (
    CheckpointError,
    ConfigError,
    Run,
    RunConfig,
    RunInterrupted,
    RunResult,
    load_run,
    resume,
    run,
)
from serendip.tasks import make_task, task_spec
from serendip.tasks.gym import GymTask

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ConfigError",
    "GymTask",
    "Run",
    "RunConfig",
    "RunInterrupted",
    "RunResult",
    "load_run",
    "make_task",
    "resume",
    "run",
    "task_spec",
]
