"""Tasks: batched, deterministic sparse-reward environments.

``make_task(name, n_frames=S)`` builds one by name; ``TASKS`` lists what exists.
"""

from __future__ import annotations

from collections.abc import Callable

from serendip.tasks.arm import RedundantArm, RedundantArmDistractors
from serendip.tasks.base import EvaluationBatch, RewardArea, Task, TaskSpec, frame_times

TASKS: dict[str, Callable[..., Task]] = {
    "arm": RedundantArm,
    "arm-distractors": RedundantArmDistractors,
}


def task_spec(name: str) -> TaskSpec:
    """The static description of a task, without building it."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; accepted: {', '.join(TASKS)}")
    return TASKS[name].spec  # type: ignore[attr-defined]


def make_task(name: str, *, n_frames: int = 0) -> Task:
    """Build the task called ``name`` rendering ``n_frames`` frames per episode."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; accepted: {', '.join(TASKS)}")
    return TASKS[name](n_frames=n_frames)


__all__ = [
    "TASKS",
    "EvaluationBatch",
    "RewardArea",
    "Task",
    "TaskSpec",
    "frame_times",
    "make_task",
    "task_spec",
]
