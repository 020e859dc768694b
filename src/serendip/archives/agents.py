"""Struct-of-arrays containers for evaluated agents: populations and archives.

Every evaluated agent carries its evaluation ``index``, unique within a run: it is
the agent's identity, so an agent held by several sets at once (in the
population and in the novelty archive, say) counts once as a novelty reference
and is never its own neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AGENT_FIELDS = (
    "genomes",
    "descriptors",
    "ground_truth",
    "rewards",
    "reward_areas",
    "indices",
    "frames",
)


@dataclass
class Agents:
    """A batch of evaluated agents, one row each.

    Attributes:
        genomes: ``(N, G)`` policy parameters.
        descriptors: ``(N, D)`` points in the behavior space the search uses.
        ground_truth: ``(N, Dg)`` the task's ground-truth descriptor (metrics, baselines).
        rewards: ``(N,)`` episode rewards.
        reward_areas: ``(N,)`` reward area reached, -1 for none (metrics and logs only).
        indices: ``(N,)`` evaluation index: the agent's identity.
        frames: ``(N, S, 64, 64, 3)`` uint8 frames, kept so that a learned space can
            retrain on them and re-encode them (``S = 0`` for hand-designed spaces).
    """

    genomes: np.ndarray
    descriptors: np.ndarray
    ground_truth: np.ndarray
    rewards: np.ndarray
    reward_areas: np.ndarray
    indices: np.ndarray
    frames: np.ndarray

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    @classmethod
    def empty(
        cls, genome_size: int, descriptor_size: int, ground_truth_size: int, n_frames: int = 0
    ) -> Agents:
        return cls(
            genomes=np.empty((0, genome_size)),
            descriptors=np.empty((0, descriptor_size)),
            ground_truth=np.empty((0, ground_truth_size)),
            rewards=np.empty(0),
            reward_areas=np.empty(0, dtype=np.int64),
            indices=np.empty(0, dtype=np.int64),
            frames=np.empty((0, n_frames, 64, 64, 3), dtype=np.uint8),
        )

    def take(self, rows: np.ndarray | slice) -> Agents:
        """The agents at ``rows`` (an index array, boolean mask or slice).

        Searches take rows every generation (survivors, archive insertions, rewarding
        agents, parents), so a mask is turned into row numbers once, not once per
        field, and fields with rows of several values use ``ndarray.take`` (2-4x
        faster than fancy indexing for a 2-D array; the same values).
        """
        fields = (getattr(self, name) for name in AGENT_FIELDS)
        if isinstance(rows, slice):
            return Agents(*[values[rows] for values in fields])
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if rows.shape != (len(self),):
                raise IndexError(
                    f"boolean index of shape {rows.shape} does not match {len(self)} agents"
                )
            rows = np.flatnonzero(rows)
        elif rows.size == 0:
            rows = rows.astype(np.intp)  # an empty list reads as floats
        return Agents(
            *[values.take(rows, axis=0) if values.ndim > 1 else values[rows] for values in fields]
        )

    @staticmethod
    def concat(*parts: Agents) -> Agents:
        return Agents(
            **{name: np.concatenate([getattr(p, name) for p in parts]) for name in AGENT_FIELDS}
        )

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Plain arrays, for saving without pickle."""
        return {prefix + name: getattr(self, name) for name in AGENT_FIELDS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "") -> Agents:
        return cls(**{name: np.asarray(arrays[prefix + name]) for name in AGENT_FIELDS})


class Archive:
    """An unbounded, append-only archive of agents with amortised O(1) appends.

    Storage grows by doubling, so adding 5 agents a generation to an archive of
    tens of thousands copies nothing most of the time.
    """

    def __init__(
        self, genome_size: int, descriptor_size: int, ground_truth_size: int, n_frames: int = 0
    ) -> None:
        self._storage = Agents.empty(genome_size, descriptor_size, ground_truth_size, n_frames)
        self._size = 0
        # Bumped by every change, so that structures built on the archive know when to rebuild.
        self.version = 0

    def __len__(self) -> int:
        return self._size

    @property
    def agents(self) -> Agents:
        """A view of the stored agents (do not modify)."""
        return self._storage.take(slice(0, self._size))

    def add(self, agents: Agents) -> None:
        n = len(agents)
        if n == 0:
            return
        capacity = len(self._storage)
        if self._size + n > capacity:
            new_capacity = max(64, 2 * capacity, self._size + n)
            grown = {}
            for name in AGENT_FIELDS:
                old = getattr(self._storage, name)
                new = np.empty((new_capacity, *old.shape[1:]), dtype=old.dtype)
                new[: self._size] = old[: self._size]
                grown[name] = new
            self._storage = Agents(**grown)
        for name in AGENT_FIELDS:
            getattr(self._storage, name)[self._size : self._size + n] = getattr(agents, name)
        self._size += n
        self.version += 1

    def set_descriptors(self, descriptors: np.ndarray) -> None:
        """Replace every stored descriptor (after the behavior space changes)."""
        if descriptors.shape[0] != self._size:
            raise ValueError(f"expected {self._size} descriptors, got {descriptors.shape[0]}")
        self._storage.descriptors[: self._size] = descriptors
        self.version += 1

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return self.agents.arrays(prefix)

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        """The stored agents as plain arrays (no JSON part)."""
        return self.agents.arrays(), {}

    def load_state_dict(self, arrays: dict[str, np.ndarray], data: dict) -> None:
        """Replace the content in place: whoever holds this archive sees the restored one."""
        self._storage = Agents.from_arrays(arrays)
        self._size = len(self._storage)
        self.version += 1

    @classmethod
    def from_agents(cls, agents: Agents) -> Archive:
        archive = cls(
            agents.genomes.shape[1],
            agents.descriptors.shape[1],
            agents.ground_truth.shape[1],
            agents.frames.shape[1],
        )
        archive.add(agents)
        return archive
