"""How much of the robot's position a maze run's learned behavior space keeps.

The hard maze's frame is the static maze (walls, floor, reward areas) with the
robot drawn as a disc of about 7 pixels out of 64x64. An autoencoder can
reconstruct such a frame well while nearly ignoring the robot. This probe draws
the robot at every cell centre of a grid, encodes the frames with each saved
autoencoder of a run (``autoencoder/training-NNN.safetensors``), and predicts
each position from its 3 nearest neighbours in the latent space, leaving the
position itself out. It prints the mean error of that prediction.

Two reference rows frame the figure. "ground truth" uses the positions
themselves as descriptors, which is the best a descriptor can do on this grid.
"no position" pairs the positions with shuffled latents, which is what a
descriptor that carries no position at all gives. The last column is the same
figure on the scale every learned-space run records after each training
(:mod:`serendip.behavior.fidelity`: the error over the shuffled latents', 0 all
kept, about 1 nothing); a run measures it on its own stored agents instead of
this grid.

Usage:
    python benchmarks/maze_latent_probe.py runs/discovery200k/maze-stax-seed*-200000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from serendip.behavior.fidelity import NEIGHBOURS, fidelity_error, prediction_error
from serendip.behavior.learned import AutoencoderConfig, LearnedSpace, load_weights
from serendip.tasks.maze import HardMaze, MazeState


def grid_frames(cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Robot positions at the centres of a ``cells`` x ``cells`` grid, and their frames."""
    centres = (np.arange(cells) + 0.5) / cells
    xs, ys = np.meshgrid(centres, centres, indexing="ij")
    positions = np.stack([xs.ravel(), ys.ravel()], axis=1)
    state = MazeState(
        position=positions, heading=np.zeros(len(positions)), bumpers=np.zeros((len(positions), 2))
    )
    return positions, HardMaze(n_frames=1).render(state)[:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="maze runs with a learned space")
    parser.add_argument("--cells", type=int, default=20, help="grid cells per side")
    args = parser.parse_args()
    positions, frames = grid_frames(args.cells)
    rng = np.random.default_rng(0)
    print(f"mean error of the position predicted from {NEIGHBOURS} latent neighbours")
    print(f"({args.cells}x{args.cells} robot positions in the unit square)\n")
    print(f"  ground truth: {prediction_error(positions, positions):.3f}")
    for run in args.runs:
        weights = sorted((run / "autoencoder").glob("training-*.safetensors"))
        if not weights:
            print(f"{run.name}: no saved autoencoder, skipped")
            continue
        space = LearnedSpace(n_frames=1, config=AutoencoderConfig(threads=1), seed=0)
        errors = []
        for path in weights:
            space.autoencoder.load_state_dict(load_weights(path))
            latents = space.encode(frames)
            errors.append(prediction_error(latents, positions))
        shuffled = prediction_error(rng.permutation(latents), positions)
        fidelity = fidelity_error(latents, positions, np.random.default_rng(0))
        trainings = ", ".join(f"{e:.3f}" for e in errors)
        print(f"  {run.name}: by training {trainings}")
        print(
            f"  {' ' * len(run.name)}  no position (last, shuffled): {shuffled:.3f}; "
            f"fidelity error (last): {fidelity:.3f}"
        )


if __name__ == "__main__":
    main()
