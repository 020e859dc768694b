"""serendip: quality-diversity search for sparse rewards in a learned behavior space.

The Python API mirrors the command line::

    import serendip
    config = serendip.RunConfig.from_dict({"task": "arm", "algorithm": "ns", "budget": 20_000})
    result = serendip.run(config)        # Ctrl-C checkpoints; serendip.resume(path) continues
    run = serendip.load_run(result.path)
    run.evaluations, run.metrics, run.archive("novelty_archive")

Or drive any algorithm with your own evaluation (ask/tell)::

    search = serendip.Search("ns", genome_size=10, descriptor_bounds=[(-1, 1), (-1, 1)])
    genomes = search.ask()
    search.tell(rewards=..., descriptors=...)
"""

from serendip.algorithms import register_algorithm
from serendip.behavior import register_behavior_space
from serendip.errors import RunError, TrainingError
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
from serendip.experiment.search import Search
from serendip.tasks import make_task, register_task, task_spec
from serendip.tasks.gym import GymTask

__version__ = "0.2.0.dev0"

__all__ = [
    "CheckpointError",
    "ConfigError",
    "GymTask",
    "Run",
    "RunConfig",
    "RunError",
    "RunInterrupted",
    "RunResult",
    "Search",
    "TrainingError",
    "load_run",
    "make_task",
    "register_algorithm",
    "register_behavior_space",
    "register_task",
    "resume",
    "run",
    "task_spec",
]
