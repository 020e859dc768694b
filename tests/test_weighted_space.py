"""The foreground-weighted encoder: its error, determinism, state, surprise, inference paths."""

import numpy as np
import pytest
import torch

from serendip.behavior import BEHAVIOR_SPACES, make_learned_space
from serendip.behavior.learned import compiler_available, frames_to_tensor
from serendip.behavior.training import AutoencoderConfig
from serendip.behavior.weighted import FOREGROUND_LEVELS, WeightedSpace, balanced_errors

CONFIG = AutoencoderConfig(latent_size=4, max_epochs=2, threads=1, encoder="weighted")


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def scene(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(n, 1, 64, 64, 3)`` of a fixed textured background with a 6x6 white square."""
    rng = np.random.default_rng(seed)
    background = np.random.default_rng(100).integers(0, 120, (64, 64, 3), dtype=np.uint8)
    frames = np.repeat(background[None, None], n, axis=0).copy()
    for i, (y, x) in enumerate(rng.integers(0, 58, (n, 2))):
        frames[i, 0, y : y + 6, x : x + 6] = 255
    return frames, background


def tensor(images: np.ndarray) -> torch.Tensor:
    return frames_to_tensor(np.ascontiguousarray(images, dtype=np.uint8))


def test_the_balanced_error_gives_the_foreground_half_of_each_frame():
    background = np.full((64, 64, 3), 40, np.uint8)
    image = background.copy()
    image[10:12, 20:22] = 240  # 4 foreground pixels
    image[30, 30] = 40 + FOREGROUND_LEVELS  # within the threshold: background
    reconstruction = background.copy()  # draws the background and no object
    error = balanced_errors(
        tensor(reconstruction[None]), tensor(image[None]), tensor(background[None])
    )
    fg = (200 / 255) ** 2  # squared error on each foreground pixel (all channels)
    rest = (FOREGROUND_LEVELS / 255) ** 2 / (64 * 64 - 4)  # one pixel's error, averaged
    np.testing.assert_allclose(error.numpy(), [0.5 * fg + 0.5 * rest], rtol=1e-5)
    plain = ((image.astype(float) - reconstruction) / 255) ** 2
    assert error.item() > 400 * plain.mean()  # the plain mean hardly sees the object
    # No background (before the first training), or no foreground pixel: the plain mean.
    no_background = balanced_errors(tensor(reconstruction[None]), tensor(image[None]), None)
    np.testing.assert_allclose(no_background.numpy(), [plain.mean()], rtol=1e-5)
    still = balanced_errors(tensor(image[None]), tensor(background[None]), tensor(background[None]))
    np.testing.assert_allclose(still.numpy(), [plain.mean()], rtol=1e-5)


def test_it_is_registered_sees_the_frame_as_rendered_and_learns_the_background():
    assert "weighted" in BEHAVIOR_SPACES
    space = make_learned_space("weighted", n_frames=1, config=CONFIG, seed=0)
    assert isinstance(space, WeightedSpace) and space.measures_surprise
    frames, background = scene(300)
    space.train(frames, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(space.background, background)
    flat = frames[:, 0]
    assert space._prepare(flat) is flat  # the background is not removed


@pytest.mark.parametrize("n_frames", [1, 2])
def test_before_any_training_it_is_the_papers_space(n_frames):
    frames = np.random.default_rng(0).integers(0, 256, (5, n_frames, 64, 64, 3), dtype=np.uint8)
    paper = make_learned_space("paper", n_frames=n_frames, config=CONFIG, seed=0)
    weighted = make_learned_space("weighted", n_frames=n_frames, config=CONFIG, seed=0)
    latents, surprise = weighted.encode_with_surprise(frames)
    reference_latents, reference_surprise = paper.encode_with_surprise(frames)
    np.testing.assert_array_equal(latents, reference_latents)
    # The same mean over the frame's values, summed in another order.
    np.testing.assert_allclose(surprise, reference_surprise, rtol=1e-6)


def test_training_and_encoding_are_deterministic_and_surprise_is_the_balanced_error():
    frames, _ = scene(200)
    spaces = [WeightedSpace(n_frames=1, config=CONFIG, seed=3) for _ in range(2)]
    reports = [space.train(frames, rng=np.random.default_rng(1)) for space in spaces]
    assert reports[0].validation_losses == reports[1].validation_losses
    a, b = (space.encode(frames) for space in spaces)
    np.testing.assert_array_equal(a, b)
    space = spaces[0]
    latents, surprise = space.encode_with_surprise(frames)
    np.testing.assert_array_equal(latents, a)
    assert surprise.shape == (200,) and np.isfinite(surprise).all() and (surprise >= 0).all()
    with torch.inference_mode():
        images = tensor(frames[:, 0])
        expected = balanced_errors(space.autoencoder(images), images, space._background())
        paper_error = (space.autoencoder(images) - images).square().mean(dim=(1, 2, 3))
    np.testing.assert_allclose(surprise, expected.numpy(), rtol=1e-5)
    # Not the paper's plain error: the square is half of every frame's error.
    assert (surprise > 2 * paper_error.numpy()).all()


# The state round trip is checked with the other background spaces' (test_background_space).


@pytest.mark.skipif(not compiler_available(), reason="torch.compile needs a C++ compiler")
def test_the_compiled_path_gives_the_eager_descriptors_and_balanced_surprise():
    """Within the compiled path's stated tolerance (``tests/test_learned_space.py``)."""
    frames, _ = scene(60)
    eager = WeightedSpace(n_frames=1, config=CONFIG, seed=0)
    eager.train(frames, rng=np.random.default_rng(0))
    config = AutoencoderConfig(**{**CONFIG.__dict__, "inference": "compiled"})
    compiled = WeightedSpace(n_frames=1, config=config, seed=0)
    compiled.load_state_dict(*eager.state_dict())
    batch = frames[:10]
    latents, surprise = compiled.encode_with_surprise(batch)
    reference_latents, reference_surprise = eager.encode_with_surprise(batch)
    assert np.abs(latents - reference_latents).max() <= 1e-5
    assert np.abs(surprise - reference_surprise).max() <= 1e-5
