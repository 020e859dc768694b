"""Tasks: batched, deterministic sparse-reward environments.

``make_task(name, n_frames=S)`` builds one by name from the ``TASKS`` registry,
where the built-in tasks are registered like a user's own
(:func:`register_task`). ``gym:<id>`` names any registered Gymnasium
environment (it needs a ``reward_threshold``); :class:`~serendip.tasks.gym.GymTask`
also takes an environment factory directly.
"""

from __future__ import annotations

from collections.abc import Callable

from serendip.registry import Registry
from serendip.tasks.ant_maze import AntMaze
from serendip.tasks.arm import RedundantArm, RedundantArmDistractors
from serendip.tasks.base import (
    EvaluationBatch,
    ReturnThreshold,
    RewardArea,
    Task,
    TaskError,
    TaskSpec,
    frame_times,
)
from serendip.tasks.curling import Curling
from serendip.tasks.maze import HardMaze
from serendip.tasks.point import PointTask

TASKS = Registry("task")
for _name, _task in {
    "arm": RedundantArm,
    "arm-distractors": RedundantArmDistractors,
    "curling": Curling,
    "maze": HardMaze,
    "ant-maze": AntMaze,
    "point": PointTask,
}.items():
    TASKS.register(_name, _task, summary=_task.spec.summary, builtin=True)


def register_task(
    name: str, factory: Callable[..., Task] | str, *, summary: str = "", replace: bool = False
) -> None:
    """Add a task: ``factory(n_frames=S)`` returns a :class:`Task` whose ``spec.name`` is ``name``.

    ``summary`` defaults to the task's ``spec.summary`` when the factory has a
    ``spec`` attribute (a Task class).
    """
    if name.startswith(GYM_PREFIX):
        raise ValueError(f"task names starting with {GYM_PREFIX!r} are Gymnasium ids")
    spec = getattr(factory, "spec", None)
    TASKS.register(name, factory, summary=summary or getattr(spec, "summary", ""), replace=replace)


GYM_PREFIX = "gym:"
GYM_SUMMARY = "any Gymnasium environment: gym:<id> with a reward threshold on the return"


def is_gym(name: str) -> bool:
    return isinstance(name, str) and name.startswith(GYM_PREFIX) and len(name) > len(GYM_PREFIX)


def task_names() -> list[str]:
    """Every accepted task name, ``gym:<id>`` standing for the Gymnasium ones."""
    return [*TASKS.names(), "gym:<id>"]


def task_spec(name: str, *, reward_threshold: float | None = None) -> TaskSpec:
    """The static description of a task (a gym task is built to read its spaces)."""
    if is_gym(name):
        return make_task(name, reward_threshold=reward_threshold).spec
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; accepted: {', '.join(task_names())}")
    factory = TASKS[name].load()
    spec = getattr(factory, "spec", None)
    if isinstance(spec, TaskSpec):
        return spec
    task = factory(n_frames=0)  # a factory function: build one to read its spec
    try:
        return task.spec
    finally:
        task.close()


def make_task(name: str, *, n_frames: int = 0, reward_threshold: float | None = None) -> Task:
    """Build the task called ``name`` rendering ``n_frames`` frames per episode."""
    if is_gym(name):
        from serendip.tasks.gym import GymTask, env_factory_for

        if reward_threshold is None:
            raise TaskError(
                f"task {name!r} needs a reward threshold: the episode return that counts "
                "as reaching the reward (--reward-threshold R)"
            )
        env_id = name[len(GYM_PREFIX) :]
        return GymTask(
            env_factory_for(env_id), reward_threshold=reward_threshold, n_frames=n_frames
        )
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; accepted: {', '.join(task_names())}")
    return TASKS[name].load()(n_frames=n_frames)


__all__ = [
    "GYM_SUMMARY",
    "TASKS",
    "EvaluationBatch",
    "ReturnThreshold",
    "RewardArea",
    "Task",
    "TaskError",
    "TaskSpec",
    "frame_times",
    "is_gym",
    "make_task",
    "register_task",
    "task_names",
    "task_spec",
]
