"""Sweeps: runs in parallel processes, skipping finished runs, resuming interrupted
ones, reporting failures without stopping, and rejecting bad files with exit code 2."""

import json

import pytest
import yaml

import serendip
from serendip.cli import main
from serendip.experiment.config import ConfigError, RunConfig
from serendip.experiment.sweep import Sweep

# Cheap runs: novelty search (ground truth, no torch) and SERENE (emitters) on the point task.
SHARED = {"exploitation": {"chunk_size": 300}}
BUDGET = 1000


def write_sweep(tmp_path, **fields):
    values = {
        "out": str(tmp_path / "sweep"),
        "tasks": ["point"],
        "algorithms": ["ns", "serene"],
        "seeds": [0, 1],
        "budget": BUDGET,
        "config": SHARED,
        "jobs": 2,
        **fields,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def statuses(out):
    runs = json.loads((out / "sweep.json").read_text())["runs"]
    return {f"{r['task']}-{r['algorithm']}-seed{r['seed']}": r["status"] for r in runs}


def single_run(tmp_path, algorithm, seed, name):
    config = RunConfig.from_dict(
        {
            "task": "point",
            "algorithm": algorithm,
            "seed": seed,
            "budget": BUDGET,
            **SHARED,
            "out": str(tmp_path / name),
        }
    )
    return config


def test_a_sweep_runs_everything_then_skips_it_and_matches_single_runs(tmp_path, capsys):
    path = write_sweep(tmp_path)
    out = tmp_path / "sweep"
    assert main(["sweep", str(path)]) == 0
    names = ["point-ns-seed0", "point-ns-seed1", "point-serene-seed0", "point-serene-seed1"]
    for name in names:
        assert (out / name / "summary.json").is_file()
    assert statuses(out) == dict.fromkeys(names, "done")
    printed = capsys.readouterr().out
    assert "areas found" in printed and "serene" in printed

    # The same run through `serendip run` gives the same evaluation log.
    config = single_run(tmp_path, "serene", 1, "alone")
    serendip.run(config, progress=False)
    alone = serendip.load_run(tmp_path / "alone").evaluations
    assert serendip.load_run(out / "point-serene-seed1").evaluations.equals(alone)

    # A second invocation finds every run finished.
    assert main(["sweep", str(path), "--jobs", "1"]) == 0
    assert statuses(out) == dict.fromkeys(names, "skipped")


def test_an_interrupted_run_is_resumed_and_a_failing_run_stops_nothing(tmp_path):
    path = write_sweep(tmp_path, algorithms=["ns"], seeds=[3, 4])
    out = tmp_path / "sweep"
    # Seed 3 was interrupted (Ctrl-C after some batches): config.yaml, no summary.json.
    config = single_run(tmp_path, "ns", 3, "sweep/point-ns-seed3")

    def interrupt(done, algorithm):
        if done >= 500:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        serendip.run(config, progress=False, on_batch=interrupt)
    assert not (out / "point-ns-seed3" / "summary.json").exists()
    # Seed 4's directory holds something that is not a run: that run fails.
    (out / "point-ns-seed4").mkdir()
    (out / "point-ns-seed4" / "notes.txt").write_text("not a run")

    assert main(["sweep", str(path), "--quiet"]) == 1
    assert statuses(out) == {"point-ns-seed3": "resumed", "point-ns-seed4": "failed"}
    resumed = serendip.load_run(out / "point-ns-seed3").evaluations
    serendip.run(single_run(tmp_path, "ns", 3, "uninterrupted"), progress=False)
    assert resumed.equals(serendip.load_run(tmp_path / "uninterrupted").evaluations)
    error = json.loads((out / "sweep.json").read_text())["runs"][1]["error"]
    assert "not empty" in error


@pytest.mark.parametrize(
    ("fields", "field", "accepted"),
    [
        ({"colour": "red"}, "colour", "tasks"),
        ({"out": None}, "out", "required"),
        ({"tasks": []}, "tasks", "non-empty"),
        ({"tasks": ["pendulum"]}, "tasks", "arm"),
        ({"algorithms": ["ns", "sgd"]}, "algorithms", "stax"),
        ({"algorithms": ["ns", "ns"]}, "algorithms", "twice"),
        ({"seeds": ["a"]}, "seeds", "integer"),
        ({"seeds": None}, "seeds", "required"),
        ({"budget": 0}, "budget", "integer in [1, 4294967295]"),
        ({"jobs": 0}, "jobs", "integer in [1, 1024]"),
        ({"backend": "dask"}, "backend", "processes, ray"),
        ({"ray_address": "somewhere"}, "ray_address", "host:port"),
        ({"config": {"novelty_search": {"k": 0}}}, "config.novelty_search.k", ">= 1"),
        ({"config": {"seed": 3}}, "config.seed", "seeds"),
        ({"config": {"backend": "ray"}}, "config.backend", "in process"),
        (
            {"tasks": [{"gym:CartPole-v1": {"reward": "best"}}]},
            "tasks.gym:CartPole-v1.reward",
            "return-threshold, positive-reward, info-success",
        ),
        (
            {"tasks": [{"point": {"task_options": {"speed": 2}}}]},
            "tasks.point.task_options.speed",
            "accepted: horizon, reward_areas",
        ),
    ],
)
def test_invalid_sweep_files_exit_2_naming_the_field(tmp_path, capsys, fields, field, accepted):
    path = write_sweep(tmp_path, **fields)
    assert main(["sweep", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"serendip: error: {field}: "), error
    assert accepted in error and error.count("\n") == 1
    assert not (tmp_path / "sweep").exists()  # nothing written


def test_flags_override_the_file_and_bad_flags_are_caught(tmp_path, capsys):
    path = write_sweep(tmp_path, backend="ray", jobs=3)
    sweep = Sweep.from_yaml(path, overrides={"backend": "processes", "jobs": "1"})
    assert (sweep.backend, sweep.jobs) == ("processes", 1)
    assert [run.path.name for run in sweep.runs][:2] == ["point-ns-seed0", "point-ns-seed1"]
    assert all(run.config.backend == "inprocess" for run in sweep.runs)
    assert main(["sweep", str(path), "--jobs", "many"]) == 2
    assert "jobs: " in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^sweep: "):
        Sweep.from_yaml(tmp_path / "missing.yaml")


def test_per_task_overrides_and_a_seed_count(tmp_path):
    pytest.importorskip("gymnasium")
    path = write_sweep(
        tmp_path,
        tasks=["point", {"gym:CartPole-v1": {"reward_threshold": 100}}],
        algorithms=["ns"],
        seeds=3,
    )
    sweep = Sweep.from_yaml(path)
    assert [run.seed for run in sweep.runs] == [0, 1, 2, 0, 1, 2]
    assert sweep.runs[3].config.reward_threshold == 100
    assert sweep.runs[3].path.name == "gym-CartPole-v1-ns-seed0"
