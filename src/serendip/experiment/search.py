"""Ask/tell for anyone: any registered algorithm, driven by your own evaluation.

::

    import serendip
    search = serendip.Search("ns", genome_size=10, descriptor_bounds=[(-1, 1), (-1, 1)], seed=0)
    for _ in range(50):
        genomes = search.ask()                          # (n, 10) float64 array
        search.tell(rewards=r(genomes), descriptors=d(genomes))   # rows in ask's order
    search.archive("novelty_archive").descriptors      # (m, 2)

``Search`` builds the algorithm exactly as a run does (the same registry, the
same config sections and validation, the same parts) and keeps the evaluation
indices itself; the run loop drives its algorithms through it too
(:meth:`Search.tell_batch`), so there is one code path. Learned-space
algorithms take ``frames=`` in :meth:`Search.tell`: ``(n, S, 64, 64, 3)`` uint8.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from serendip.algorithms import Algorithm, BuildContext, build_algorithm, uses_frames
from serendip.algorithms.base import prefixed, unprefixed
from serendip.archives import Agents
from serendip.errors import ConfigError
from serendip.experiment.config import RunConfig
from serendip.policies import GENOME_HIGH, GENOME_LOW
from serendip.request import Request
from serendip.tasks import EvaluationBatch
from serendip.tasks.base import FRAME_SIZE

SEARCH_TASK = "ask-tell"
"""The task name a ``Search``'s config carries (the user evaluates)."""
UNBOUNDED = 2**62
"""Budget of a search given none: the budget scheduler then always explores."""


class Search:
    """An algorithm of the registry behind ``ask()`` and ``tell()``.

    Args:
        algorithm: a registered algorithm name (``serendip algorithms``).
        genome_size: genes per genome.
        descriptor_bounds: ``[(low, high), ...]`` of your descriptor, one pair per
            dimension; ground-truth algorithms search in it, learned-space ones only
            store it (optional for them).
        seed: every random draw derives from it.
        frames: frames per agent S you pass to :meth:`tell` (learned-space algorithms;
            default 2 for them).
        genome_bounds: ``(low, high)`` of every gene (default ``(-5, 5)``).
        initial_genomes: ``(m, genome_size)`` genomes the first :meth:`ask` returns
            (default: the algorithm draws them).
        budget: evaluations planned (a scheduler may split by what is left; asks stop
            there); default unbounded.
        **sections: any section of the run config, e.g. ``novelty_search={"k": 10}``,
            ``exploitation={...}``, ``learned_space={...}``, ``random_search={...}``.

    Raises:
        ValueError: a bad argument (a :class:`~serendip.ConfigError` names the config
            field), raised before anything is built.
    """

    def __init__(
        self,
        algorithm: str,
        *,
        genome_size: int,
        descriptor_bounds: Any = (),
        seed: int = 0,
        frames: int | None = None,
        genome_bounds: tuple[float, float] | None = None,
        initial_genomes: Any = None,
        budget: int | None = None,
        **sections: Any,
    ) -> None:
        self._arguments = {
            "algorithm": algorithm,
            "genome_size": genome_size,
            "descriptor_bounds": descriptor_bounds,
            "seed": seed,
            "frames": frames,
            "genome_bounds": genome_bounds,
            "budget": budget,
            "sections": sections,
        }
        if isinstance(genome_size, bool) or not isinstance(genome_size, int | np.integer):
            raise ValueError(f"genome_size must be an integer >= 1, got {genome_size!r}")
        if genome_size < 1:
            raise ValueError(f"genome_size must be an integer >= 1, got {genome_size!r}")
        self.genome_size = int(genome_size)
        self.descriptor_bounds = _bounds_pairs(descriptor_bounds)
        self.genome_bounds = _genome_bounds(genome_bounds)
        self.initial_genomes = _initial_genomes(initial_genomes, self.genome_size)
        self.config = RunConfig.from_dict(
            {
                "task": SEARCH_TASK,
                "algorithm": algorithm,
                "seed": seed,
                "budget": UNBOUNDED if budget is None else budget,
                "frames": frames,
                **sections,
            },
            external_task=True,
        )
        self.n_frames = self.config.resolved_frames
        context = BuildContext(
            genome_size=self.genome_size,
            descriptor_bounds=self.descriptor_bounds,
            config=self.config,
            n_frames=self.n_frames,
            seed=self.config.seed,
            genome_bounds=self.genome_bounds,
            initial_genomes=self.initial_genomes,
        )
        if not uses_frames(self.config.algorithm) and not self.descriptor_bounds:
            raise ValueError(
                f"descriptor_bounds: algorithm {algorithm!r} searches in your descriptor "
                "space; give [(low, high), ...], one pair per dimension"
            )
        self.algorithm: Algorithm = build_algorithm(self.config.algorithm, context)
        self.evaluations = 0
        self.pending: Request | None = None

    @classmethod
    def around(cls, algorithm: Algorithm, config: RunConfig, *, evaluations: int = 0) -> Search:
        """A search over an algorithm a run built (the run loop drives it through this)."""
        search = cls.__new__(cls)
        search._arguments = {}
        search.config = config
        search.algorithm = algorithm
        search.n_frames = config.resolved_frames
        search.genome_size = -1  # the task's; a run never calls tell() with arrays
        search.descriptor_bounds = ()
        search.genome_bounds = (GENOME_LOW, GENOME_HIGH)
        search.initial_genomes = None
        search.evaluations = int(evaluations)
        search.pending = None
        return search

    # --- ask / tell -------------------------------------------------------------------
    @property
    def budget(self) -> int:
        return self.config.budget

    def ask(self) -> np.ndarray:
        """Genomes to evaluate next, ``(n, genome_size)`` float64 (a copy).

        Asking again before telling returns the same genomes.
        """
        if self.pending is None:
            left = self.config.budget - self.evaluations
            if left <= 0:
                raise RuntimeError(f"the budget of {self.config.budget:,} evaluations is spent")
            request = self.algorithm.ask(left)
            if len(request.genomes) == 0:
                raise RuntimeError(f"algorithm {self.config.algorithm!r} asked for no genome")
            self.pending = request
        return np.array(self.pending.genomes, dtype=np.float64)

    def tell(
        self,
        *,
        rewards: Any,
        descriptors: Any = None,
        frames: Any = None,
        reward_areas: Any = None,
    ) -> None:
        """Results of the last :meth:`ask`, rows in its order.

        Args:
            rewards: ``(n,)`` finite rewards; a reward counts when it is positive.
            descriptors: ``(n, D)`` finite descriptors in ``descriptor_bounds``' space
                (optional for learned-space algorithms when you gave no bounds).
            frames: ``(n, S, 64, 64, 3)`` uint8, for learned-space algorithms only.
            reward_areas: ``(n,)`` int labels of where each reward was reached (logs
                only; default 0 for a positive reward, -1 otherwise).

        Raises:
            ValueError: one argument is wrong (its name and what was expected); the
                search is left as it was, the same ask still pending.
        """
        if self.pending is None:
            raise ValueError("tell: no pending ask(); call ask() first (one tell per ask)")
        n = len(self.pending.genomes)
        batch = EvaluationBatch(
            rewards=_finite("rewards", rewards, (n,)),
            reward_areas=self._reward_areas(reward_areas, rewards, n),
            descriptors=self._descriptors(descriptors, n),
            frames=self._frames(frames, n),
            final_observations=np.zeros((n, 0)),
        )
        self.tell_batch(batch)

    def tell_batch(self, batch: EvaluationBatch) -> np.ndarray:
        """Results of the last ask as an evaluated batch; returns the rows' evaluation indices."""
        if self.pending is None:
            raise ValueError("tell: no pending ask(); call ask() first (one tell per ask)")
        request = self.pending
        indices = np.arange(self.evaluations, self.evaluations + len(batch), dtype=np.int64)
        if len(batch) != len(request.genomes):
            raise ValueError(f"tell: {len(batch)} results for {len(request.genomes)} genomes asked")
        self.algorithm.tell(request, batch, indices)
        self.pending = None
        self.evaluations += len(batch)
        return indices

    # --- validation ----------------------------------------------------------------------
    def _descriptors(self, descriptors: Any, n: int) -> np.ndarray:
        d = len(self.descriptor_bounds)
        if descriptors is None:
            if d and not self.algorithm.needs_frames:
                raise ValueError(f"descriptors: expected an ({n}, {d}) array, got None")
            return np.zeros((n, d))
        return _finite("descriptors", descriptors, (n, d))

    def _frames(self, frames: Any, n: int) -> np.ndarray:
        s = self.n_frames if self.algorithm.needs_frames else 0
        shape = (n, s, FRAME_SIZE, FRAME_SIZE, 3)
        if frames is None:
            if s:
                raise ValueError(f"frames: algorithm {self.config.algorithm!r} needs {shape} uint8")
            return np.zeros(shape, dtype=np.uint8)
        if not s:
            raise ValueError(
                f"frames: algorithm {self.config.algorithm!r} does not look at frames; "
                "pass frames=None"
            )
        array = np.asarray(frames)
        if array.dtype != np.uint8:
            raise ValueError(f"frames: expected dtype uint8, got {array.dtype}")
        if array.shape != shape:
            raise ValueError(f"frames: expected shape {shape}, got {array.shape}")
        return array

    @staticmethod
    def _reward_areas(reward_areas: Any, rewards: Any, n: int) -> np.ndarray:
        if reward_areas is None:
            return np.where(np.asarray(rewards, dtype=np.float64) > 0, 0, -1).astype(np.int64)
        areas = np.asarray(reward_areas)
        if areas.shape != (n,) or not np.issubdtype(areas.dtype, np.integer):
            raise ValueError(
                f"reward_areas: expected ({n},) integers, got {areas.dtype} {areas.shape}"
            )
        return areas.astype(np.int64)

    # --- results and state ----------------------------------------------------------------
    def archive(self, name: str) -> Agents:
        """One of :meth:`archives`, by name (e.g. ``novelty_archive``, ``reward_archive``)."""
        archives = self.algorithm.archives()
        if name not in archives:
            raise KeyError(f"no archive {name!r}; this algorithm has: {', '.join(archives)}")
        return archives[name]

    def archives(self) -> dict[str, Agents]:
        return self.algorithm.archives()

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The whole search as ``(arrays, json data)``: no pickle; see :meth:`from_state_dict`."""
        arrays, data = self.algorithm.state_dict()
        arrays = prefixed("algorithm.", arrays)
        if self.initial_genomes is not None:
            arrays["search.initial_genomes"] = self.initial_genomes
        pending = None
        if self.pending is not None:
            arrays["search.pending_genomes"] = np.asarray(self.pending.genomes)
            pending = {"process": self.pending.process, "target_area": self.pending.target_area}
        arguments = {
            **self._arguments,
            "descriptor_bounds": [list(pair) for pair in self.descriptor_bounds],
            "genome_bounds": list(self.genome_bounds),
        }
        search = {"arguments": arguments, "evaluations": self.evaluations, "pending": pending}
        return arrays, {"search": search, "algorithm": data}

    @classmethod
    def from_state_dict(cls, arrays: dict[str, np.ndarray], data: dict[str, Any]) -> Search:
        """The search exactly as :meth:`state_dict` saw it: it continues bit for bit."""
        saved = data["search"]
        arguments = dict(saved["arguments"])
        sections = arguments.pop("sections")
        search = cls(**arguments, initial_genomes=arrays.get("search.initial_genomes"), **sections)
        search.algorithm.load_state_dict(unprefixed("algorithm.", arrays), data["algorithm"])
        search.evaluations = int(saved["evaluations"])
        if saved["pending"] is not None:
            search.pending = Request(
                np.asarray(arrays["search.pending_genomes"], dtype=np.float64),
                process=saved["pending"]["process"],
                target_area=int(saved["pending"]["target_area"]),
            )
        return search


def _finite(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: expected a {shape} array of numbers, got {value!r:.80}"
        ) from None
    if array.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {array.shape}")
    if not np.isfinite(array).all():
        rows = np.flatnonzero(~np.isfinite(array.reshape(len(array), -1)).all(axis=1))
        raise ValueError(f"{name}: must be finite; NaN or inf in rows {rows[:5].tolist()}")
    return array


def _bounds_pairs(value: Any) -> tuple[tuple[float, float], ...]:
    try:
        array = np.asarray(value if value is not None else (), dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise ValueError(
            f"descriptor_bounds: expected [(low, high), ...], got {value!r:.80}"
        ) from None
    if not np.isfinite(array).all() or not (array[:, 1] > array[:, 0]).all():
        raise ValueError(
            f"descriptor_bounds: every pair must be finite with low < high, got {array.tolist()}"
        )
    return tuple((float(lo), float(hi)) for lo, hi in array)


def _genome_bounds(value: Any) -> tuple[float, float]:
    if value is None:
        return (GENOME_LOW, GENOME_HIGH)
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"genome_bounds: expected (low, high), got {value!r:.80}") from None
    if not (np.isfinite([low, high]).all() and low < high):
        raise ValueError(f"genome_bounds: expected finite low < high, got ({low}, {high})")
    return low, high


def _initial_genomes(value: Any, genome_size: int) -> np.ndarray | None:
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != genome_size or len(array) == 0:
        raise ValueError(
            f"initial_genomes: expected an (m, {genome_size}) array with m >= 1, "
            f"got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError("initial_genomes: must be finite")
    return array


__all__ = ["SEARCH_TASK", "ConfigError", "Search"]
