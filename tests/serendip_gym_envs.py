"""Tiny Gymnasium environments registered on import, for ``gym:serendip_gym_envs:<id>``.

The tests name them the way a researcher names a third-party package's
environments (``gym:<module>:<id>``), so that importing the module that registers
them is exercised without a network or an extra package:

* ``SerendipGoalReach-v0``: a goal-conditioned point in the plane with a ``Dict``
  observation (``observation``, ``achieved_goal``, ``desired_goal``), the goal
  drawn at reset, and Gymnasium-Robotics' conventions: ``reward_type`` "sparse"
  (1 inside the goal, else 0) or "dense" (minus the distance), and
  ``continuing_task``.
* ``SerendipInfoSuccess-v0``: a walk on a line whose success is signalled only by
  ``info["is_success"]``; its reward is -1 a step whatever happens.
* ``SerendipDictActions-v0``: an action space serendip cannot drive.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

GOAL_REACH = "SerendipGoalReach-v0"
INFO_SUCCESS = "SerendipInfoSuccess-v0"
DICT_ACTIONS = "SerendipDictActions-v0"


class GoalReach(gymnasium.Env):
    """A point moved by a 2-D velocity towards a goal drawn at reset."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        reward_type: str = "sparse",
        continuing_task: bool = False,
        goal_radius: float = 0.2,
        step_size: float = 0.1,
        render_mode: str | None = None,
    ) -> None:
        if reward_type not in ("sparse", "dense"):
            raise ValueError(f"reward_type must be sparse or dense, got {reward_type!r}")
        self.reward_type = reward_type
        self.continuing_task = continuing_task
        self.goal_radius = float(goal_radius)
        self.step_size = float(step_size)
        self.render_mode = render_mode
        box = spaces.Box(-1.0, 1.0, (2,), dtype=np.float64)
        self.observation_space = spaces.Dict(
            {
                "observation": spaces.Box(-np.inf, np.inf, (4,), dtype=np.float64),
                "achieved_goal": box,
                "desired_goal": box,
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.position = np.zeros(2)
        self.velocity = np.zeros(2)
        self.goal = np.zeros(2)

    def _observation(self) -> dict[str, np.ndarray]:
        return {
            "observation": np.concatenate([self.position, self.velocity]),
            "achieved_goal": self.position.copy(),
            "desired_goal": self.goal.copy(),
        }

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = np.zeros(2)
        self.velocity = np.zeros(2)
        self.goal = self.np_random.uniform(-0.8, 0.8, size=2)
        return self._observation(), {}

    def step(self, action):
        self.velocity = np.clip(np.asarray(action, dtype=np.float64), -1, 1) * self.step_size
        self.position = np.clip(self.position + self.velocity, -1.0, 1.0)
        distance = float(np.linalg.norm(self.position - self.goal))
        reached = distance <= self.goal_radius
        reward = -distance if self.reward_type == "dense" else float(reached)
        terminated = bool(reached and not self.continuing_task)
        return self._observation(), reward, terminated, False, {}

    def render(self):
        image = np.full((32, 32, 3), 255, dtype=np.uint8)
        col, row = ((self.position + 1) / 2 * 31).astype(int)
        image[31 - row, col] = (0, 0, 255)
        return image


class InfoSuccess(gymnasium.Env):
    """A walk on a line; ``info["is_success"]`` says whether it stands on the target."""

    def __init__(self, target: int = 3, render_mode: str | None = None) -> None:
        self.target = int(target)
        self.observation_space = spaces.Box(-10.0, 10.0, (1,), dtype=np.float32)
        self.action_space = spaces.Discrete(3)  # left, stay, right
        self.position = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return np.array([self.position], dtype=np.float32), {}

    def step(self, action):
        self.position = int(np.clip(self.position + int(action) - 1, -10, 10))
        info = {"is_success": self.position == self.target}
        return np.array([self.position], dtype=np.float32), -1.0, False, False, info


class DictActions(gymnasium.Env):
    """An environment whose action space is a Dict: serendip's controller cannot drive it."""

    def __init__(self, render_mode: str | None = None) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.action_space = spaces.Dict({"move": spaces.Discrete(2)})

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(2, dtype=np.float32), 0.0, False, False, {}


gymnasium.register(GOAL_REACH, entry_point=f"{__name__}:GoalReach", max_episode_steps=30)
gymnasium.register(INFO_SUCCESS, entry_point=f"{__name__}:InfoSuccess", max_episode_steps=20)
gymnasium.register(DICT_ACTIONS, entry_point=f"{__name__}:DictActions", max_episode_steps=5)
