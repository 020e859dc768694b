"""serendip: quality-diversity search for sparse rewards in a learned behavior space.

The Python API mirrors the command line::

    import serendip
    config = serendip.RunConfig.from_dict({"task": "arm", "algorithm": "ns", "budget": 20_000})
    result = serendip.run(config)
    run = serendip.load_run(result.path)
    run.evaluations, run.metrics, run.archive("novelty_archive")
"""

from serendip.experiment import ConfigError, Run, RunConfig, RunResult, load_run, run
from serendip.tasks import make_task, task_spec
from serendip.tasks.gym import GymTask

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "GymTask",
    "Run",
    "RunConfig",
    "RunResult",
    "load_run",
    "make_task",
    "run",
    "task_spec",
]
