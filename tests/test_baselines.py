"""The comparison set: MAP-Elites, CMA-ME, CMA-ES, NSLC, NSGA-II and DNS.

Each core on hand-built data whose answer is known, how each breaks ties at a
sparse reward's 0, an end-to-end run of each on the arm that finds a reward area,
and exact resume of each after SIGKILL on the point task.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import serendip
from run_checks import assert_same_run
from serendip.algorithms.cma_es import ranks_with_random_ties
from serendip.algorithms.dns import competition_fitness
from serendip.archives import IMPROVED, NEW, NOT_ADDED, Agents, GridArchive
from serendip.cli import main
from serendip.experiment.checkpoint import checkpoint_files
from serendip.exploration.rankers import ParetoRanker, TopRanker, make_ranker
from serendip.novelty import ReferenceSet, novelty
from serendip.pareto import non_dominated_fronts

BASELINES = ("nslc", "nsga-ii", "map-elites", "cma-me", "cma-es", "dns")
UNIT = [(0.0, 1.0), (0.0, 1.0)]


def agents(descriptors, rewards, first_index: int = 0, genome_size: int = 2) -> Agents:
    d = np.asarray(descriptors, dtype=np.float64)
    idx = np.arange(first_index, first_index + len(d))
    return Agents(
        genomes=np.repeat(idx[:, None], genome_size, axis=1).astype(np.float64),
        descriptors=d,
        ground_truth=d.copy(),
        rewards=np.asarray(rewards, dtype=np.float64),
        reward_areas=np.full(len(d), -1),
        indices=idx,
        frames=np.zeros((len(d), 0, 64, 64, 3), dtype=np.uint8),
    )


# --- MAP-Elites: the grid ------------------------------------------------------------------


@pytest.mark.parametrize("replace_on_tie", [True, False])
def test_the_grid_keeps_the_best_per_cell_and_ties_follow_the_rule(replace_on_tie):
    grid = GridArchive(
        bounds=UNIT, shape=2, genome_size=2, ground_truth_size=2, replace_on_tie=replace_on_tie
    )
    first = grid.add(agents([[0.1, 0.1], [0.9, 0.9], [0.1, 0.2]], [0.0, 0.5, 0.7]))
    # Rows 0 and 2 share a cell: only its best (row 2) enters; row 1 fills its own.
    assert first.status.tolist() == [NOT_ADDED, NEW, NEW]
    second = grid.add(agents([[0.2, 0.1], [0.8, 0.8], [0.6, 0.1]], [0.7, 0.9, 0.0], 3))
    # A tie with the elite (0.7), an improvement (0.5 -> 0.9, value 0.4), a new cell.
    tie = IMPROVED if replace_on_tie else NOT_ADDED
    assert second.status.tolist() == [tie, IMPROVED, NEW]
    assert second.value[1] == pytest.approx(0.4)
    elites = grid.agents
    by_cell = dict(zip(grid.cells.tolist(), elites.indices.tolist(), strict=True))
    assert by_cell == {0: 3 if replace_on_tie else 2, 3: 4, 2: 5}
    assert sorted(elites.rewards.tolist()) == [0.0, 0.7, 0.9]


def test_map_elites_draws_parents_from_the_elites_and_mutates_them():
    search = serendip.Search(
        "map-elites",
        genome_size=3,
        descriptor_bounds=UNIT,
        seed=4,
        map_elites={"grid": 4, "batch_size": 50, "mutation_sigma": 0.01},
    )
    first = search.ask()
    assert first.shape == (50, 3)
    search.tell(rewards=np.zeros(50), descriptors=np.full((50, 2), 0.5))  # one cell
    elite = search.archive("elites")
    assert len(elite) == 1
    # With ties replacing, the first row of the batch in that cell competes and wins.
    np.testing.assert_array_equal(elite.genomes[0], first[0])
    offspring = search.ask()
    assert np.abs(offspring - first[0]).max() < 0.06  # N(0, 0.01) around the one elite


# --- CMA-ME and CMA-ES: ranking, restarts --------------------------------------------------


def test_improvement_ranking_puts_new_cells_then_improvements_then_the_rest():
    status = np.array([NOT_ADDED, IMPROVED, NEW, IMPROVED, NEW, NOT_ADDED])
    value = np.array([-0.1, 0.2, 0.3, 0.5, 0.9, -0.5])
    ranks = ranks_with_random_ties(np.random.default_rng(0), status, value)
    assert np.argsort(ranks).tolist() == [4, 2, 3, 1, 0, 5]


def test_ties_are_broken_at_random_and_reproducibly():
    zeros = np.zeros(50)
    a = ranks_with_random_ties(np.random.default_rng(1), zeros)
    b = ranks_with_random_ties(np.random.default_rng(1), zeros)
    c = ranks_with_random_ties(np.random.default_rng(2), zeros)
    assert sorted(a.tolist()) == list(range(50))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # A reward above the zeros is always first.
    assert ranks_with_random_ties(np.random.default_rng(3), np.r_[zeros, 0.1])[-1] == 0


def test_cma_me_restarts_an_emitter_whose_batch_added_nothing():
    search = serendip.Search(
        "cma-me",
        genome_size=4,
        descriptor_bounds=UNIT,
        seed=0,
        cma_me={"grid": 10, "emitters": 2, "initial_batch": 20},
    )
    first = search.ask()
    search.tell(rewards=np.zeros(len(first)), descriptors=np.full((20, 2), 0.05))  # one cell
    algorithm = search.algorithm
    genomes = search.ask()
    assert genomes.shape == (12, 4)  # 2 emitters x population 6
    ids = [e.id for e in algorithm.emitters]
    # Emitter 0's rows reach a new cell; emitter 1's all land in one filled cell at 0.
    filled = algorithm.grid.agents.descriptors[0]
    descriptors = np.vstack([np.full((6, 2), 0.999), np.repeat(filled[None], 6, axis=0)])
    search.tell(rewards=np.zeros(12), descriptors=descriptors)
    assert algorithm.restarts == 1
    assert algorithm.emitters[0].id == ids[0] and algorithm.emitters[0].generations == 1
    assert algorithm.emitters[1].id not in ids and algorithm.emitters[1].generations == 0
    # The restarted emitter starts at an elite of the grid.
    elites = algorithm.grid.agents.genomes
    assert (np.abs(elites - algorithm.emitters[1].ancestor_genome).sum(axis=1) == 0).any()


def test_cma_es_climbs_a_toy_reward_and_restarts_with_a_larger_population():
    target = np.full(5, 0.8)
    search = serendip.Search(
        "cma-es",
        genome_size=5,
        descriptor_bounds=UNIT,
        seed=0,
        cma_es={"sigma0": 0.3, "patience": 15, "max_population_size": 24},
    )
    best = []
    for _ in range(400):
        genomes = search.ask()
        rewards = np.exp(-((genomes - target) ** 2).sum(axis=1))
        search.tell(rewards=rewards, descriptors=np.zeros((len(genomes), 2)))
        best.append(rewards.max())
    algorithm = search.algorithm
    assert max(best) > 0.999  # found the optimum
    assert algorithm.restarts >= 1  # converged, stalled, restarted
    assert algorithm.es.population_size == min(6 * 2**algorithm.restarts, 24)
    # A restart starts from the best genome found.
    assert np.abs(algorithm.es.ancestor_genome - target).max() < 0.05


def test_cma_es_with_every_reward_zero_restarts_after_its_patience():
    search = serendip.Search(
        "cma-es", genome_size=3, descriptor_bounds=UNIT, seed=1, cma_es={"patience": 10}
    )
    sizes = []
    for _ in range(40):
        genomes = search.ask()
        sizes.append(len(genomes))
        search.tell(rewards=np.zeros(len(genomes)), descriptors=np.zeros((len(genomes), 2)))
    # The first generation sets the best (0); ten more without a better one restart it.
    assert sizes[:11] == [6] * 11 and sizes[11:21] == [12] * 10 and sizes[21] == 24
    # Every restart starts from the first genome, the earliest of the tied best.
    assert search.algorithm.restarts == 3


# --- NSLC and NSGA-II: the scores and the fronts ------------------------------------------


def test_local_competition_counts_neighbours_with_a_strictly_lower_reward():
    points = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    rewards = np.array([0.0, 0.5, 0.5, 1.0, 0.0])
    reference = ReferenceSet(points, np.arange(5), rewards)
    nov, competition = reference.novelty_and_competition(points, np.arange(5), rewards, k=2)
    # Agent 1 (0.5): neighbours 0 (0.0, lower) and 2 (0.5, a tie): 1. Agent 2 (0.5):
    # neighbours 1 (a tie) and 3 (higher): 0. Agent 3 (1.0): neighbours 2 and 1, both
    # lower: 2. Agents 0 and 4 (0.0): nobody lower.
    assert competition.tolist() == [0.0, 1.0, 0.0, 2.0, 0.0]
    np.testing.assert_array_equal(nov, novelty(points, np.arange(5), points, np.arange(5), k=2))


def test_with_every_reward_zero_local_competition_is_zero():
    points = np.random.default_rng(0).random((30, 2))
    reference = ReferenceSet(points, np.arange(30), np.zeros(30))
    _, competition = reference.novelty_and_competition(points, np.arange(30), np.zeros(30), k=5)
    assert not competition.any()


def test_the_nsga_ii_front_on_novelty_and_reward():
    scores = {
        "novelty": np.array([0.9, 0.5, 0.1, 0.4, 0.05]),
        "reward": np.array([0.0, 0.6, 0.9, 0.5, 0.0]),
    }
    objectives = np.stack([scores["novelty"], scores["reward"]], axis=1)
    assert non_dominated_fronts(objectives)[0].tolist() == [0, 1, 2]
    ranker = make_ranker("novelty-reward", measures_surprise=False)
    assert isinstance(ranker, ParetoRanker) and ranker.criteria == ("novelty", "reward")
    assert sorted(ranker.select(scores, 3).tolist()) == [0, 1, 2]


@pytest.mark.parametrize("name", ["novelty-reward", "novelty-local-competition"])
def test_with_every_reward_zero_the_pareto_rankers_select_by_novelty(name):
    rng = np.random.default_rng(5)
    novelty_scores = rng.random(300)
    scores = {
        "novelty": novelty_scores,
        "reward": np.zeros(300),
        "local_competition": np.zeros(300),
    }
    ranker = make_ranker(name, measures_surprise=False)
    chosen = ranker.select(scores, 100)
    assert sorted(chosen.tolist()) == sorted(TopRanker("novelty").select(scores, 100).tolist())


# --- DNS: the competition fitness ----------------------------------------------------------


def test_dominated_novelty_on_a_line():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    rewards = np.array([0.0, 0.0, 1.0, 0.5])
    fitness = competition_fitness(points, rewards, k=2)
    # 0: competitors 1, 2, 3 -> nearest 1 and 3: (1 + 3) / 2. 1: 0, 2, 3 -> (1 + 2) / 2.
    # 2: the best, nobody at least as fit: +inf. 3: only 2 -> 4.
    assert fitness.tolist() == [2.0, 1.5, np.inf, 4.0]


def test_with_every_reward_zero_dominated_novelty_is_novelty():
    points = np.random.default_rng(1).random((200, 2))
    fitness = competition_fitness(points, np.zeros(200), k=3)
    expected = novelty(points, np.arange(200), points, np.arange(200), k=3)
    np.testing.assert_allclose(fitness, expected, rtol=1e-12)


def test_dns_keeps_the_best_agent_and_spreads_the_rest():
    search = serendip.Search(
        "dns",
        genome_size=2,
        descriptor_bounds=UNIT,
        seed=0,
        dns={"population_size": 10, "batch_size": 20, "k": 1},
    )
    search.ask()
    descriptors = np.zeros((20, 2))
    descriptors[:10, 0] = np.linspace(0, 0.09, 10)  # a tight cluster
    descriptors[10:, 0] = np.linspace(0.1, 1.0, 10)  # spread out
    rewards = np.zeros(20)
    rewards[0] = 0.3  # in the cluster, the only reward
    search.tell(rewards=rewards, descriptors=descriptors)
    kept = search.archive("population").indices.tolist()
    assert 0 in kept  # the best is never lost
    assert sum(i >= 10 for i in kept) == 9  # then the most isolated


# --- every algorithm end to end -------------------------------------------------------------


@pytest.mark.parametrize("algorithm", BASELINES)
def test_each_baseline_finds_a_reward_area_on_the_arm(tmp_path, algorithm):
    changes = {"cma_es": {"sigma0": 0.5}} if algorithm == "cma-es" else {}
    config = serendip.RunConfig.from_dict(
        {
            "task": "arm",
            "algorithm": algorithm,
            "budget": 3000,
            "seed": 0,
            "out": str(tmp_path / algorithm),
            **changes,
        }
    )
    serendip.run(config, progress=False)
    summary = json.loads((tmp_path / algorithm / "summary.json").read_text())
    assert summary["algorithm"] == algorithm and summary["evaluations"] == 3000
    assert summary["reward_areas_found"] >= 1
    run = serendip.load_run(tmp_path / algorithm)
    assert run.archive_names  # its archives are written and read back


RESUME = {
    "task": "point",
    "seed": 3,
    "metrics_every": 500,
    "checkpoint_every": 500,
    "checkpoint_share": 1,
}
RESUME_BUDGET = {"cma-me": 1500}


def _serendip(*args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "serendip", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_each_baseline_resumes_exactly_after_sigkill(tmp_path):
    """All six run at once; each is frozen at its first checkpoint, then killed."""
    configs, running = {}, {}
    for algorithm in BASELINES:
        configs[algorithm] = {
            **RESUME,
            "algorithm": algorithm,
            "budget": RESUME_BUDGET.get(algorithm, 4000),
        }
        config_file = tmp_path / f"{algorithm}.yaml"
        config_file.write_text(json.dumps(configs[algorithm]))
        out = tmp_path / f"{algorithm}-killed"
        running[algorithm] = (
            out,
            _serendip("run", "--config", str(config_file), "--out", str(out)),
        )
    waiting = dict(running)
    deadline = time.monotonic() + 120
    while waiting:
        for algorithm, (out, process) in list(waiting.items()):
            if checkpoint_files(out):
                process.send_signal(signal.SIGSTOP)  # mid-run, whatever it was doing
                del waiting[algorithm]
            else:
                assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no checkpoint appeared: {sorted(waiting)}"
        time.sleep(0.005)
    for algorithm, (out, process) in running.items():
        process.kill()
        process.wait()
        assert not (out / "summary.json").exists(), f"{algorithm} finished before the kill"
    resumed = {a: _serendip("resume", str(out), "--quiet") for a, (out, _) in running.items()}
    for algorithm, values in configs.items():
        reference = tmp_path / f"{algorithm}-reference"
        serendip.run(
            serendip.RunConfig.from_dict({**values, "out": str(reference)}), progress=False
        )
        _, err = resumed[algorithm].communicate(timeout=300)
        assert resumed[algorithm].returncode == 0, err
        assert_same_run(reference, running[algorithm][0])


# --- bad parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "section", "expected"),
    [
        ("map-elites", {"map_elites": {"grid": -5}}, "map_elites.grid"),
        ("map-elites", {"map_elites": {"grid": [10, 0]}}, "map_elites.grid"),
        ("map-elites", {"map_elites": {"grid": [10, 10, 10]}}, "map_elites.grid"),
        ("map-elites", {"map_elites": {"mutation_sigma": 0}}, "map_elites.mutation_sigma"),
        ("cma-me", {"cma_me": {"sigma0": -1}}, "cma_me.sigma0"),
        ("cma-me", {"cma_me": {"grid": 100_000}}, "cma_me.grid"),
        ("cma-es", {"cma_es": {"sigma0": 0}}, "cma_es.sigma0"),
        ("cma-es", {"cma_es": {"population_growth": 0.5}}, "cma_es.population_growth"),
        ("cma-es", {"cma_es": {"max_population_size": 3}}, "cma_es.max_population_size"),
        ("dns", {"dns": {"k": 1000}}, "dns.k"),
        ("dns", {"dns": {"mutation_sigma": -0.1}}, "dns.mutation_sigma"),
        ("nslc", {"novelty_search": {"selection": "crowding"}}, "novelty_search.selection"),
        ("nsga-ii", {"novelty_search": {"k": 0}}, "novelty_search.k"),
    ],
)
def test_bad_parameters_are_one_line_and_exit_2(tmp_path, capsys, algorithm, section, expected):
    config_file = tmp_path / "config.yaml"
    config_file.write_text(json.dumps({"task": "arm", "algorithm": algorithm, **section}))
    out = tmp_path / "run"
    assert main(["run", "--config", str(config_file), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and expected in err
    assert not out.exists()


def test_the_baselines_are_listed_with_their_summary(capsys):
    assert main(["algorithms"]) == 0
    listed = capsys.readouterr().out
    for name in (*BASELINES, "nsga2"):
        assert any(line.split()[0] == name for line in listed.splitlines() if line.strip())


def test_a_grid_algorithm_needs_a_descriptor():
    with pytest.raises(ValueError, match="descriptor_bounds"):
        serendip.Search("map-elites", genome_size=3, seed=0)


def test_out_of_range_grid_is_refused_in_search():
    with pytest.raises(serendip.ConfigError, match=r"map_elites\.grid"):
        serendip.Search(
            "map-elites", genome_size=3, descriptor_bounds=UNIT, map_elites={"grid": [3, 3, 3]}
        )


def test_run_directories_hold_the_elites(tmp_path):
    config = serendip.RunConfig.from_dict(
        {"task": "point", "algorithm": "map-elites", "budget": 600, "out": str(tmp_path / "r")}
    )
    serendip.run(config, progress=False)
    run = serendip.load_run(tmp_path / "r")
    elites = run.archive("elites")
    assert len(elites) == json.loads((tmp_path / "r" / "summary.json").read_text())["grid_filled"]
    assert Path(tmp_path / "r" / "archives" / "elites.parquet").is_file()


def test_a_baseline_gives_the_same_run_on_worker_processes(tmp_path):
    values = {"task": "point", "algorithm": "dns", "budget": 1500, "seed": 2}
    for backend in ("inprocess", "processes"):
        config = {**values, "backend": backend, "out": str(tmp_path / backend)}
        serendip.run(serendip.RunConfig.from_dict(config), progress=False)
    assert_same_run(tmp_path / "inprocess", tmp_path / "processes")
