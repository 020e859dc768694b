"""Tasks: batched, deterministic sparse-reward environments.

``make_task(name, n_frames=S, options=...)`` builds one by name from the ``TASKS``
registry, where the built-in tasks are registered like a user's own
(:func:`register_task`); ``options`` are the config's ``task_options``.
``gym:<id>`` names any registered Gymnasium environment and ``gym:<module>:<id>``
one that ``<module>`` registers when imported; their options are
``gymnasium.make``'s, and their success rule is the ``reward`` argument (see
:mod:`serendip.tasks.gym`). :class:`~serendip.tasks.gym.GymTask` also takes an
environment factory directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from serendip.errors import ConfigError
from serendip.registry import Registry
from serendip.tasks.ant_maze import AntMaze
from serendip.tasks.arm import RedundantArm, RedundantArmDistractors
from serendip.tasks.base import (
    EpisodeSuccess,
    EvaluationBatch,
    ReturnThreshold,
    RewardArea,
    Task,
    TaskError,
    TaskSpec,
    frame_times,
)
from serendip.tasks.curling import Curling
from serendip.tasks.gym import REWARD_RULES
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
GYM_SUMMARY = "any Gymnasium environment: gym:<id>, or gym:<module>:<id> to import <module> first"
GYM_ONLY = ("reward", "reward_threshold", "descriptor", "descriptor_bounds")
"""make_task's arguments (config fields) that only gym tasks take."""


def is_gym(name: str) -> bool:
    return isinstance(name, str) and name.startswith(GYM_PREFIX) and len(name) > len(GYM_PREFIX)


def task_names() -> list[str]:
    """Every accepted task name, ``gym:<id>`` standing for the Gymnasium ones."""
    return [*TASKS.names(), "gym:<id>", "gym:<module>:<id>"]


def task_option_names(name: str) -> tuple[str, ...] | None:
    """The task options a registered task accepts; None when its factory does not say."""
    factory = _factory(name)
    if isinstance(factory, type) and issubclass(factory, Task):
        return factory.option_names
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(p.name for p in parameters if p.kind in named and p.name != "n_frames")


def check_task_options(name: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """A registered task's options, validated (without building it); gym tasks' as given.

    A gym task's options are checked when the environment is made
    (:func:`~serendip.tasks.gym.env_factory_for`).

    Raises:
        ConfigError: an unknown option (the accepted ones listed) or a bad value.
    """
    options = dict(options or {})
    if is_gym(name) or not options:
        return options
    factory = _factory(name)
    if isinstance(factory, type) and issubclass(factory, Task):
        return factory.check_options(options)
    accepted = task_option_names(name)
    if accepted is not None:
        for key in options:
            if key not in accepted:
                raise ConfigError(
                    f"task_options.{key}",
                    f"not an option of task {name!r}; accepted: {', '.join(accepted) or 'none'}",
                )
    return options


def _factory(name: str) -> Callable[..., Task]:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; accepted: {', '.join(task_names())}")
    return TASKS[name].load()


def task_spec(name: str, *, options: Mapping[str, Any] | None = None, **gym: Any) -> TaskSpec:
    """The static description of a task (a gym task is built to read its spaces).

    ``options`` and ``gym`` (``reward``, ``reward_threshold``, ``descriptor``,
    ``descriptor_bounds``) as for :func:`make_task`.
    """
    if is_gym(name) or not isinstance(getattr(_factory(name), "spec", None), TaskSpec):
        task = make_task(name, options=options, **gym)
        try:
            return task.spec
        finally:
            task.close()
    _refuse_gym_arguments(name, gym)
    factory = _factory(name)
    return factory.configured_spec(options) if options else factory.spec  # type: ignore[attr-defined]


def make_task(
    name: str,
    *,
    n_frames: int = 0,
    options: Mapping[str, Any] | None = None,
    reward: str | None = None,
    reward_threshold: float | None = None,
    descriptor: Any = None,
    descriptor_bounds: Sequence[Sequence[float]] | None = None,
) -> Task:
    """Build the task called ``name`` rendering ``n_frames`` frames per episode.

    Args:
        options: the task's options (a config's ``task_options``): a built-in task's
            ``horizon`` and ``reward_areas``, a user task's keyword arguments, a gym
            task's ``gymnasium.make`` keyword arguments.
        reward, reward_threshold: a gym task's success rule
            (:data:`~serendip.tasks.gym.REWARD_RULES`; None detects it).
        descriptor, descriptor_bounds: a gym task's ground-truth descriptor:
            observation key(s) or flat indices, and their box.

    Raises:
        KeyError: an unknown task name.
        TaskError: a Gymnasium module or id that cannot be found, spaces serendip
            cannot drive.
        ConfigError: a bad option or gym setting, named by its config field.
    """
    if is_gym(name):
        from serendip.tasks.gym import GymTask, env_factory_for

        env_id = name[len(GYM_PREFIX) :]
        return GymTask(
            env_factory_for(env_id, options),
            name=env_id,
            n_frames=n_frames,
            reward=reward,
            reward_threshold=reward_threshold,
            descriptor=descriptor,
            descriptor_bounds=descriptor_bounds,  # type: ignore[arg-type]
        )
    _refuse_gym_arguments(
        name,
        {
            "reward": reward,
            "reward_threshold": reward_threshold,
            "descriptor": descriptor,
            "descriptor_bounds": descriptor_bounds,
        },
    )
    factory = _factory(name)
    if not options:
        return factory(n_frames=n_frames)
    return factory(n_frames=n_frames, **check_task_options(name, options))


def _refuse_gym_arguments(name: str, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if key not in GYM_ONLY:
            raise TypeError(f"unexpected argument {key!r}")
        if value is not None:
            raise ConfigError(key, f"only applies to gym:<id> tasks, not to task {name!r}")


__all__ = [
    "GYM_SUMMARY",
    "REWARD_RULES",
    "TASKS",
    "EpisodeSuccess",
    "EvaluationBatch",
    "ReturnThreshold",
    "RewardArea",
    "Task",
    "TaskError",
    "TaskSpec",
    "check_task_options",
    "frame_times",
    "is_gym",
    "make_task",
    "register_task",
    "task_names",
    "task_option_names",
    "task_spec",
]
