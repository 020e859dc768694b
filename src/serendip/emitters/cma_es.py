"""The CMA-ES emitter: ``cma.CMAEvolutionStrategy`` around the ancestor, on the emitter's own RNG.

Randomness: cma draws every standard normal through its ``randn`` option, which
we point at the emitter's generator (``randn(lam, N)`` must return a
``(lam, N)`` array). With ``seed=nan`` cma never seeds ``numpy.random``, and
with a custom ``randn`` nothing on the path used here (sampling, boundary
transform, CSA step-size adaptation) touches the global RNG, so two emitters
with equally seeded generators ask the same genomes.

Termination: cma's own criteria are all kept. Note that ``tolfun`` and
``tolflatfitness`` fire as soon as a whole batch gets the same reward — with a
sparse reward, a population that left the reward area entirely — which is what
we want: CMA-ES has no elitism, so such an emitter has lost what it exploited.

``cma`` is imported when the first CMA-ES emitter is built, not with the package,
because importing it takes a few seconds.

One BLAS thread: cma's cost is its covariance matrix's eigendecomposition (n = 228
genes on the arm: a 228 x 228 ``eigh``), which OpenBLAS runs on every core. At that
size one thread is faster (6.5 ms against 8.7 ms here), and when another process
holds a core (a sweep's second run, say) two threads wait on each other: a 1,500-
evaluation CMA-ES run on the arm took 10.6 s with two threads against 3.6 s with one,
measured side by side on a loaded machine. So every cma call runs under a one-thread
BLAS limit (threadpoolctl, 0.03 ms a call), which also makes its rounding independent
of the machine's core count.

State as plain data, by replay: cma keeps its state in many interlinked objects
(sampler, step-size adaptation, fitness history, boundary handler) with no public
way to export them except pickle, which run directories never use. But an
emitter is a deterministic function of its generator's initial state and the
rewards it was told: :meth:`CMAESEmitter.state` saves those (plus the ancestor
and sigma0), and :meth:`CMAESEmitter.from_state` rebuilds the strategy and
replays every ask/tell, which repeats cma's floating-point operations exactly
(tested: the restored emitter asks bit-identical genomes). Replay costs one
cma generation per told generation, milliseconds each.
"""

from __future__ import annotations

import copy
import functools
import warnings
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import numpy as np

from serendip.archives import AddInfo
from serendip.emitters.base import Emitter, saved_history
from serendip.rng import rng_state


@functools.cache
def _blas() -> Any:
    """The process's BLAS libraries, found once (finding them takes milliseconds)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager:
    """BLAS limited to one thread inside the ``with`` block (see the module's docstring)."""
    return _blas().limit(limits=1, user_api="blas")


class CMAESEmitter(Emitter):
    """CMA-ES emitter (spec §3): mean = ancestor genome, sigma = sigma0, within the genome bounds.

    Its first batch is sampled around the ancestor. cma minimises, so it is told
    the negated rewards. Asking twice without telling returns the same batch again.
    """

    kind: ClassVar[str] = "cma-es"
    options: ClassVar[dict[str, Any]] = {}
    """cma options beyond the common ones (subclasses)."""

    def _start(self) -> None:
        with warnings.catch_warnings():
            # cma warns at import when matplotlib is missing (only its plots need it).
            warnings.filterwarnings("ignore", message="Could not import matplotlib")
            import cma  # deferred: importing cma takes seconds, and only this emitter needs it

        self._initial_rng = copy.deepcopy(rng_state(self.rng))
        options = {
            "popsize": self.population_size,
            "bounds": list(self.genome_bounds),
            "randn": self._standard_normal,
            "seed": np.nan,  # never seed numpy's global RNG
            "verbose": -9,
            "verb_disp": 0,
            "verb_log": 0,
            **self.options,
        }
        with one_blas_thread():
            self.es = cma.CMAEvolutionStrategy(self.ancestor_genome.copy(), self.sigma0, options)
        self._pending: list[np.ndarray] | None = None

    def _standard_normal(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape)

    def ask(self) -> np.ndarray:
        if self._pending is None:
            with one_blas_thread():
                self._pending = self.es.ask()
        return np.array(self._pending, dtype=np.float64)

    def tell(
        self, genomes: np.ndarray, rewards: np.ndarray, add_info: AddInfo | None = None
    ) -> None:
        genomes = np.asarray(genomes, dtype=np.float64)
        rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
        if self._pending is None:
            raise RuntimeError("tell() without a pending ask()")
        asked = np.array(self._pending, dtype=np.float64)
        if genomes.shape != asked.shape or not np.array_equal(genomes, asked):
            raise ValueError("tell() must receive the genomes of the last ask(), in order")
        if rewards.shape != (genomes.shape[0],):
            raise ValueError(f"rewards must have shape ({genomes.shape[0]},), got {rewards.shape}")
        with one_blas_thread():
            self.es.tell(self._pending, (-rewards).tolist())
        self._pending = None
        self._record(genomes, rewards)

    def termination(self) -> dict[str, Any]:
        """cma's termination criteria met so far (empty when none), for logs."""
        return dict(self.es.stop())

    def should_stop(self, max_generations: int | None = None, *, window: int | None = None) -> bool:
        """Stagnation, the generation cap, or one of cma's own termination criteria."""
        return super().should_stop(max_generations, window=window) or bool(self.es.stop())

    @property
    def sigma(self) -> float:
        """cma's current step size."""
        return float(self.es.sigma)

    def state(self) -> dict[str, Any]:
        """Plain data to replay this emitter from: initial generator state and told rewards."""
        return {
            **self._base_state(),
            "initial_rng": self._initial_rng,
            "has_pending": self._pending is not None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CMAESEmitter:
        """The emitter exactly as it was when :meth:`state` was called, rebuilt by replay."""
        emitter = cls(**cls._state_arguments(state, rng_key="initial_rng"))
        for rewards in saved_history(state):
            emitter.tell(emitter.ask(), rewards)
        if state["has_pending"]:
            emitter.ask()
        if rng_state(emitter.rng) != state["rng"]:
            raise ValueError(
                f"CMA-ES emitter {emitter.id}: replay did not reach the saved generator state "
                "(the cma version differs from the one that wrote the checkpoint?)"
            )
        return emitter


_NEVER = 2**62  # an iteration count cma never reaches


class RankedCMAESEmitter(CMAESEmitter):
    """A CMA-ES told ranks (maximised: the best row gets the highest value), not rewards.

    For CMA-ME's improvement ranking and the CMA-ES baseline's random tie-breaking.
    CMA-ES updates from the order of a generation alone, so ranks drive it exactly as
    values in that order would; but every generation's ranks are the same numbers, which
    cma's criteria on f-values would read as a flat, stagnant history. Those criteria
    (``tolfun``, ``tolfunhist``, ``tolfunrel``, ``tolflatfitness``, ``tolstagnation``) are
    off; the ones on the search distribution (``tolx``, ``tolupsigma``, ``conditioncov``,
    ``noeffectaxis``, ``noeffectcoord``) stay, and the caller adds its own restart rule.
    """

    kind: ClassVar[str] = "cma-es-ranked"
    options: ClassVar[dict[str, Any]] = {
        "tolfun": 0,
        "tolfunhist": 0,
        "tolfunrel": 0,
        "tolflatfitness": _NEVER,
        "tolstagnation": _NEVER,
    }
