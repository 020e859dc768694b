"""The background-removing encoder: what it learns, determinism, state, surprise."""

import numpy as np
import pytest

from serendip.behavior import BEHAVIOR_SPACES, make_learned_space
from serendip.behavior.background import BackgroundSpace
from serendip.behavior.keypoints import KeypointSpace
from serendip.behavior.training import AutoencoderConfig
from serendip.behavior.weighted import WeightedSpace

CONFIG = AutoencoderConfig(latent_size=4, max_epochs=2, threads=1, encoder="background")


def scene(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Frames of a fixed textured background with a small bright square at random places."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 120, (64, 64, 3), dtype=np.uint8)
    frames = np.repeat(background[None, None], n, axis=0).copy()
    corners = rng.integers(0, 58, (n, 2))
    for i, (x, y) in enumerate(corners):
        frames[i, 0, x : x + 6, y : y + 6] = 255
    return frames, background


def test_it_is_registered_and_learns_the_static_background():
    assert "background" in BEHAVIOR_SPACES
    space = make_learned_space("background", n_frames=1, config=CONFIG, seed=0)
    assert isinstance(space, BackgroundSpace) and space.measures_surprise
    frames, background = scene(300)
    space.train(frames, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(space.background, background)
    # What the network sees: only the moving square differs from black.
    seen = space._prepare(frames[:, 0])
    assert (seen.reshape(len(seen), -1) > 0).sum(axis=1).max() <= 6 * 6 * 3


# keypoints and weighted are background spaces with another network or loss: the
# same checks hold.
SPACES = pytest.mark.parametrize("space_class", [BackgroundSpace, KeypointSpace, WeightedSpace])


@SPACES
def test_encoding_is_deterministic_and_surprise_is_defined(space_class):
    frames, _ = scene(200)
    spaces = [space_class(n_frames=1, config=CONFIG, seed=3) for _ in range(2)]
    for space in spaces:
        space.train(frames, rng=np.random.default_rng(1))
    a, b = (s.encode(frames) for s in spaces)
    np.testing.assert_array_equal(a, b)
    latents, surprise = spaces[0].encode_with_surprise(frames)
    np.testing.assert_array_equal(latents, a)
    assert surprise.shape == (200,) and np.isfinite(surprise).all() and (surprise >= 0).all()


@SPACES
def test_state_round_trip_keeps_the_background_and_continues_identically(space_class):
    frames, _ = scene(200)
    original = space_class(n_frames=1, config=CONFIG, seed=0)
    untrained_state = original.state_dict()
    original.train(frames, rng=np.random.default_rng(0))
    arrays, data = original.state_dict()
    assert not any("grid" in name for name in arrays)  # fixed coordinates are not state
    restored = space_class(n_frames=1, config=CONFIG, seed=0)
    restored.load_state_dict(arrays, data)
    np.testing.assert_array_equal(restored.background, original.background)
    np.testing.assert_array_equal(restored.encode(frames), original.encode(frames))
    np.testing.assert_array_equal(restored.surprise(frames), original.surprise(frames))
    more, _ = scene(200, seed=1)
    original.train(more, rng=np.random.default_rng(5))
    restored.train(more, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(restored.encode(more), original.encode(more))
    np.testing.assert_array_equal(restored.surprise(more), original.surprise(more))
    fresh = space_class(n_frames=1, config=CONFIG, seed=0)
    fresh.load_state_dict(*untrained_state)
    assert fresh.background is None


@pytest.mark.parametrize("n_frames", [1, 2])
def test_before_any_training_frames_go_in_unchanged(n_frames):
    frames = np.random.default_rng(0).integers(0, 256, (5, n_frames, 64, 64, 3), dtype=np.uint8)
    paper = make_learned_space("paper", n_frames=n_frames, config=CONFIG, seed=0)
    background = make_learned_space("background", n_frames=n_frames, config=CONFIG, seed=0)
    np.testing.assert_array_equal(paper.encode(frames), background.encode(frames))


def test_the_difference_image_is_the_absolute_difference():
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (50, 1, 64, 64, 3), dtype=np.uint8)
    space = BackgroundSpace(n_frames=1, config=CONFIG, seed=0)
    space.background = rng.integers(0, 256, (64, 64, 3)).astype(np.int16)
    expected = np.abs(frames[:, 0].astype(np.int16) - space.background).astype(np.uint8)
    np.testing.assert_array_equal(space._prepare(frames[:, 0]), expected)
