"""What fidelity error a learned space could reach on a run's own agents.

A run records the fidelity error of its learned space (``fidelity_error`` in
``summary.json``; :mod:`serendip.behavior.fidelity`): the error of predicting
each stored agent's ground-truth descriptor from its 3 nearest latent
neighbours, over the same with shuffled latents. Neither bound below is 0:

* **ground truth as latents**: the stored agents' ground-truth descriptors used
  as the latents. The measure's floor on these agents: the 3 nearest agents
  are not at the same place.
* **task state at the S frame times**: the ground-truth descriptor of the
  task's state (``Task.outcome``) at each of the ``S`` times a frame is taken,
  concatenated. What an encoder that reads the descriptor's quantity perfectly
  from each frame would give; with ``S = 2`` the first frame (mid-episode)
  adds a dimension the final descriptor does not have, which the measure
  counts as noise.
* **last frame's latent**: the stored descriptors' last ``D / S`` numbers (the
  latent of the frame taken at the episode's end). With the final position as
  the ground truth, how much of it one frame's latent keeps.

The agents are the run's stored ones at its end (population, novelty archive
and reward archive, deduplicated by evaluation index), re-evaluated from their
genomes with the task's default episode seeds. The run's own figure is its last
training's, measured on the agents stored then, so it is close to, not equal
to, the first column.

Usage:
    python benchmarks/fidelity_bounds.py runs/encoders20k/maze-stax-seed*-20000-*
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from serendip.behavior.fidelity import fidelity_error
from serendip.experiment import load_run
from serendip.tasks import make_task
from serendip.tasks.base import frame_times


def stored_agents(run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Descriptors, ground truth and genomes of the run's stored agents, once each."""
    parts = [run.archive(name) for name in ("population", "novelty_archive", "reward_archive")]
    parts = [p for p in parts if len(p.indices)]
    indices = np.concatenate([p.indices for p in parts])
    _, first = np.unique(indices, return_index=True)
    first.sort()

    def joined(field: str) -> np.ndarray:
        return np.concatenate([getattr(p, field) for p in parts])[first]

    return joined("descriptors"), joined("ground_truth"), joined("genomes")


def states_at_frame_times(task, genomes: np.ndarray) -> np.ndarray:
    """``Task.outcome``'s descriptor at each frame time, concatenated: ``(N, S * Dg)``."""
    state = task.reset(len(genomes), np.arange(len(genomes), dtype=np.int64))
    done, columns = 0, []
    for t in frame_times(task.spec.horizon, task.n_frames):
        task.advance(state, genomes, int(t) + 1 - done)
        done = int(t) + 1
        columns.append(task.outcome(state)[0])
    return np.concatenate(columns, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run directories of learned spaces")
    args = parser.parse_args()
    print(
        "| run | agents | run's last training | stored descriptors | last frame's latent | "
        "ground truth as latents | task state at the S frame times |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for path in args.runs:
        if not (path / "summary.json").exists():
            print(f"| {path.name} | not finished: skipped | | | | | |")
            continue
        run = load_run(path)
        config = run.config
        descriptors, truth, genomes = stored_agents(run)
        task = make_task(config.task, n_frames=config.resolved_frames, options=config.task_options)
        ideal = states_at_frame_times(task, genomes)
        last = descriptors[:, -descriptors.shape[1] // max(1, config.resolved_frames) :]

        def error(latents: np.ndarray, truth: np.ndarray = truth) -> float:
            return fidelity_error(latents, truth, np.random.default_rng(0))

        summary = json.loads((path / "summary.json").read_text())
        recorded = summary.get("fidelity_error")
        print(
            f"| {path.name} | {len(truth)} | {recorded if recorded is not None else '-'} | "
            f"{error(descriptors):.3f} | {error(last):.3f} | {error(truth):.3f} | "
            f"{error(ideal):.3f} |"
        )


if __name__ == "__main__":
    main()
