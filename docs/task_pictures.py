"""Write docs/tasks/<task>.png: what each task's frames look like (64x64, shown 4x).

Each picture is the last of S = 3 frames of one episode of a random policy
(seed 0), side by side with the first and second, upscaled 4x with nearest
neighbour so that every pixel the autoencoder sees stays visible.

Usage: python docs/task_pictures.py [--tasks arm arm-distractors curling maze point]

PNG is written with the standard library (zlib + struct): the project has no
image library as a dependency, and a PNG of raw RGB rows is a few lines.
"""

from __future__ import annotations

import argparse
import struct
import zlib
from pathlib import Path

import numpy as np

from serendip.policies import random_genomes
from serendip.tasks import make_task

SCALE = 4
HERE = Path(__file__).parent / "tasks"


def write_png(path: Path, image: np.ndarray) -> None:
    """An (H, W, 3) uint8 image as an 8-bit RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    height, width, _ = image.shape
    rows = b"".join(b"\x00" + image[r].tobytes() for r in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def picture(name: str, seed: int = 0) -> np.ndarray:
    task = make_task(name, n_frames=3)
    rng = np.random.default_rng(seed)
    genomes = random_genomes(rng, 16, task.genome_size)
    batch = task.evaluate(genomes, episode_seeds=np.arange(16))
    # The episode that moved the most between its first and last frame.
    change = np.abs(batch.frames[:, -1].astype(int) - batch.frames[:, 0].astype(int)).sum((1, 2, 3))
    frames = batch.frames[int(np.argmax(change))]
    gap = np.full((64, 2, 3), 255, dtype=np.uint8)
    strip = np.concatenate([frames[0], gap, frames[1], gap, frames[2]], axis=1)
    return np.repeat(np.repeat(strip, SCALE, axis=0), SCALE, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks", nargs="+", default=["arm", "arm-distractors", "curling", "maze", "point"]
    )
    args = parser.parse_args()
    HERE.mkdir(exist_ok=True)
    for name in args.tasks:
        path = HERE / f"{name}.png"
        write_png(path, picture(name))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
