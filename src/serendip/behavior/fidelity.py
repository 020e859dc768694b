"""How much of the task's ground truth a learned behavior space keeps.

The measure: predict each stored agent's ground-truth descriptor (e.g. the
robot's final position) as the mean of its ``k`` nearest other agents' in the
learned space (leave one out), and compare the error with the same prediction
made from shuffled latents (a space that knows nothing of the ground truth):

    fidelity error = mean |g_i - mean of g over i's k nearest latents|
                     / the same with the latents shuffled

0 is a space that orders agents exactly as the ground truth does, about 1 one
that keeps nothing of it (its latents could as well be shuffled). Each
ground-truth dimension is scaled by its range over the agents measured, so no
dimension dominates by its units. It generalises
``benchmarks/maze_latent_probe.py`` (the maze's robot position from 3
neighbours) to any task and run.

The ground truth is read for this measure only; the search never sees it. The
draws (a subsample of at most ``max_agents``, the shuffles) come from their own
generator, so measuring never changes a run.
"""

from __future__ import annotations

import numpy as np

from serendip.novelty import k_nearest

NEIGHBOURS = 3
SHUFFLES = 3
MAX_AGENTS = 2000


def prediction_error(latents: np.ndarray, ground_truth: np.ndarray, k: int = NEIGHBOURS) -> float:
    """Mean distance between each agent's ground truth and its k latent neighbours' mean."""
    n = latents.shape[0]
    m = min(k + 1, n)
    _, rows = k_nearest(latents, latents, m)
    own = rows == np.arange(n)[:, None]
    # Drop the agent itself (or, when ties push it out, the farthest neighbour).
    own[:, -1] |= ~own.any(axis=1)
    neighbours = rows[~own].reshape(n, m - 1)
    predicted = ground_truth[neighbours].mean(axis=1)
    return float(np.linalg.norm(ground_truth - predicted, axis=1).mean())


def fidelity_error(
    latents: np.ndarray,
    ground_truth: np.ndarray,
    rng: np.random.Generator,
    *,
    k: int = NEIGHBOURS,
    shuffles: int = SHUFFLES,
    max_agents: int = MAX_AGENTS,
) -> float | None:
    """The normalised error above (0 perfect, about 1 no information).

    Args:
        latents: ``(N, D)`` descriptors in the learned space.
        ground_truth: ``(N, Dg)`` the task's ground-truth descriptors of the same agents.
        rng: the measure's own generator (subsample and shuffles).
        k: neighbours whose ground truth is averaged.
        shuffles: shuffled-latent baselines averaged.
        max_agents: at most this many agents, drawn at random, are measured.

    Returns:
        None when it cannot be measured: fewer than ``k + 2`` agents, no ground
        truth, or a ground truth that does not vary.
    """
    latents = np.asarray(latents, dtype=np.float64)
    truth = np.asarray(ground_truth, dtype=np.float64)
    if truth.ndim != 2 or truth.shape[1] == 0 or len(truth) < k + 2:
        return None
    if len(truth) > max_agents:
        chosen = np.sort(rng.choice(len(truth), size=max_agents, replace=False))
        latents, truth = latents[chosen], truth[chosen]
    span = truth.max(axis=0) - truth.min(axis=0)
    varying = span > 0
    if not varying.any():
        return None
    truth = (truth[:, varying] - truth[:, varying].min(axis=0)) / span[varying]
    baseline = np.mean(
        [
            prediction_error(latents[rng.permutation(len(latents))], truth, k)
            for _ in range(shuffles)
        ]
    )
    if not baseline > 0:
        return None
    return prediction_error(latents, truth, k) / baseline
