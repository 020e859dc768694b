"""serendip compare: runs grouped by algorithm, final values, Mann-Whitney tests, figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

import serendip
from run_checks import assert_same_frame
from serendip.algorithms import ALGORITHMS as ALGORITHM_NAMES
from serendip.analysis import run_data
from serendip.analysis.compare import compare, final_values
from serendip.analysis.plots import aggregate_curves, algorithm_color, budget_figure, pca_2d
from serendip.analysis.run_data import (
    MAX_DEPTH,
    MAX_FOLDERS,
    find_run_dirs,
    open_run,
    open_runs,
)
from serendip.cli import main

ALGORITHMS = ("ns", "serene")
SEEDS = (0, 1, 2)
PNG = b"\x89PNG\r\n\x1a\n"
FINAL_FILES = ("summary.json", "metrics.parquet", "archives", "emitters.parquet", "checkpoint")


def tiny_run(out: Path, algorithm: str, seed: int, budget: int = 1500) -> Path:
    """A point run of a second or so (ground-truth space: no autoencoder to train)."""
    config = serendip.RunConfig.from_dict(
        {
            "task": "point",
            "algorithm": algorithm,
            "budget": budget,
            "seed": seed,
            "metrics_every": 250,
            "exploitation": {"chunk_size": 500},
            "out": str(out),
        }
    )
    return serendip.run(config, progress=False).path


def interrupted_copy(run: Path, to: Path) -> Path:
    """The run as an interruption leaves it: config and evaluation log, no final files."""
    shutil.copytree(run, to)
    for name in FINAL_FILES:
        path = to / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return to


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A folder of runs: 2 algorithms x 3 seeds on the point task."""
    root = tmp_path_factory.mktemp("sweep")
    for algorithm in ALGORITHMS:
        for seed in SEEDS:
            tiny_run(root / f"point-{algorithm}-{seed}", algorithm, seed)
    return root


@pytest.fixture(scope="module")
def comparison(sweep):
    return compare([sweep])


def summaries(sweep: Path) -> dict[tuple[str, int], dict]:
    """Every run's summary.json, read directly."""
    out = {}
    for path in sorted(sweep.glob("*/summary.json")):
        summary = json.loads(path.read_text())
        out[(summary["algorithm"], summary["seed"])] = summary
    return out


def summary_value(summary: dict, metric: str) -> float:
    if metric.startswith("best_reward_area_"):
        best = summary["best_reward_per_area"][metric.rsplit("_", 1)[1]]
        return 0.0 if best is None else best  # an area never reached counts as 0
    return float(summary[metric])


def test_a_sweep_folder_gives_its_runs_in_order(sweep):
    runs = open_runs([sweep])
    assert [(r.algorithm, r.seed) for r in runs] == [
        (algorithm, seed) for algorithm in ALGORITHMS for seed in SEEDS
    ]
    # The same runs named one by one, in any order, once each.
    named = open_runs([*sorted(sweep.glob("point-*"), reverse=True), sweep / "point-ns-0"])
    assert sorted(r.path for r in named) == sorted(r.path for r in runs)


def test_a_run_of_a_sweep_that_has_not_started_is_left_out(sweep, tmp_path):
    shutil.copytree(sweep / "point-ns-0", tmp_path / "a" / "point-ns-0")
    waiting = tmp_path / "a" / "point-ns-1"
    waiting.mkdir()
    shutil.copy(sweep / "point-ns-1" / "config.yaml", waiting)
    skipped: list[str] = []
    runs = open_runs([tmp_path / "a"], skipped)
    assert [r.path.name for r in runs] == ["point-ns-0"]
    assert len(skipped) == 1 and "point-ns-1" in skipped[0] and "no evaluation" in skipped[0]
    # Named directly, the same directory is an error.
    with pytest.raises(serendip.ConfigError, match="holds no evaluation yet"):
        open_runs([waiting])


def test_compare_writes_the_figures_and_tables(comparison, sweep):
    assert comparison.out == sweep / "compare"
    names = sorted(p.name for p in comparison.out.iterdir())
    assert names == sorted(
        [
            "point-curves.png",
            "point-best-reward.png",
            "point-budget.png",
            "point-archives.png",
            "final-values.csv",
            "summary.csv",
            "tests.csv",
            "comparison.md",
        ]
    )  # no learned-space figure: neither ns nor serene learns its space
    for name in names:
        if name.endswith(".png"):
            data = (comparison.out / name).read_bytes()
            assert data.startswith(PNG) and len(data) > 10_000
    assert len(comparison.values) == len(ALGORITHMS) * len(SEEDS)
    markdown = (comparison.out / "comparison.md").read_text()
    assert "| ns vs serene |" in markdown and "## point" in markdown
    # The tables read back as written.
    tests = pd.read_csv(comparison.out / "tests.csv")
    assert len(tests) == len(comparison.tests)


def test_medians_match_the_summaries(comparison, sweep):
    by_run = summaries(sweep)
    summary = comparison.summary
    metrics = ["coverage", "uniformity", "reward_areas_found"]
    metrics += [f"best_reward_area_{i}" for i in range(2)]
    assert sorted(summary["metric"].unique()) == sorted(metrics)
    for algorithm in ALGORITHMS:
        for metric in metrics:
            values = [summary_value(by_run[(algorithm, s)], metric) for s in SEEDS]
            row = summary[(summary["algorithm"] == algorithm) & (summary["metric"] == metric)]
            assert row["runs"].item() == len(SEEDS)
            assert row["median"].item() == pytest.approx(np.median(values), abs=1e-12)
            assert row["q25"].item() == pytest.approx(np.percentile(values, 25), abs=1e-12)
            assert row["q75"].item() == pytest.approx(np.percentile(values, 75), abs=1e-12)


def test_p_values_match_scipy(comparison, sweep):
    by_run = summaries(sweep)
    tests = comparison.tests
    assert len(tests) == 5  # one pair, five metrics
    for row in tests.itertuples():
        x = [summary_value(by_run[(row.algorithm_a, s)], row.metric) for s in SEEDS]
        y = [summary_value(by_run[(row.algorithm_b, s)], row.metric) for s in SEEDS]
        expected = mannwhitneyu(x, y, alternative="two-sided")
        assert (row.algorithm_a, row.algorithm_b) == ("ns", "serene")
        assert row.u == expected.statistic
        assert row.p_value == expected.pvalue
        assert row.median_a == pytest.approx(np.median(x))


def test_an_interrupted_run_is_compared_from_its_log(sweep, tmp_path):
    cut = interrupted_copy(sweep / "point-serene-1", tmp_path / "serene-cut")
    assert not open_run(cut).finished
    values = final_values([open_run(sweep / "point-serene-1"), open_run(cut)])
    columns = ["coverage", "uniformity", "reward_areas_found", "best_reward_area_0"]
    recomputed, original = values[~values["finished"]], values[values["finished"]]
    np.testing.assert_array_equal(recomputed[columns].to_numpy(), original[columns].to_numpy())
    # The curves too: metrics.parquet of the original, recomputed for the copy.
    assert_same_frame(open_run(cut).curves, open_run(sweep / "point-serene-1").curves)
    compare([cut, sweep / "point-ns-1"], out=tmp_path / "out")
    assert (tmp_path / "out" / "point-archives.png").exists()
    assert "1 interrupted" in (tmp_path / "out" / "comparison.md").read_text()


def test_compare_is_deterministic(comparison, sweep, tmp_path):
    again = compare([sweep], out=tmp_path / "again")
    for path in comparison.out.iterdir():
        assert (again.out / path.name).read_bytes() == path.read_bytes(), path.name


def test_the_command_line_prints_the_table(sweep, tmp_path, capsys):
    assert main(["compare", str(sweep / "point-ns-0"), str(sweep / "point-serene-0"),
                 "--out", str(tmp_path / "cli")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "| ns | 1 |" in out and str(tmp_path / "cli") in out
    assert (tmp_path / "cli" / "point-curves.png").exists()


@pytest.mark.parametrize("kind", ["missing", "empty folder", "file", "no log"])
def test_bad_paths_give_one_line_and_exit_code_2(kind, tmp_path, capsys):
    path = tmp_path / "x"
    if kind == "empty folder":
        path.mkdir()
    elif kind == "file":
        path.write_text("not a run")
    elif kind == "no log":
        path.mkdir()
        (path / "config.yaml").write_text("task: point\nalgorithm: ns\n")
    assert main(["compare", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("serendip: error: RUN_DIR: ") and err.count("\n") == 1, err
    assert str(path) in err
    assert not (tmp_path / "compare").exists()


def fake_run(path: Path) -> Path:
    """A folder the walk counts as a run (it holds a ``config.yaml``); nothing is read."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text("task: point\n")
    return path


def test_a_folder_is_searched_for_runs_at_most_max_depth_levels_down(tmp_path):
    assert MAX_DEPTH == 4  # docs/reliability.md says 4 levels
    deepest = fake_run(tmp_path / "top" / "1" / "2" / "3" / "run")  # level 4: found
    fake_run(tmp_path / "top" / "1" / "2" / "3" / "4" / "run")  # level 5: not searched
    assert find_run_dirs([tmp_path / "top"]) == [(deepest.resolve(), False)]
    # A folder holding only a run below the limit holds none.
    fake_run(tmp_path / "low" / "1" / "2" / "3" / "4" / "run")
    with pytest.raises(serendip.ConfigError, match="holds none"):
        find_run_dirs([tmp_path / "low"])


def test_a_folder_of_more_than_max_folders_folders_is_refused_not_walked(tmp_path, monkeypatch):
    assert MAX_FOLDERS == 10_000  # docs/reliability.md says 10,000 folders
    monkeypatch.setattr(run_data, "MAX_FOLDERS", 60)  # the same rule, 60 folders to make
    full = tmp_path / "full"
    for i in range(59):
        (full / f"{i:02d}").mkdir(parents=True)
    last = fake_run(full / "zz-run")  # the 60th folder searched: still found
    assert find_run_dirs([full]) == [(last.resolve(), False)]
    (full / "zzz").mkdir()  # one folder more, searched after the run
    with pytest.raises(serendip.ConfigError, match=r"holds more than 60 folders"):
        find_run_dirs([full])
    # Folders count at every level, not only the first.
    nested = tmp_path / "nested"
    for i in range(4):
        for j in range(15):
            (nested / str(i) / str(j)).mkdir(parents=True)
    assert len([p for p in nested.rglob("*") if p.is_dir()]) == 64
    with pytest.raises(serendip.ConfigError, match=r"holds more than 60 folders"):
        find_run_dirs([nested])


def test_symbolic_links_are_not_followed(tmp_path):
    elsewhere = fake_run(tmp_path / "elsewhere" / "run")
    (tmp_path / "given").mkdir()
    (tmp_path / "given" / "link").symlink_to(elsewhere.parent, target_is_directory=True)
    (tmp_path / "given" / "run-link").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(serendip.ConfigError, match="holds none"):
        find_run_dirs([tmp_path / "given"])
    # A link to its own folder: a loop the walk does not enter.
    loop = fake_run(tmp_path / "loop" / "run")
    (tmp_path / "loop" / "again").symlink_to(tmp_path / "loop", target_is_directory=True)
    assert find_run_dirs([tmp_path / "loop"]) == [(loop.resolve(), False)]
    # A run named by a link is opened: only the search does not follow links.
    assert find_run_dirs([tmp_path / "given" / "run-link"]) == [(elsewhere.resolve(), True)]


def test_no_run_at_all_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_aggregate_curves_over_runs_sampled_differently():
    a = pd.DataFrame({"evaluations": [100, 200, 300], "m": [1.0, 2.0, 3.0]})
    b = pd.DataFrame({"evaluations": [150, 300], "m": [np.nan, 5.0]})
    c = pd.DataFrame({"evaluations": [100, 200], "m": [0.0, 4.0]})  # stopped at 200
    x, q25, median, q75 = aggregate_curves([a, b, c], "m", fill=0.0)
    assert x.tolist() == [100, 150, 200, 300]
    # At 150: a holds 1 (its 100 value), b 0 (NaN filled), c 0; at 300 c has ended.
    assert median.tolist() == [0.5, 0.0, 2.0, 4.0]
    assert q25[-1] == 3.5 and q75[-1] == 4.5


def test_colours_are_fixed_per_algorithm_and_distinct():
    names = [n for n in ALGORITHM_NAMES if n != "nsga2"]  # an alias: nsga-ii's colour
    colours = [algorithm_color(n) for n in names]
    assert len(set(colours)) == len(colours)
    assert algorithm_color("stax") == algorithm_color("stax")
    assert algorithm_color("map-elites") == algorithm_color("map-elites")
    assert algorithm_color("nsga2") == algorithm_color("nsga-ii")


def test_figures_leave_the_global_style_alone():
    import matplotlib

    keys = ["font.size", "axes.spines.top", "axes.grid", "lines.linewidth"]
    before = {key: matplotlib.rcParams[key] for key in keys}
    budget_figure({"ns": [{"explore": 1.0, "areas": {"0": 0.0}}]}, 1)
    assert {key: matplotlib.rcParams[key] for key in keys} == before


def test_pca_is_deterministic_and_ordered():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 5)) * np.array([5.0, 2.0, 0.1, 0.1, 0.1])
    projected, shares = pca_2d(x)
    again, _ = pca_2d(-x + 3.0)  # the same cloud, mirrored and shifted
    assert shares[0] > shares[1] > 0 and shares.sum() <= 1
    np.testing.assert_allclose(np.abs(projected), np.abs(again), atol=1e-9)
    np.testing.assert_allclose(projected.std(axis=0), [5.0, 2.0], rtol=0.1)
