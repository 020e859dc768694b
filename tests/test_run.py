"""End-to-end runs through the Python API: the run directory, read back, and determinism."""

import json

import numpy as np
import pandas as pd
import pytest

import serendip
from run_checks import assert_same_frame
from serendip.metrics import metric_curves, summary_metrics
from serendip.tasks import task_spec

SUMMARY_KEYS = {
    "task",
    "algorithm",
    "seed",
    "budget",
    "evaluations",
    "coverage",
    "uniformity",
    "reward_areas_found",
    "reward_areas_total",
    "best_reward_per_area",
    "evaluations_to_first_reward",
    "wall_seconds",
}


@pytest.fixture(scope="module")
def ns_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ns"
    config = serendip.RunConfig.from_dict(
        {
            "task": "arm",
            "algorithm": "ns",
            "budget": 3050,
            "seed": 11,
            "out": str(out),
            "metrics_every": 500,
        }
    )
    return serendip.run(config, progress=False)


def test_run_directory_contents(ns_run):
    path = ns_run.path
    for name in (
        "config.yaml",
        "summary.json",
        "metrics.parquet",
        "evaluations.parquet",
        "archives/population.parquet",
        "archives/novelty_archive.parquet",
        "archives/reward_archive.parquet",
        "checkpoint/state-000003050.npz",
        "checkpoint/state-000003050.json",
    ):
        assert (path / name).exists(), name
    summary = json.loads((path / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["evaluations"] == summary["budget"] == 3050
    assert summary["reward_areas_total"] == 3


def test_evaluation_log_has_one_row_per_evaluation(ns_run):
    log = pd.read_parquet(ns_run.path / "evaluations.parquet")  # readable without serendip
    assert len(log) == 3050
    np.testing.assert_array_equal(np.sort(log["index"].to_numpy()), np.arange(3050))
    assert set(log.columns) >= {"index", "process", "reward", "reward_area", "gt_0", "gt_1"}
    assert set(log["process"]) == {"explore"}
    assert log["reward_area"].between(-1, 2).all()
    assert ((log["reward"] > 0) == (log["reward_area"] >= 0)).all()


def test_everything_reads_back_without_pickle(ns_run):
    run = serendip.load_run(ns_run.path)
    assert run.config.seed == 11 and run.config.budget == 3050
    assert run.summary == ns_run.summary
    archives = ns_run.algorithm.archives()
    for name in ("population", "novelty_archive", "reward_archive"):
        stored = run.archive(name)
        live = archives[name]
        for field in (
            "genomes",
            "descriptors",
            "ground_truth",
            "rewards",
            "reward_areas",
            "indices",
        ):
            np.testing.assert_array_equal(getattr(stored, field), getattr(live, field))
    assert len(run.archive("population")) == 100
    # NS inserts 5 per generation: (3050 - 100) / 200 -> 14 full generations + 1 of 150.
    assert len(run.archive("novelty_archive")) == 5 * 15
    frame = run.archive_frame("reward_archive")
    assert (frame["reward"] > 0).all()
    arrays, data = run.state()
    assert data["evaluations"] == 3050 and "rng" in data["algorithm"]["exploration"]
    assert all(a.dtype != object for a in arrays.values())


def test_metrics_file_is_the_metrics_of_the_log(ns_run):
    run = serendip.load_run(ns_run.path)
    spec = task_spec("arm")
    assert_same_frame(run.metrics, metric_curves(run.evaluations, spec, every=500))
    figures = summary_metrics(run.evaluations, spec)
    assert run.summary["coverage"] == figures["coverage"]
    assert run.metrics["evaluations"].iloc[-1] == 3050
    assert run.metrics["coverage"].iloc[-1] == pytest.approx(run.summary["coverage"])


def test_same_seed_same_run_and_another_seed_another_run(tmp_path, ns_run):
    def log_of(seed, name):
        config = serendip.RunConfig.from_dict(
            {
                "algorithm": "ns",
                "budget": 3050,
                "seed": seed,
                "out": str(tmp_path / name),
                "metrics_every": 500,
            }
        )
        return pd.read_parquet(serendip.run(config, progress=False).path / "evaluations.parquet")

    original = pd.read_parquet(ns_run.path / "evaluations.parquet")
    assert_same_frame(log_of(11, "again"), original)
    assert not log_of(12, "other")["gt_0"].equals(original["gt_0"])


def test_random_search_run(tmp_path):
    config = serendip.RunConfig.from_dict(
        {"algorithm": "random", "budget": 1000, "out": str(tmp_path / "rs")}
    )
    result = serendip.run(config, progress=False)
    run = serendip.load_run(result.path)
    assert len(run.evaluations) == 1000
    assert run.archive_names == ["population", "reward_archive"]


def test_progress_bar_shows_live_figures(tmp_path):
    from io import StringIO

    from rich.console import Console

    stream = StringIO()
    console = Console(file=stream, force_terminal=True, width=200)
    config = serendip.RunConfig.from_dict(
        {"algorithm": "serene", "budget": 2300, "out": str(tmp_path / "p")}
    )
    serendip.run(config, progress=True, console=console)
    text = stream.getvalue()
    for label in ("evals", "cov ", "areas ", "best ", "/s", "emitters", "explore"):
        assert label in text


def test_checkpoints_wait_checkpoint_every_evaluations(tmp_path, monkeypatch):
    """With the time share out of the way, a checkpoint comes every ``checkpoint_every``
    evaluations (at the next chunk boundary), not at every chunk boundary after the first."""
    from serendip.experiment.checkpoint import CheckpointWriter

    taken = []
    save = CheckpointWriter.save

    def recording(self, evaluations, arrays, data):
        taken.append(evaluations)
        return save(self, evaluations, arrays, data)

    monkeypatch.setattr(CheckpointWriter, "save", recording)
    config = serendip.RunConfig.from_dict(
        {
            "task": "point",
            "algorithm": "ns",
            "budget": 9100,
            "out": str(tmp_path / "c"),
            "checkpoint_every": 2500,
            "checkpoint_share": 1,
            "exploitation": {"chunk_size": 1000},
        }
    )
    serendip.run(config, progress=False)
    during, final = taken[:-1], taken[-1]
    assert final == 9100  # the finished run's own
    # Chunks end at 100 + 1,000 k evaluations: the first boundary 2,500 after the start,
    # then 2,500 after that one (not 4,100, 5,100, ...); none at the budget's end.
    assert during == [3100, 6100]
