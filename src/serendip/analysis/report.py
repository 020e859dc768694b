"""``serendip report``: one self-contained HTML page about a run, and its exploration animation.

The page embeds every figure as a ``data:`` URI, so it can be mailed or moved
alone: the summary, metric curves, the budget split over time, the emitter
timeline, the final archives in the ground-truth space, the learned space
(projected), frames of the best policy of each reward area (replayed), the
exploration animation (also written next to the page as a GIF), the autoencoder's
trainings and the config. Every image reports whether it loaded: a broken one
is replaced by a visible "figure failed to load" note, and carries
``data-broken``; a loaded one carries ``data-loaded`` (which the tests read from
a headless browser).

An interrupted run (no ``summary.json``) is reported from its log.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from serendip.experiment.config import ConfigError
from serendip.experiment.storage import write_text

from .figures import (
    archive_panel,
    best_policies,
    emitter_spans,
    projection_panel,
    write_exploration_animation,
)
from .plots import (
    DPI,
    archive_figure,
    budget_over_time_figure,
    curve_panels,
    curves_figure,
    emitter_timeline_figure,
    fidelity_figure,
    figure_png,
    policy_frames_figure,
    projection_figure,
)
from .run_data import RunData, open_run

POLICY_FRAMES = 8
"""Frames rendered along the episode of each best policy."""

CSS_PPI = 120
"""CSS pixels per inch of figure shown on the page (figures are drawn at ``DPI``)."""


@dataclass
class Report:
    """What :func:`write_report` wrote."""

    path: Path  # the HTML page
    animation: Path  # the exploration GIF
    figures: list[str] = field(default_factory=list)  # ids of the embedded images, in order
    notes: list[str] = field(default_factory=list)  # what could not be shown, and why


@dataclass
class _Section:
    id: str
    title: str
    body: str


def _pixel_size(data: bytes, mime: str) -> tuple[int, int]:
    """Width and height of a PNG or GIF, from its header."""
    if mime == "image/png":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")


def _img(figure_id: str, data: bytes, mime: str, alt: str) -> str:
    """An embedded image that marks itself loaded or broken (see ``_SCRIPT``).

    PNG figures are drawn at ``DPI`` and shown at ``CSS_PPI`` CSS pixels per
    inch (a page can shrink them to fit), sharp on high-density screens.
    """
    encoded = base64.b64encode(data).decode("ascii")
    width, height = _pixel_size(data, mime)
    if mime == "image/png":
        width, height = round(width * CSS_PPI / DPI), round(height * CSS_PPI / DPI)
    return (
        f'<img id="fig-{figure_id}" class="figure" alt="{html.escape(alt)}" '
        f'width="{width}" height="{height}" '
        f'src="data:{mime};base64,{encoded}" '
        'onload="figureLoaded(this)" onerror="figureFailed(this)">'
    )


def _figure(figure_id: str, data: bytes, alt: str, caption: str, mime: str = "image/png") -> str:
    return (
        f"<figure>{_img(figure_id, data, mime, alt)}"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _notes(notes: Sequence[str]) -> str:
    return "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)


def _table(rows: Sequence[tuple[str, str]]) -> str:
    """Name-value rows as two tables side by side (half the height on a wide page)."""
    half = (len(rows) + 1) // 2
    tables = []
    for part in (rows[:half], rows[half:]):
        body = "".join(
            f'<tr><th scope="row">{html.escape(k)}</th><td>{html.escape(v)}</td></tr>'
            for k, v in part
        )
        tables.append(f'<table class="summary"><tbody>{body}</tbody></table>')
    return f'<div class="columns">{"".join(tables)}</div>'


def summary_rows(run: RunData) -> list[tuple[str, str]]:
    """The summary table: status, coverage, rewards per area, budget split, time."""
    s = run.summary
    status = (
        "finished"
        if run.finished
        else "not finished (interrupted or still running): "
        "figures recomputed from the evaluation log"
    )
    uniformity = s.get("uniformity")
    rows = [
        ("status", status),
        ("evaluations", f"{s['evaluations']:,} of {run.config.budget:,}"),
        *task_rows(run),
        ("coverage", f"{s['coverage']:.4f}"),
        ("uniformity", "n/a" if uniformity is None else f"{uniformity:.4f}"),
    ]
    if "qd_score" in s:
        rows.append(("QD score", f"{s['qd_score']:.3f}"))
    rows.append(("reward areas found", f"{s['reward_areas_found']} of {s['reward_areas_total']}"))
    first = s.get("evaluations_to_first_reward", {})
    for area, best in s["best_reward_per_area"].items():
        if best is None:
            text = "not reached"
        else:
            at = first.get(area)
            text = f"{best:.4f}" + (
                f" (first reached at evaluation {at:,})" if at is not None else ""
            )
        rows.append((f"best reward, area {area}", text))
    budget = s.get("budget_per_process")
    if budget:
        rows.append(("exploration share", f"{budget['explore']:.1%}"))
        for area, share in budget.get("areas", {}).items():
            rows.append((f"emitters on area {area}", f"{share:.1%}"))
    if "wall_seconds" in s:
        rate = s.get("evaluations_per_second")
        rows.append(
            (
                "wall time",
                f"{s['wall_seconds']:.1f} s" + (f" ({rate:,.0f} evaluations/s)" if rate else ""),
            )
        )
    if run.trainings:
        rows.append(("autoencoder trainings", str(len(run.trainings))))
    return rows


def task_rows(run: RunData) -> list[tuple[str, str]]:
    """How the task was set up: its options, its reward rule (gym) and its resets."""
    config = run.config
    rows = []
    if config.task_options:
        options = ", ".join(f"{k}={v!r}" for k, v in config.task_options.items())
        rows.append(("task options", options))
    rule = run.summary.get("reward_rule") or config.reward
    if rule is None and config.reward_threshold is not None:
        rule = "return-threshold"
    if rule not in (None, "reward-areas"):
        threshold = run.summary.get("reward_threshold", config.reward_threshold)
        rows.append(
            ("reward rule", rule + ("" if threshold is None else f" (return >= {threshold:g})"))
        )
    seeds = config.episode_seeds
    if seeds == "fixed":
        rows.append(("episode seeds", f"fixed: every episode reset with seed {run.seed}"))
    elif seeds is not None:
        rows.append(("episode seeds", "per-evaluation: seed * 2**32 + evaluation index"))
    return rows


def _trainings_table(run: RunData) -> str:
    header = [
        "training",
        "at evaluation",
        "frames",
        "epochs",
        "validation loss",
        "fidelity error",
        "seconds",
    ]
    rows = []
    for t in run.trainings:
        losses = t.get("validation_losses") or []
        best = t.get("best_epoch")
        loss = losses[best] if isinstance(best, int) and 0 <= best < len(losses) else None
        cells = [
            str(t.get("training", "")),
            f"{t.get('evaluations', 0):,}",
            f"{t.get('frames_used', 0):,}",
            str(t.get("epochs_run", "")),
            "n/a" if loss is None else f"{loss:.4g}",
            "n/a" if t.get("fidelity_error") is None else f"{t['fidelity_error']:.3f}",
            f"{t.get('seconds', 0.0):.1f}",
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    head = "<tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"
    return f'<table class="grid"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def default_report_path(run_dir: str | Path) -> Path:
    """``RUN_DIR/report/index.html``."""
    return Path(run_dir) / "report" / "index.html"


def animation_path(page: Path) -> Path:
    """The GIF beside the page: ``exploration.gif``, or ``<name>-exploration.gif``."""
    if page.stem == "index":
        return page.with_name("exploration.gif")
    return page.with_name(f"{page.stem}-exploration.gif")


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Report:
    """Write the HTML report of a run (default ``RUN_DIR/report/index.html``) and its GIF.

    Raises:
        ConfigError: ``run_dir`` is not a readable run directory, or ``out``
            cannot be written.
    """
    run = open_run(run_dir)
    page = Path(out) if out is not None else default_report_path(run_dir)
    if page.is_dir():
        raise ConfigError("out", f"{str(page)!r} is a directory; give the HTML file to write")
    try:
        page.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            "out", f"cannot write to {str(page.parent)!r}: {error.strerror}"
        ) from None
    report = Report(path=page, animation=animation_path(page))
    sections = _sections(run, report)
    write_text(page, _page(run, sections))
    return report


def _sections(run: RunData, report: Report) -> list[_Section]:
    sections = [_Section("summary", "Summary", _table(summary_rows(run)))]
    title = f"{run.algorithm} (seed {run.seed})"

    def add(
        section_id: str,
        heading: str,
        figure_id: str,
        png: bytes,
        alt: str,
        caption: str,
        extra: str = "",
        mime: str = "image/png",
    ) -> None:
        figure = _figure(figure_id, png, alt, caption, mime)
        sections.append(_Section(section_id, heading, figure + extra))
        report.figures.append(figure_id)

    def note(section_id: str, heading: str, text: str) -> None:
        report.notes.append(text)
        sections.append(_Section(section_id, heading, _notes([text])))

    curves = run.curves
    add(
        "curves",
        "Metric curves",
        "curves",
        figure_png(curves_figure({run.algorithm: [curves]}, curve_panels(run.n_areas))),
        "metric curves against evaluations",
        "Coverage and uniformity of the exploration agents over the 50x50 ground-truth grid, "
        "reward areas found and the best reward reached in each area, against evaluations.",
    )
    log = run.evaluations
    exploit = int((log["process"] != "explore").sum())
    if exploit:
        add(
            "budget",
            "Budget",
            "budget",
            figure_png(budget_over_time_figure(curves, run.n_areas)),
            "share of the budget over evaluations",
            "Cumulative share of the evaluations spent exploring and by emitters on each "
            "reward area (the area the emitter's ancestor reached).",
        )
    spans = emitter_spans(run)
    if spans:
        stopped = sum(s.stopped_at is not None for s in spans)
        add(
            "emitters",
            "Emitter timeline",
            "emitters",
            figure_png(emitter_timeline_figure(spans, len(log))),
            "emitter timeline",
            f"{len(spans)} emitters ({stopped} stopped). Thin line: from the emitter's creation "
            "(its ancestor found a reward) to its stop; bars: its evaluations, coloured by the "
            "area its ancestor reached; cross: stopped."
            + ("" if run.emitters is not None else " (No emitter log: interrupted run.)"),
        )
    else:
        note("emitters", "Emitter timeline", f"{run.algorithm} ran no emitter.")
    add(
        "archive",
        "Final archives",
        "archive",
        figure_png(archive_figure([archive_panel(run, title)], run.spec)),
        "final archives in the ground-truth space",
        (
            "Population, novelty archive and reward archive"
            if run.final_agents() is not None
            else "No archive on disk (the run did not finish): the exploration agents of the log"
        )
        + " in the ground-truth space, coloured by reward (grey: no reward); dashed circles: "
        "the reward areas.",
    )
    panel = projection_panel(run, title)
    if panel is not None:
        dims = panel.descriptors.shape[1]
        add(
            "learned-space",
            "Learned space",
            "learned-space",
            figure_png(projection_figure([panel], run.spec)),
            "learned space projected on two principal components",
            f"The final archives' {dims}-dimensional learned descriptors on their first two "
            "principal components, each agent coloured by its place in the ground truth.",
        )
    elif run.final_agents() is None:
        note("learned-space", "Learned space", "No archive on disk (interrupted run).")
    else:
        note(
            "learned-space",
            "Learned space",
            f"{run.algorithm} searches the ground-truth space: no learned space to show.",
        )
    policies = best_policies(run, POLICY_FRAMES)
    if policies.rows:
        report.notes.extend(policies.notes)
        add(
            "policies",
            "Best policy per reward area",
            "policies",
            figure_png(policy_frames_figure(policies.rows)),
            "frames of the best policy of each reward area",
            f"The best-rewarded policy of each area, replayed with the episode seed it was "
            f"evaluated with; {POLICY_FRAMES} frames along the episode.",
            _notes(policies.notes),
        )
    else:
        report.notes.extend(policies.notes)
        sections.append(_Section("policies", "Best policy per reward area", _notes(policies.notes)))
    write_exploration_animation(run, report.animation)
    add(
        "animation",
        "Exploration",
        "animation",
        report.animation.read_bytes(),
        "animation of the exploration",
        "Exploration agents per cell of the ground-truth grid as the run goes on (blue, log "
        "scale) and emitter evaluations since the previous frame (orange). Also saved as "
        f"{report.animation.name}.",
        mime="image/gif",
    )
    if run.trainings:
        if any(t.get("fidelity_error") is not None for t in run.trainings):
            add(
                "fidelity",
                "How much ground truth the learned space keeps",
                "fidelity",
                figure_png(fidelity_figure(run.trainings)),
                "fidelity error after each training against evaluations",
                "After each training, the error of predicting each stored agent's ground-truth "
                "descriptor from its 3 nearest neighbours in the learned space, over the same "
                "error with shuffled latents: 0 means the space keeps the ground truth, about 1 "
                "that it keeps none of it. The search never reads the ground truth.",
            )
        sections.append(_Section("trainings", "Autoencoder trainings", _trainings_table(run)))
    sections.append(
        _Section("config", "Config", f"<pre>{html.escape(run.config_text.rstrip())}</pre>")
    )
    return sections


_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1.2em; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #e3e3e3; padding-bottom: 0.2em; }
.status { color: #666; margin-top: 0; }
nav { font-size: 0.9em; margin: 1em 0; }
nav a { margin-right: 0.9em; color: #1f5fa8; text-decoration: none; }
table { border-collapse: collapse; font-size: 0.92em; }
.columns { display: flex; flex-wrap: wrap; gap: 0 3.5em; align-items: flex-start; }
table.summary th { text-align: left; font-weight: 500; color: #555; padding: 0.2em 1.5em 0.2em 0; }
table.summary td { font-variant-numeric: tabular-nums; padding: 0.2em 0; }
table.grid th, table.grid td { border-bottom: 1px solid #eee; padding: 0.25em 0.9em;
                               text-align: right; }
figure { margin: 1em 0; }
img.figure { max-width: 100%; height: auto; display: block; }
img.figure[data-broken] { display: none; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
.note { color: #7a5b00; background: #fff8e1; padding: 0.4em 0.8em; border-radius: 4px; }
.broken { color: #b00020; background: #fdecea; padding: 0.6em 0.9em; border-radius: 4px;
          font-weight: 600; }
pre { background: #f6f8fa; padding: 0.9em; border-radius: 4px; overflow-x: auto;
      font-size: 0.85em; }
footer { color: #888; font-size: 0.85em; margin-top: 3em; }
"""

# Defined before any image, so that an image's load or error handler always exists.
_SCRIPT = """
function figureLoaded(img) { img.dataset.loaded = "1"; }
function figureFailed(img) {
  if (img.dataset.broken) return;
  img.dataset.broken = "1";
  var note = document.createElement("p");
  note.className = "broken";
  note.textContent = "figure failed to load: " + img.alt;
  img.insertAdjacentElement("afterend", note);
}
window.addEventListener("load", function () {
  document.querySelectorAll("img.figure").forEach(function (img) {
    if (img.dataset.loaded || img.dataset.broken) return;
    if (img.complete && img.naturalWidth > 0) figureLoaded(img); else figureFailed(img);
  });
});
"""


def _page(run: RunData, sections: Sequence[_Section]) -> str:
    s = run.summary
    heading = f"{run.algorithm} on {run.task}, seed {run.seed}"
    status = (
        f"{s['evaluations']:,} of {run.config.budget:,} evaluations · "
        + ("finished" if run.finished else "interrupted")
        + f" · {s['reward_areas_found']} of {s['reward_areas_total']} reward areas found"
        + f" · coverage {s['coverage']:.3f}"
    )
    nav = "".join(f'<a href="#{x.id}">{html.escape(x.title)}</a>' for x in sections)
    body = "".join(
        f'<section id="{x.id}"><h2>{html.escape(x.title)}</h2>{x.body}</section>' for x in sections
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>serendip report: {html.escape(heading)}</title>"
        f"<style>{_CSS}</style><script>{_SCRIPT}</script></head><body>"
        f"<header><h1>{html.escape(heading)}</h1>"
        f'<p class="status">{html.escape(status)}</p></header>'
        f"<nav>{nav}</nav>{body}"
        f"<footer>serendip report of the run directory {html.escape(run.path.name)}</footer>"
        "</body></html>\n"
    )


__all__ = ["Report", "default_report_path", "summary_rows", "write_report"]
