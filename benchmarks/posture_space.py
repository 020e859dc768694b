"""A diagnostic behavior space for the arm: its whole final posture, as an image shows it.

Why the learned spaces cover less of the arm than SERENE does was open until
this space measured it (``docs/results.md``, "Why STAX covers less of the arm").
The ground truth is the end point alone, while a frame shows
the whole arm: 20 joints whose postures reach the same end point in many ways.
An encoder that kept all of a frame would, at best, describe the posture. This
space gives novelty search exactly that, with nothing learned: the positions of
the arm's 21 joints (base first, 42 numbers) at the episode's end, computed
from the final observation (the relative joint angles divided by pi) with the
task's own forward kinematics. STAX run in it with novelty-only survivors (it
has no surprise) is SERENE in posture space; its end-point coverage says how
much a perfect image-based space could cover, and so whether the gap is the
image's or the learning's.

Not part of the library: load it as a plugin (the ``benchmarks`` folder on
``PYTHONPATH``) and select it as a learned space::

    PYTHONPATH=benchmarks python benchmarks/discovery.py --task arm --budget 200000 \\
        --seeds 0 1 2 3 4 --algorithms stax --jobs 2 --out runs/encoders200k \\
        --set plugins=[posture_space] --set learned_space.encoder=posture \\
        --set novelty_search.selection=novelty --tag posture
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from serendip.behavior import register_behavior_space
from serendip.behavior.base import GroundTruthSpace
from serendip.tasks.arm import N_JOINTS, forward_kinematics


class PostureSpace(GroundTruthSpace):
    """The arm's final joint positions ``(N, 42)`` as descriptors: fixed, stateless, no frames.

    Everything but :meth:`describe` is the ground-truth space's no-op contract.
    """

    def __init__(self, *, n_frames: int = 0, config: Any = None, seed: int = 0) -> None:
        del n_frames, config, seed  # nothing to learn, nothing random
        super().__init__(descriptor_size=2 * (N_JOINTS + 1))

    def describe(self, batch: Any) -> np.ndarray:
        angles = np.asarray(batch.final_observations, dtype=np.float64) * math.pi
        if angles.ndim != 2 or angles.shape[1] != N_JOINTS:
            raise ValueError(f"posture needs the arm's {N_JOINTS} joint angles, got {angles.shape}")
        out = np.empty((len(angles), N_JOINTS + 1, 2))
        for row, pose in zip(angles, out, strict=True):
            forward_kinematics(np.ascontiguousarray(row), pose)
        return out.reshape(len(angles), -1)


register_behavior_space(
    "posture", PostureSpace, summary="the arm's final joint positions (diagnostic)", replace=True
)
