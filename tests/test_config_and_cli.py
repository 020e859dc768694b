"""Config validation and the command line's error contract: one line, exit code 2."""

import os
import subprocess
import sys

import pytest
import yaml

from serendip.cli import main
from serendip.experiment.config import ConfigError, RunConfig


@pytest.mark.parametrize(
    ("values", "field", "accepted"),
    [
        ({"task": "pendulum"}, "task", "arm"),
        ({"algorithm": "sgd"}, "algorithm", "ns"),
        ({"budget": -5}, "budget", "integer in [1, 4294967295]"),
        ({"budget": 0}, "budget", "integer in [1, 4294967295]"),
        ({"budget": "lots"}, "budget", "integer"),
        ({"seed": "abc"}, "seed", "integer"),
        ({"seed": 1.5}, "seed", "integer"),
        ({"seed": -1}, "seed", "integer in [0, 2147483647]"),
        ({"seed": 2**31}, "seed", "integer in [0, 2147483647]"),
        ({"seed": True}, "seed", "integer"),
        ({"frames": -1}, "frames", ">= 0"),
        ({"backend": "gpu"}, "backend", "inprocess"),
        ({"reward_threshold": 1.0}, "reward_threshold", "gym:<id>"),
        ({"novelty_search": {"k": 0}}, "novelty_search.k", ">= 1"),
        ({"novelty_search": {"mutation_sigma": -0.1}}, "novelty_search.mutation_sigma", "positive"),
        (
            {"novelty_search": {"archive_selection": "best"}},
            "novelty_search.archive_selection",
            "random, novel",
        ),
        ({"novelty_search": {"kk": 3}}, "novelty_search.kk", "population_size"),
        ({"novelty_search": 3}, "novelty_search", "mapping"),
        ({"colour": "red"}, "colour", "task, algorithm"),
    ],
)
def test_invalid_values_name_the_field_and_what_is_accepted(values, field, accepted):
    with pytest.raises(ConfigError) as error:
        RunConfig.from_dict(values)
    message = str(error.value)
    assert message.startswith(f"{field}: ")
    assert accepted in message
    assert "\n" not in message


def test_defaults_strings_and_round_trip():
    config = RunConfig.from_dict({"budget": "2_000", "seed": "3", "frames": 2.0})
    assert (config.budget, config.seed, config.frames) == (2000, 3, 2)
    assert config.novelty_search.population_size == 100
    assert config.novelty_search.k == 15
    assert RunConfig.from_dict(yaml.safe_load(config.to_yaml())) == config
    assert config.replace(seed=4).seed == 4


def test_yaml_file_with_flag_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("task: arm\nalgorithm: random\nbudget: 500\nnovelty_search:\n  k: 5\n")
    config = RunConfig.from_yaml(path, overrides={"budget": "700"})
    assert (config.algorithm, config.budget, config.novelty_search.k) == ("random", 700, 5)
    path.write_text("budget: [1, 2\n")
    with pytest.raises(ConfigError, match=r"^config: .*not valid YAML"):
        RunConfig.from_yaml(path)
    with pytest.raises(ConfigError, match=r"^config: cannot read"):
        RunConfig.from_yaml(tmp_path / "missing.yaml")


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "serendip", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(result, field):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"serendip: error: {field}: "), lines[0]


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--task", "nope"], "task"),
        (["--algo", "nope"], "algorithm"),
        (["--budget", "-10"], "budget"),
        (["--seed", "x1"], "seed"),
        (["--frames", "two"], "frames"),
    ],
)
def test_cli_rejects_bad_flags_with_one_line_and_exit_2(flags, field, tmp_path, capsys):
    code = main(["run", *flags, "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"serendip: error: {field}: ")
    assert not (tmp_path / "r").exists()


def test_cli_unknown_flag_is_one_line(tmp_path):
    result = run_cli("run", "--colour", "red")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run_cli("run", "--budget", "10", "--out", str(locked / "r"), "--quiet")
        assert_one_line_error(result, "out")
    finally:
        locked.chmod(0o700)


def test_output_path_under_a_file_is_unwritable(tmp_path):
    # Works as root too: a directory cannot be created below a regular file.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("run", "--budget", "10", "--out", str(blocker / "r"), "--quiet")
    assert_one_line_error(result, "out")
    assert blocker.read_text() == "x"


def test_existing_run_or_non_empty_directory_is_never_overwritten(tmp_path):
    out = tmp_path / "run"
    first = run_cli("run", "--algo", "ns", "--budget", "300", "--out", str(out), "--quiet")
    assert first.returncode == 0, first.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = run_cli("run", "--budget", "300", "--seed", "1", "--out", str(out), "--quiet")
    assert_one_line_error(again, "out")
    assert "already holds a run" in again.stderr
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert before == after
    other = tmp_path / "notes"
    other.mkdir()
    (other / "paper.tex").write_text("draft")
    result = run_cli("run", "--budget", "300", "--out", str(other), "--quiet")
    assert_one_line_error(result, "out")
    assert sorted(p.name for p in other.iterdir()) == ["paper.tex"]


def test_cli_config_file_and_listings(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("algorithm: random\nbudget: 400\nrandom_search:\n  batch_size: 100\n")
    out = tmp_path / "r"
    assert main(["run", "--config", str(config), "--seed", "5", "--out", str(out), "--quiet"]) == 0
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["algorithm"] == "random" and resolved["seed"] == 5
    assert resolved["random_search"]["batch_size"] == 100
    capsys.readouterr()
    assert main(["tasks"]) == 0
    listing = capsys.readouterr().out.strip()
    tasks = listing.split("\n\n")[0].splitlines()  # one line per task, then the notes
    assert [line.split()[0] for line in tasks] == [
        "arm",
        "arm-distractors",
        "curling",
        "maze",
        "ant-maze",
        "point",
        "gym:<id>",
    ]
    assert main(["algorithms"]) == 0
    algorithms = capsys.readouterr().out.strip().splitlines()
    assert {line.split()[0] for line in algorithms} == {
        "ns",
        "serene",
        "taxons",
        "taxons-p",
        "taxo-n",
        "taxo-s",
        "taxons-nt",
        "stax",
        "stax-p",
        "random",
        "nslc",
        "nsga-ii",
        "nsga2",
        "map-elites",
        "cma-me",
        "cma-es",
        "dns",
    }


def test_default_output_directory_is_numbered_not_overwritten(tmp_path):
    # NS: the naming is the same for every algorithm, and STAX would train twice.
    for _ in range(2):
        result = run_cli("run", "--algo", "ns", "--budget", "200", "--quiet", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "arm-ns-seed0",
        "arm-ns-seed0-2",
    ]
