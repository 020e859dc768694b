"""serendip report: a self-contained HTML page of a run, opened in headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import serendip
from serendip.analysis.figures import best_policies
from serendip.analysis.report import write_report
from serendip.analysis.run_data import open_run
from serendip.cli import main

ALL_FIGURES = [
    "curves",
    "budget",
    "emitters",
    "archive",
    "learned-space",
    "policies",
    "animation",
    "fidelity",
]
FINAL_FILES = ("summary.json", "metrics.parquet", "archives", "emitters.parquet", "checkpoint")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)"
)


def tiny_run(out: Path, algorithm: str, budget: int) -> Path:
    """A point run of seconds: a small autoencoder trained once, short exploit chunks."""
    learned = algorithm in ("stax", "taxons")
    config = serendip.RunConfig.from_dict(
        {
            "task": "point",
            "algorithm": algorithm,
            "budget": budget,
            "seed": 1,
            "frames": 1 if learned else 0,
            "metrics_every": 250,
            "learned_space": {"max_epochs": 1, "max_training_frames": 200, "threads": 1},
            "exploitation": {"chunk_size": 500},
            "out": str(out),
        }
    )
    return serendip.run(config, progress=False).path


@pytest.fixture(scope="module")
def stax_run(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory.mktemp("report") / "point-stax", "stax", 2000)


@pytest.fixture(scope="module")
def report(stax_run):
    return write_report(stax_run)


def dump_dom(page: Path) -> str:
    """The page's DOM after load, as headless Chromium sees it."""
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    return result.stdout


def img_tags(dom: str) -> list[str]:
    return re.findall(r"<img\b[^>]*>", dom)


def test_the_report_embeds_every_figure(report, stax_run):
    assert report.path == stax_run / "report" / "index.html"
    assert report.figures == ALL_FIGURES
    page = report.path.read_text()
    sources = re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', page)
    assert len(sources) == len(ALL_FIGURES)
    # Self-contained: every image is a data URI, nothing is fetched.
    assert all(s.startswith(("data:image/png;base64,", "data:image/gif;base64,")) for s in sources)
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    # The config and the summary are on the page.
    assert "algorithm: stax" in page and "reward areas found" in page
    assert "Autoencoder trainings" in page


def test_the_animation_is_a_gif_beside_the_page_and_embedded(report):
    assert report.animation == report.path.with_name("exploration.gif")
    with Image.open(report.animation) as gif:
        assert gif.format == "GIF" and gif.n_frames > 10
    data = report.animation.read_bytes()
    assert base64.b64encode(data).decode() in report.path.read_text()


@needs_chromium
def test_every_figure_loads_in_headless_chromium(report):
    dom = dump_dom(report.path)
    tags = img_tags(dom)
    assert len(tags) == len(ALL_FIGURES)
    for tag in tags:
        assert 'data-loaded="1"' in tag, tag[:120]
        assert "data-broken" not in tag
    assert 'class="broken"' not in dom


@needs_chromium
def test_a_broken_figure_is_marked_and_said_so(report, tmp_path):
    page = report.path.read_text()
    broken = re.sub(r'(id="fig-archive"[^>]*src="data:image/png;base64,)[^"]*', r"\1AAAA", page)
    assert broken != page
    copy = tmp_path / "broken.html"
    copy.write_text(broken)
    dom = dump_dom(copy)
    marked = [t for t in img_tags(dom) if "data-broken" in t]
    assert len(marked) == 1 and 'id="fig-archive"' in marked[0]
    notes = re.findall(r'<p class="broken">([^<]*)</p>', dom)
    assert notes == ["figure failed to load: final archives in the ground-truth space"]
    assert sum('data-loaded="1"' in t for t in img_tags(dom)) == len(ALL_FIGURES) - 1


def test_best_policies_replay_the_logged_episodes(stax_run):
    run = open_run(stax_run)
    policies = best_policies(run, n_frames=4)
    found = [a for a, best in run.summary["best_reward_per_area"].items() if best is not None]
    assert found and len(policies.rows) == len(found)
    for area, row in zip(found, policies.rows, strict=True):
        assert row.frames.shape == (4, 64, 64, 3) and row.frames.dtype == np.uint8
        best = run.summary["best_reward_per_area"][area]
        assert f"reward {best:.3f}" in row.label and "replayed" not in row.label
    assert not any("replay got" in n for n in policies.notes)


def test_an_interrupted_run_is_reported_from_its_log(stax_run, tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(stax_run, cut, ignore=shutil.ignore_patterns("report"))
    for name in FINAL_FILES:
        path = cut / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    report = write_report(cut, out=tmp_path / "cut.html")
    assert report.animation == tmp_path / "cut-exploration.gif" and report.animation.exists()
    # No archives: no learned space and no genomes to replay, said on the page.
    assert report.figures == ["curves", "budget", "emitters", "archive", "animation", "fidelity"]
    page = report.path.read_text()
    assert "not finished (interrupted or still running): figures recomputed" in page
    assert "interrupted before writing them" in page
    # The recomputed summary is the finished run's.
    original = json.loads((stax_run / "summary.json").read_text())
    recomputed = open_run(cut).summary
    for key in ("evaluations", "coverage", "uniformity", "reward_areas_found"):
        assert recomputed[key] == original[key], key  # exactly: the same functions, same log


def test_a_run_without_emitters_or_learned_space_from_the_command_line(tmp_path, capsys):
    run = tiny_run(tmp_path / "ns", "ns", 1000)
    assert main(["report", str(run)]) == 0
    page = run / "report" / "index.html"
    assert str(page) in capsys.readouterr().out
    ids = re.findall(r'<img id="fig-([a-z-]+)"', page.read_text())
    assert ids == ["curves", "archive", "policies", "animation"]
    assert "ns ran no emitter." in page.read_text()
    assert "searches the ground-truth space" in page.read_text()


@pytest.mark.parametrize("kind", ["missing", "empty folder", "file"])
def test_a_path_that_is_not_a_run_gives_one_line_and_exit_code_2(kind, tmp_path, capsys):
    path = tmp_path / "x"
    if kind == "empty folder":
        path.mkdir()
    elif kind == "file":
        path.write_text("not a run")
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"serendip: error: RUN_DIR: {str(path)!r} ") and err.count("\n") == 1
    assert not (path / "report").exists()
