"""The learned behavior space: the TAXONS autoencoder, its training and its state."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from serendip.behavior.learned import (
    Autoencoder,
    AutoencoderConfig,
    LearnedSpace,
    compiler_available,
    frames_to_tensor,
    is_training_chunk,
    load_weights,
    training_chunks,
)
from serendip.errors import ConfigError
from serendip.experiment.config import RunConfig
from serendip.tasks import EvaluationBatch


def disc_frames(rng: np.random.Generator, n: int, s: int, radius: int = 8) -> np.ndarray:
    """White 64x64 frames with a black disc at a random position, ``(n, s, 64, 64, 3)`` uint8."""
    yy, xx = np.mgrid[0:64, 0:64]
    centers = rng.uniform(radius, 64 - radius, size=(n * s, 2))
    inside = (yy[None] - centers[:, 0, None, None]) ** 2 + (
        xx[None] - centers[:, 1, None, None]
    ) ** 2 < radius**2
    frames = np.where(inside[..., None], 0, 255).astype(np.uint8)
    return np.broadcast_to(frames, (n * s, 64, 64, 3)).reshape(n, s, 64, 64, 3).copy()


def small_config(**overrides) -> AutoencoderConfig:
    settings = {"max_epochs": 3, "patience": 2, "threads": 1}
    settings.update(overrides)
    return AutoencoderConfig(**settings)


def weights(space: LearnedSpace) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in space.autoencoder.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(autouse=True, scope="module")
def _restore_torch_threads():
    """The spaces here set torch to one thread (process-wide); give other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return disc_frames(np.random.default_rng(0), 100, 2)


# --- architecture ---------------------------------------------------------------------


def test_architecture_matches_the_paper() -> None:
    model = Autoencoder(10)
    convs = [m for m in model.encoder if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 32),
        (32, 64),
        (64, 32),
        (32, 16),
    ]
    deconvs = [m for m in model.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in deconvs] == [
        (16, 32),
        (32, 64),
        (64, 32),
        (32, 3),
    ]
    for layer in convs + deconvs:
        assert (layer.kernel_size, layer.stride, layer.padding) == ((4, 4), (2, 2), (1, 1))
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(256, 10), (10, 256)]
    # SELU after every encoder layer, the latent included; ReLU only at the output.
    assert isinstance(model.encoder[-1], nn.SELU)
    assert sum(isinstance(m, nn.SELU) for m in model.encoder) == 5
    assert sum(isinstance(m, nn.SELU) for m in model.decoder) == 4
    assert isinstance(model.decoder[-1], nn.ReLU)

    images = torch.rand(5, 3, 64, 64)
    with torch.inference_mode():
        sizes = []
        x = images
        for layer in model.encoder:
            x = layer(x)
            if isinstance(layer, nn.Conv2d):
                sizes.append(x.shape[-1])
        assert sizes == [32, 16, 8, 4]
        assert model.encode(images).shape == (5, 10)
        reconstruction = model(images)
    assert reconstruction.shape == (5, 3, 64, 64)
    assert (reconstruction >= 0).all()


def test_descriptor_shapes_and_frames_tensor(frames: np.ndarray) -> None:
    space = LearnedSpace(n_frames=2, config=small_config(), seed=0)
    assert space.needs_frames
    assert space.descriptor_size == 20
    descriptors, surprise = space.encode_with_surprise(frames[:7])
    assert descriptors.shape == (7, 20) and descriptors.dtype == np.float64
    assert surprise.shape == (7,) and (surprise >= 0).all()
    assert space.encode(frames[:0]).shape == (0, 20)

    images = frames_to_tensor(frames[:3, 0])
    assert images.shape == (3, 3, 64, 64) and images.dtype == torch.float32
    assert images.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(images[1, 2], torch.from_numpy(frames[1, 0, :, :, 2] / 255.0).float())


def test_describe_equals_encode_and_validation(frames: np.ndarray) -> None:
    space = LearnedSpace(n_frames=2, config=small_config(), seed=0)
    batch = EvaluationBatch(
        rewards=np.zeros(len(frames)),
        reward_areas=np.full(len(frames), -1),
        descriptors=np.zeros((len(frames), 2)),
        frames=frames,
        final_observations=np.zeros((len(frames), 1)),
    )
    encoded = space.encode(frames)
    assert np.array_equal(space.describe(batch), encoded)
    # The encoder-only path and the full forward give the same latents.
    assert np.array_equal(space.encode_with_surprise(frames)[0], encoded)
    # Latents are the concatenation of each frame's latent. The two calls chunk the
    # frames differently; on AVX-512 CPUs oneDNN's convolutions round the last bit
    # differently for different batch sizes (measured: 3e-8 on latents of order 0.3),
    # so across chunkings the latents agree to float32 rounding, not bit for bit.
    single = LearnedSpace(n_frames=1, config=small_config(), seed=0)
    np.testing.assert_allclose(encoded[:, 10:], single.encode(frames[:, 1:]), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="n_frames"):
        LearnedSpace(n_frames=0, config=small_config(), seed=0)
    with pytest.raises(ValueError, match="shape"):
        space.encode(frames[:, :1])
    with pytest.raises(ValueError, match="uint8"):
        space.encode(frames.astype(np.float32))
    with pytest.raises(ValueError, match="validation_fraction"):
        AutoencoderConfig(validation_fraction=1.0)


# --- schedule ---------------------------------------------------------------------------


def test_training_schedule() -> None:
    assert training_chunks(25) == [1, 3, 6, 10, 15, 21]
    assert training_chunks(0) == []
    scheduled = set(training_chunks(500))
    assert [c for c in range(1, 501) if is_training_chunk(c)] == sorted(scheduled)
    assert not is_training_chunk(0)


# --- surprise ---------------------------------------------------------------------------


def test_surprise_is_the_sum_of_per_frame_mean_squared_errors(frames: np.ndarray) -> None:
    space = LearnedSpace(n_frames=2, config=small_config(), seed=1)
    subset = frames[:5]
    expected = np.zeros(5)
    with torch.no_grad():
        for i in range(5):
            for j in range(2):
                x = torch.from_numpy(subset[i, j].astype(np.float32) / 255.0).permute(2, 0, 1)
                reconstruction = space.autoencoder(x[None])[0]
                expected[i] += float(((reconstruction - x) ** 2).mean())
    np.testing.assert_allclose(space.surprise(subset), expected, rtol=1e-5)


# --- training ---------------------------------------------------------------------------


def test_training_reduces_the_validation_loss() -> None:
    data = disc_frames(np.random.default_rng(1), 200, 1)
    space = LearnedSpace(n_frames=1, config=small_config(max_epochs=4, patience=4), seed=0)
    before = space.surprise(data).mean()
    report = space.train(data, np.random.default_rng(2))
    assert report.training == space.trainings == 1 and space.reports == [report]
    assert report.frames_used == 200 and report.epochs_run == 4
    assert len(report.train_losses) == len(report.validation_losses) == 4
    assert report.best_validation_loss < report.validation_losses[0]
    assert space.surprise(data).mean() < 0.5 * before


def test_training_subsamples_at_most_max_training_frames(frames: np.ndarray) -> None:
    space = LearnedSpace(
        n_frames=2, config=small_config(max_epochs=1, max_training_frames=50), seed=0
    )
    assert space.train(frames, np.random.default_rng(0)).frames_used == 50


def test_early_stopping_restores_the_best_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    data = disc_frames(np.random.default_rng(3), 100, 1)
    config = small_config(max_epochs=30, patience=3, batch_size=32)
    space = LearnedSpace(n_frames=1, config=config, seed=0)
    snapshots: list[dict[str, torch.Tensor]] = []
    validation_sets: list[np.ndarray] = []
    original = space._validation_loss
    noise = torch.Generator().manual_seed(0)

    def spoiled_validation_loss(validation: np.ndarray) -> float:
        # From the third epoch on, wreck the weights after each epoch's updates so the
        # validation loss gets worse than the best one.
        if len(snapshots) >= 2:
            with torch.no_grad():
                for parameter in space.autoencoder.parameters():
                    parameter.add_(torch.randn(parameter.shape, generator=noise))
        snapshots.append(weights(space))
        validation_sets.append(validation)
        return original(validation)

    monkeypatch.setattr(space, "_validation_loss", spoiled_validation_loss)
    report = space.train(data, np.random.default_rng(4))

    losses = report.validation_losses
    assert report.best_epoch <= 1
    assert report.best_epoch == int(np.argmin(losses))
    assert report.epochs_run == report.best_epoch + config.patience + 1 < config.max_epochs
    assert same_weights(weights(space), snapshots[report.best_epoch])
    assert not same_weights(weights(space), snapshots[-1])
    assert space._forward(validation_sets[0])[1].mean() == pytest.approx(min(losses), rel=1e-12)
    # Adam's state is restored with the weights: its step count is the best epoch's.
    steps_per_epoch = int(np.ceil(80 / config.batch_size))
    state = space.optimizer.state_dict()["state"]
    assert all(int(s["step"]) == (report.best_epoch + 1) * steps_per_epoch for s in state.values())


def test_reinitialise_forgets_previous_weights(frames: np.ndarray) -> None:
    config = small_config(max_epochs=1, reinitialise=True, max_training_frames=64)
    a = LearnedSpace(n_frames=2, config=config, seed=0)
    b = LearnedSpace(n_frames=2, config=config, seed=0)
    with torch.no_grad():
        for parameter in b.autoencoder.parameters():
            parameter.mul_(2.0)
    a.train(frames, np.random.default_rng(0))
    b.train(frames, np.random.default_rng(0))
    assert same_weights(weights(a), weights(b))


# --- determinism and state ------------------------------------------------------------


def test_training_is_deterministic(frames: np.ndarray) -> None:
    config = small_config(max_epochs=2, max_training_frames=96)
    torch_state = torch.random.get_rng_state()
    spaces = [LearnedSpace(n_frames=2, config=config, seed=s) for s in (5, 5, 6)]
    assert torch.equal(torch.random.get_rng_state(), torch_state)  # no global RNG leak
    for space in spaces:
        space.train(frames, np.random.default_rng(7))
    same, also_same, other = spaces
    assert same_weights(weights(same), weights(also_same))
    assert np.array_equal(same.encode(frames), also_same.encode(frames))
    assert np.array_equal(same.surprise(frames), also_same.surprise(frames))
    assert same.reports[0].validation_losses == also_same.reports[0].validation_losses
    assert not same_weights(weights(same), weights(other))
    assert not np.array_equal(same.encode(frames), other.encode(frames))


def test_state_arrays_round_trip_continues_identically(frames: np.ndarray, tmp_path) -> None:
    config = small_config(max_epochs=2, max_training_frames=96)
    original = LearnedSpace(n_frames=2, config=config, seed=0)
    rng = np.random.default_rng(8)
    original.train(frames, rng)

    # Through an .npz without pickle, as a checkpoint would store it.
    np.savez(tmp_path / "state.npz", **original.state_arrays())
    with np.load(tmp_path / "state.npz", allow_pickle=False) as stored:
        arrays = dict(stored)
    assert any(k.startswith("optimizer.") for k in arrays)
    assert any(k.startswith("autoencoder.") for k in arrays)
    restored = LearnedSpace(n_frames=2, config=config, seed=99)
    restored.load_state_arrays(arrays)
    assert restored.trainings == 1 and restored.reports == original.reports
    assert np.array_equal(restored.encode(frames), original.encode(frames))

    resumed_rng = copy.deepcopy(rng)
    original.train(frames, rng)
    restored.train(frames, resumed_rng)
    assert same_weights(weights(original), weights(restored))
    assert restored.reports[1].validation_losses == original.reports[1].validation_losses
    assert restored.trainings == 2


def test_safetensors_weights_round_trip(
    frames: np.ndarray, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = LearnedSpace(n_frames=2, config=small_config(), seed=2)
    path = tmp_path / "autoencoder.safetensors"
    space.save_weights(path)

    def no_pickle(*args, **kwargs):
        raise AssertionError("loading weights must not unpickle")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(torch, "load", no_pickle)
    loaded = load_weights(path)
    monkeypatch.undo()
    assert same_weights(loaded, weights(space))

    other = LearnedSpace(n_frames=2, config=small_config(), seed=3)
    assert not np.array_equal(other.encode(frames), space.encode(frames))
    other.autoencoder.load_state_dict(loaded)
    assert np.array_equal(other.encode(frames), space.encode(frames))


def test_min_improvement_restarts_patience_only_on_a_real_gain() -> None:
    data = disc_frames(np.random.default_rng(5), 120, 1)
    # Every epoch improves (training on discs), but never by 90 %: the first epoch sets
    # the reference, and training stops `patience` epochs later.
    strict = small_config(max_epochs=20, patience=2, min_improvement=0.9)
    report = LearnedSpace(n_frames=1, config=strict, seed=0).train(data, np.random.default_rng(6))
    assert report.epochs_run == 1 + strict.patience
    # The weights kept are still the best validation epoch, not the reference one.
    assert report.best_epoch == int(np.argmin(report.validation_losses))
    # With no margin (the paper's rule) the same data trains longer.
    paper = small_config(max_epochs=20, patience=2, min_improvement=0.0)
    longer = LearnedSpace(n_frames=1, config=paper, seed=0).train(data, np.random.default_rng(6))
    assert longer.epochs_run > report.epochs_run
    with pytest.raises(ValueError, match="min_improvement"):
        AutoencoderConfig(min_improvement=1.0)


# --- threads ----------------------------------------------------------------------------


@pytest.mark.parametrize("task_name", ["maze", "curling"])
def test_a_parallel_task_batch_leaves_the_torch_thread_count_alone(task_name: str) -> None:
    """The maze and curling kernels run on numba threads; torch keeps its one thread.

    numba's OpenMP layer would share torch's libgomp and switch torch to numba's
    thread count after the first batch (a silently 2-threaded autoencoder).
    """
    from serendip.tasks import make_task

    space = LearnedSpace(n_frames=2, config=small_config(), seed=0)
    task = make_task(task_name, n_frames=2)
    genomes = np.random.default_rng(1).standard_normal((3, task.spec.genome_size))
    batch = task.evaluate(genomes)
    assert torch.get_num_threads() == 1
    assert space.encode(batch.frames).shape == (3, 20)


def test_encoding_reapplies_the_configured_thread_count(frames: np.ndarray) -> None:
    """Another OpenMP user changing torch's thread count does not change descriptors."""
    space = LearnedSpace(n_frames=2, config=small_config(), seed=0)
    alone = space.encode(frames)
    torch.set_num_threads(2)
    assert np.array_equal(space.encode(frames), alone)
    assert torch.get_num_threads() == 1


# --- inference paths ------------------------------------------------------------------

COMPILED_TOLERANCE = 1e-5
"""Largest difference allowed between the compiled and the eager path's outputs.

Both compute the same network in float32; only the rounding of fused operations
differs (measured on the arm and on disc frames: at most about 5e-7 on latents and
reconstruction errors of order 0.01-1). 1e-5 is twenty times that and still far
below any distance novelty search acts on.
"""


@pytest.mark.skipif(not compiler_available(), reason="torch.compile needs a C++ compiler")
def test_compiled_inference_computes_the_eager_network(frames: np.ndarray) -> None:
    """The compiled path gives the eager path's descriptors and surprise, deterministically."""
    eager = LearnedSpace(n_frames=2, config=small_config(), seed=0)
    eager.train(frames[:40], np.random.default_rng(0))
    compiled = LearnedSpace(n_frames=2, config=small_config(inference="compiled"), seed=0)
    compiled.load_state_arrays(eager.state_arrays())
    batch = frames[:5]  # 10 frames: padded to a bucket of 16
    latents, surprise = compiled.encode_with_surprise(batch)
    reference_latents, reference_surprise = eager.encode_with_surprise(batch)
    assert np.abs(latents - reference_latents).max() <= COMPILED_TOLERANCE
    assert np.abs(surprise - reference_surprise).max() <= COMPILED_TOLERANCE
    assert np.abs(compiled.encode(batch) - eager.encode(batch)).max() <= COMPILED_TOLERANCE
    again = compiled.encode_with_surprise(batch)
    assert np.array_equal(again[0], latents) and np.array_equal(again[1], surprise)
    assert np.array_equal(compiled.encode(batch), latents)  # the encoder-only graph agrees
    # A training updates the weights in place: the compiled graph reads the new ones.
    eager.train(frames[40:80], np.random.default_rng(1))
    compiled.load_state_arrays(eager.state_arrays())
    assert np.abs(compiled.encode(batch) - eager.encode(batch)).max() <= COMPILED_TOLERANCE
    assert not np.allclose(compiled.encode(batch), latents)


def test_compiled_inference_without_a_compiler_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ConfigError, match=r"learned_space\.inference: compiled needs a C"):
        LearnedSpace(n_frames=2, config=small_config(inference="compiled"), seed=0)


def test_unknown_inference_path_is_refused() -> None:
    with pytest.raises(ValueError, match="inference must be one of eager, compiled"):
        small_config(inference="fast")
    with pytest.raises(ConfigError, match=r"learned_space\.inference: must be one of"):
        RunConfig.from_dict({"algorithm": "stax", "learned_space": {"inference": "fast"}})


# --- the eager path's layout and threads ----------------------------------------------


def test_the_decoder_runs_channels_last_and_computes_what_unflatten_does(
    frames: np.ndarray,
) -> None:
    """The decoder's layout change alters no bit of the outputs nor the state-dict keys."""
    from serendip.behavior.learned import _BOTTLENECK, UnflattenChannelsLast

    model = Autoencoder(10).to(memory_format=torch.channels_last)
    assert isinstance(model.decoder[2], UnflattenChannelsLast)
    reference = copy.deepcopy(model)
    reference.decoder[2] = nn.Unflatten(1, _BOTTLENECK)
    assert model.state_dict().keys() == reference.state_dict().keys()
    images = frames_to_tensor(frames[:20].reshape(-1, 64, 64, 3))
    with torch.inference_mode():
        latents = model.encode(images)
        unflattened = model.decoder[2](model.decoder[1](model.decoder[0](latents)))
        assert unflattened.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(model(images), reference(images))
    # Training's gradients are the same too (so are the regression digests).
    for net in (model, reference):
        nn.functional.mse_loss(net(images), images).backward()
    for (name, a), b in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert torch.equal(a.grad, b.grad), name


def test_a_kind_of_call_whose_bits_depend_on_threads_keeps_the_configured_count(
    frames: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a machine whose kernels are not thread-invariant, runs stay deterministic."""
    space = LearnedSpace(n_frames=2, config=small_config(threads=2), seed=0)
    reference = space.encode(frames[:6])
    chunk = LearnedSpace._chunk

    def thread_dependent(self, images, surprise, compiled):  # type: ignore[no-untyped-def]
        z, error = chunk(self, images, surprise, compiled)
        return (z + 1e-3 if torch.get_num_threads() == 1 else z), error

    monkeypatch.setattr(LearnedSpace, "_chunk", thread_dependent)
    fresh = LearnedSpace(n_frames=2, config=small_config(threads=2), seed=0)
    for _ in range(30):
        assert np.array_equal(fresh.encode(frames[:6]), reference)
    chooser = fresh._inference_threads
    assert chooser is not None and chooser.choose((12, False)) == 2


def test_inference_gives_the_same_bits_on_one_thread_or_two(
    frames: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the thread count of an inference call may follow its timings."""
    from serendip.behavior.threads import InferenceThreads

    space = LearnedSpace(n_frames=2, config=small_config(threads=2), seed=0)
    for n in (1, 2, 6, 33, 70):  # 2 to 140 frames: one chunk, a full one and a remainder
        batch = np.concatenate([frames, frames])[:n]
        results = {}
        for threads in (1, 2):
            monkeypatch.setattr(InferenceThreads, "choose", lambda self, kind, t=threads: t)
            monkeypatch.setattr(InferenceThreads, "unchecked", lambda self, kind: False)
            results[threads] = (space.encode(batch), *space.encode_with_surprise(batch))
            assert torch.get_num_threads() == 2  # the space's own count, restored
        for a, b in zip(results[1], results[2], strict=True):
            assert np.array_equal(a, b), n


def test_inference_threads_keep_the_faster_count_and_try_the_other_now_and_then() -> None:
    from serendip.behavior.threads import InferenceThreads

    chooser = InferenceThreads(2, window=3, warmup=2, explore_every=5)
    assert chooser.unchecked("emitter") and chooser.choose("emitter") == 2
    chooser.checked("emitter", True)
    assert not chooser.unchecked("emitter")
    cost = {2: 0.010, 1: 0.002}  # two threads stalled by a busy machine
    picks = []
    for _ in range(40):
        threads = chooser.choose("emitter")
        picks.append(threads)
        chooser.record("emitter", threads, cost[threads])
    assert picks[:4] == [2, 2, 1, 1]  # each count tried `warmup` times, all threads first
    later = picks[4:]
    assert later.count(2) == len(later) // 5  # every fifth call tries two threads again
    assert all(p == 1 for i, p in enumerate(later, start=1) if i % 5)
    # The machine frees up: two threads become faster and take over within a window.
    cost = {2: 0.001, 1: 0.002}
    for _ in range(40):
        threads = chooser.choose("emitter")
        chooser.record("emitter", threads, cost[threads])
    assert [chooser.choose("emitter") for _ in range(3)].count(2) >= 2
    # Kinds of call are checked and timed apart; one whose bits differ keeps 2 threads.
    chooser.checked("decoder", False)
    for _ in range(10):
        assert chooser.choose("decoder") == 2
        chooser.record("decoder", 2, 1.0)
    assert chooser.choose("exploration") == 2
    # With one thread there is nothing to choose or check.
    assert InferenceThreads(1).choose("any") == 1 and not InferenceThreads(1).unchecked("any")
    fixed = InferenceThreads(2, adaptive=False)
    assert fixed.counts == (2,) and fixed.choose("any") == 2 and not fixed.unchecked("any")
    with pytest.raises(ValueError, match="most must be >= 1"):
        InferenceThreads(0)


def test_frames_become_the_same_floats_as_torchs_division_on_every_level() -> None:
    levels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)
    images = frames_to_tensor(levels)
    reference = torch.from_numpy(levels).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    assert torch.equal(images, reference)
    assert images.is_contiguous(memory_format=torch.channels_last)
    read_only = levels.copy()
    read_only.flags.writeable = False  # frames from a memory-mapped archive
    assert torch.equal(frames_to_tensor(read_only), reference)
