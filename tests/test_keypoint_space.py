"""The keypoint encoder: its bottleneck, what it learns, bad settings.

Determinism, surprise and the state round trip are checked with the background
space's tests (``tests/test_background_space.py``), of which it is a subclass.
"""

import numpy as np
import pytest
import torch

from serendip.behavior import BEHAVIOR_SPACES, make_learned_space
from serendip.behavior.fidelity import fidelity_error
from serendip.behavior.keypoints import GRID, GaussianMaps, KeypointSpace, SpatialSoftmax
from serendip.behavior.training import AutoencoderConfig
from serendip.cli import main
from serendip.errors import ConfigError

CONFIG = AutoencoderConfig(latent_size=4, max_epochs=2, threads=1, encoder="keypoints")


def scene(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Frames of a fixed textured background with a bright 4x4 square at random places."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 120, (64, 64, 3), dtype=np.uint8)
    frames = np.repeat(background[None, None], n, axis=0).copy()
    corners = rng.integers(0, 60, (n, 2))
    for i, (row, column) in enumerate(corners):
        frames[i, 0, row : row + 4, column : column + 4] = 255
    return frames, corners + 1.5


def test_spatial_softmax_finds_a_peak_and_gaussian_maps_draw_it_back():
    maps = torch.zeros(2, 1, GRID, GRID)
    maps[0, 0, 5, 20] = 100.0  # row 5, column 20: y then x
    maps[1, 0, 31, 0] = 100.0
    points = SpatialSoftmax()(maps)
    grid = torch.linspace(-1, 1, GRID)
    expected = torch.tensor([[grid[20], grid[5]], [grid[0], grid[31]]])
    torch.testing.assert_close(points, expected, atol=1e-4, rtol=0)
    drawn = GaussianMaps(1)(points)
    assert drawn.shape == (2, 1, GRID, GRID)
    assert divmod(int(drawn[0, 0].argmax()), GRID) == (5, 20)
    assert divmod(int(drawn[1, 0].argmax()), GRID) == (31, 0)
    # A flat map has its expectation at the centre.
    torch.testing.assert_close(SpatialSoftmax()(torch.zeros(1, 3, GRID, GRID)), torch.zeros(1, 6))


def test_it_is_registered_and_its_latents_are_keypoint_positions():
    assert "keypoints" in BEHAVIOR_SPACES
    space = make_learned_space("keypoints", n_frames=2, config=CONFIG, seed=0)
    assert isinstance(space, KeypointSpace) and space.measures_surprise
    frames = np.random.default_rng(0).integers(0, 256, (5, 2, 64, 64, 3), dtype=np.uint8)
    latents = space.encode(frames)
    assert latents.shape == (5, 8) and np.all(np.abs(latents) <= 1)


def test_an_odd_latent_size_is_refused():
    odd = AutoencoderConfig(latent_size=5, threads=1, encoder="keypoints")
    with pytest.raises(ConfigError, match=r"^learned_space.latent_size: must be even"):
        make_learned_space("keypoints", n_frames=1, config=odd, seed=0)


def test_cli_refuses_an_odd_latent_size_before_writing(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text("learned_space:\n  encoder: keypoints\n  latent_size: 3\n")
    out = tmp_path / "r"
    code = main(["run", "--algo", "stax", "--config", str(path), "--out", str(out), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("serendip: error: learned_space.latent_size: ")
    assert not out.exists()


def test_it_keeps_more_of_a_moving_square_than_the_paper_space():
    """Same frames, same training: the square's position from 3 latent neighbours.

    One seed (0), not picked: over seeds 0-5 (same seed for weights and generator) the
    keypoints' error was 0.28, 0.16, 0.27, 0.21, 0.33, 0.16 of the paper's (paper's
    0.517-0.922, keypoints' 0.133-0.195), all well under the 0.5 asserted.
    """
    frames, positions = scene(400)
    config = AutoencoderConfig(latent_size=4, max_epochs=3, threads=1)
    errors = {}
    for name in ("paper", "keypoints"):
        space = make_learned_space(name, n_frames=1, config=config, seed=0)
        space.train(frames[:200], rng=np.random.default_rng(0))
        latents = space.encode(frames[200:])
        errors[name] = fidelity_error(latents, positions[200:], np.random.default_rng(0))
    assert errors["keypoints"] < 0.5 * errors["paper"], errors
