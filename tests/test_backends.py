"""Evaluation backends: every backend evaluates a batch exactly as in process, and a
whole run gives the same evaluation log on every backend; dead workers and dead Ray
actors have their share evaluated again."""

import itertools
import os
import pickle

import numpy as np
import pytest

import serendip
from serendip.evaluation import shares
from serendip.evaluation.processes import ProcessPool
from serendip.experiment.config import ConfigError, RunConfig
from serendip.tasks import EvaluationBatch, TaskError, make_task
from serendip.tasks.point import PointTask

FIELDS = ("rewards", "reward_areas", "descriptors", "frames", "final_observations")


def random_genomes(task, n, seed=0):
    # Wide genomes so that some episodes reach reward areas.
    return np.random.default_rng(seed).uniform(-5, 5, (n, task.genome_size))


def assert_same(batch: EvaluationBatch, expected: EvaluationBatch) -> None:
    for name in FIELDS:
        assert np.array_equal(getattr(batch, name), getattr(expected, name)), name
    assert batch.extras.keys() == expected.extras.keys()
    for key, values in expected.extras.items():
        assert np.array_equal(batch.extras[key], values), key


def batches(task):
    """(genomes, episode seeds): a generation, an odd emitter-sized batch, a single genome."""
    out = []
    for n, offset in ((200, 0), (7, 200), (1, 207)):
        out.append((random_genomes(task, n, seed=n), 5 * 2**32 + offset + np.arange(n)))
    return out


def test_shares_are_contiguous_ordered_and_cover_the_batch():
    for n in (0, 1, 5, 6, 200, 201):
        for parts in (1, 2, 3, 16):
            cut = shares(n, parts)
            assert len(cut) == max(1, min(parts, n))
            assert cut[0].start == 0 and cut[-1].stop == n
            assert all(a.stop == b.start for a, b in itertools.pairwise(cut))
            sizes = [s.stop - s.start for s in cut]
            assert max(sizes) - min(sizes) <= 1


def test_concatenated_shares_equal_the_whole_batch():
    task = make_task("arm-distractors", n_frames=2)  # per-episode randomness from the seeds
    genomes, seeds = batches(task)[0]
    whole = task.evaluate(genomes, episode_seeds=seeds)
    parts = [task.evaluate(genomes[s], episode_seeds=seeds[s]) for s in shares(200, 3)]
    assert_same(EvaluationBatch.concat(parts), whole)


@pytest.mark.parametrize("name", ["arm", "arm-distractors", "curling", "maze", "point", "ant-maze"])
def test_every_task_travels_to_a_worker_without_module_references(name):
    """Plain pickle refuses module objects: a worker re-imports what a task needs
    (the ant maze's ``mujoco.batch`` would be missing in a fresh process otherwise)."""
    if name == "ant-maze":
        pytest.importorskip("mujoco")
    task = make_task(name, n_frames=1)
    copy = pickle.loads(pickle.dumps(task))
    genomes, seeds = random_genomes(task, 3), np.arange(3) + 9
    assert_same(
        copy.evaluate(genomes, episode_seeds=seeds), task.evaluate(genomes, episode_seeds=seeds)
    )


def test_backend_options_are_validated():
    config = RunConfig.from_dict(
        {"backend": "ray", "evaluation": {"workers": 3, "ray_address": "10.0.0.5:6379"}}
    )
    assert config.evaluation.workers == 3 and config.evaluation.ray_address == "10.0.0.5:6379"
    assert RunConfig.from_dict({"evaluation": {"ray_address": "auto"}}).evaluation.ray_address
    for values, field, accepted in (
        ({"backend": "dask"}, "backend", "inprocess, processes, ray"),
        ({"evaluation": {"workers": 0}}, "evaluation.workers", "integer in [1, 1024]"),
        ({"evaluation": {"ray_address": "my cluster"}}, "evaluation.ray_address", "host:port"),
        ({"evaluation": {"nodes": 2}}, "evaluation.nodes", "workers, ray_address"),
    ):
        with pytest.raises(ConfigError) as error:
            RunConfig.from_dict(values)
        assert str(error.value).startswith(f"{field}: ") and accepted in str(error.value)


# --- processes ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["point", "arm"])
def test_process_pool_equals_in_process(name):
    task = make_task(name, n_frames=2)
    with ProcessPool(task, workers=2) as pool:
        for genomes, seeds in batches(task):
            assert_same(
                pool.evaluate(genomes, episode_seeds=seeds),
                task.evaluate(genomes, episode_seeds=seeds),
            )
        if name == "point":
            # A worker killed between batches: a fresh one takes its share.
            pool._processes[0].kill()
            pool._processes[0].join()
            genomes, seeds = batches(task)[0]
            assert_same(
                pool.evaluate(genomes, episode_seeds=seeds),
                task.evaluate(genomes, episode_seeds=seeds),
            )
            assert pool.restarts == 1


class FailingTask(PointTask):
    """A task whose episodes fail (shipped to the workers by reference to this module)."""

    def evaluate(self, genomes, *, episode_seeds=None):
        raise TaskError("the environment exploded")


def test_a_task_error_in_a_worker_reaches_the_run():
    task = FailingTask()
    with ProcessPool(task, workers=1) as pool:
        with pytest.raises(TaskError, match="exploded"):
            pool.evaluate(random_genomes(task, 4), episode_seeds=np.arange(4))
        # The worker is still in step: the next batch gets its own answer.
        with pytest.raises(TaskError, match="exploded"):
            pool.evaluate(random_genomes(task, 2), episode_seeds=np.arange(2))


def test_a_gym_task_built_from_a_factory_is_shipped_to_the_workers():
    gymnasium = pytest.importorskip("gymnasium")
    task = serendip.GymTask(
        lambda render_mode=None: gymnasium.make("CartPole-v1", render_mode=render_mode),
        reward_threshold=50.0,
        name="cartpole",
        horizon=100,
    )
    genomes, seeds = random_genomes(task, 6), np.arange(6) + 11
    expected = task.evaluate(genomes, episode_seeds=seeds)
    with ProcessPool(task, workers=2) as pool:
        assert_same(pool.evaluate(genomes, episode_seeds=seeds), expected)
    task.close()


# --- whole runs -----------------------------------------------------------------------


def point_run(tmp_path, backend):
    config = RunConfig.from_dict(
        {
            "task": "point",
            "algorithm": "serene",  # exploration generations and small emitter batches
            "budget": 2000,
            "seed": 2,
            "exploitation": {"chunk_size": 300},
            "backend": backend,
            "evaluation": {"workers": 2},
            "out": str(tmp_path / backend),
        }
    )
    result = serendip.run(config, progress=False)
    return serendip.load_run(result.path).evaluations, result.summary


@pytest.fixture(scope="module")
def inprocess_run(tmp_path_factory):
    return point_run(tmp_path_factory.mktemp("runs"), "inprocess")


def test_a_run_on_the_process_backend_equals_the_in_process_run(tmp_path, inprocess_run):
    evaluations, summary = point_run(tmp_path, "processes")
    assert evaluations.equals(inprocess_run[0])
    assert summary["reward_areas_found"] == inprocess_run[1]["reward_areas_found"]


# --- Ray --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster on loopback for this module, shut down after it."""
    pytest.importorskip("ray")
    import ray

    from serendip.evaluation.ray_actors import connect

    if ray.is_initialized():  # pragma: no cover - another module left one running
        ray.shutdown()
    connect(None, num_cpus=2)
    assert ray._private.worker._global_node.node_ip_address == "127.0.0.1"
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("name", ["point", "arm"])
def test_ray_actors_equal_in_process(ray_cluster, name):
    from serendip.evaluation.ray_actors import RayActors

    task = make_task(name, n_frames=2)
    with RayActors(task, workers=2) as actors:
        for genomes, seeds in batches(task):
            assert_same(
                actors.evaluate(genomes, episode_seeds=seeds),
                task.evaluate(genomes, episode_seeds=seeds),
            )
    assert ray_cluster.is_initialized()  # the backend leaves a cluster it did not start


def test_an_actor_dying_mid_batch_has_its_share_evaluated_again(ray_cluster, tmp_path):
    from serendip.evaluation.ray_actors import RayActors, TaskWorker

    flag = str(tmp_path / "died")

    class DiesOnce(TaskWorker):
        """The first actor to get a share exits its process without answering."""

        def evaluate(self, genomes, episode_seeds):
            try:
                os.close(os.open(flag, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return super().evaluate(genomes, episode_seeds)
            os._exit(1)

    task = make_task("point", n_frames=2)
    genomes, seeds = batches(task)[0]
    expected = task.evaluate(genomes, episode_seeds=seeds)
    with RayActors(task, workers=2, worker_class=DiesOnce) as actors:
        assert_same(actors.evaluate(genomes, episode_seeds=seeds), expected)
        assert actors.replacements == 1
        # The replacement serves the next batches like any actor.
        assert_same(actors.evaluate(genomes, episode_seeds=seeds), expected)


def test_a_run_on_ray_equals_the_in_process_run(ray_cluster, tmp_path, inprocess_run):
    evaluations, _ = point_run(tmp_path, "ray")
    assert evaluations.equals(inprocess_run[0])


def test_a_sweep_runs_its_runs_as_ray_tasks(ray_cluster, tmp_path):
    from serendip.experiment.sweep import Sweep, run_sweep

    values = {"task": "point", "algorithm": "ns", "budget": 1000}
    sweep = Sweep.from_dict(
        {
            "out": str(tmp_path / "sweep"),
            "tasks": [values["task"]],
            "algorithms": [values["algorithm"]],
            "seeds": [0, 1],
            "budget": values["budget"],
            "backend": "ray",
            "jobs": 2,
        }
    )
    assert [outcome.status for outcome in run_sweep(sweep)] == ["done", "done"]
    assert ray_cluster.is_initialized()  # the sweep leaves a cluster it did not start
    alone = serendip.run(
        RunConfig.from_dict({**values, "seed": 1, "out": str(tmp_path / "alone")}), progress=False
    )
    expected = serendip.load_run(alone.path).evaluations
    assert serendip.load_run(tmp_path / "sweep" / "point-ns-seed1").evaluations.equals(expected)
