"""Figures of runs and comparisons, in one clean, publication-like style.

Every function here builds a :class:`matplotlib.figure.Figure` on the Agg canvas
without pyplot, so no figure is kept in a global registry and nothing needs a
display; the style is applied through :func:`matplotlib.rc_context`, so the
caller's rcParams are left as they were. Each algorithm gets the same colour in
every figure (:func:`algorithm_color`), and curves are plotted against
evaluations, with the median and interquartile range across seeds.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch
from matplotlib.ticker import EngFormatter, MaxNLocator

from serendip.tasks import RewardArea, TaskSpec

STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.6,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "image.cmap": "viridis",
}
"""rcParams of every figure (applied locally, never globally)."""

DPI = 150
"""Resolution of saved PNG figures."""

REWARD_CMAP = "viridis"
NO_REWARD_COLOR = "#c9c9c9"
EXPLORE_COLOR = "#4a4a4a"

# Fixed colours for the registered algorithms (STAX red, its ancestors SERENE orange,
# NS blue, TAXONS green, random search grey; the comparison set in darker tones, NSGA-II
# under both its names), then spare ones for any other name.
_ALGORITHM_COLORS = {
    "ns": "#1f77b4",
    "serene": "#ff7f0e",
    "taxons": "#2ca02c",
    "taxons-p": "#17becf",
    "taxo-n": "#9467bd",
    "taxo-s": "#8c564b",
    "taxons-nt": "#e377c2",
    "stax": "#d62728",
    "stax-p": "#bcbd22",
    "random": "#7f7f7f",
    "nslc": "#aec7e8",
    "nsga-ii": "#98df8a",
    "nsga2": "#98df8a",
    "map-elites": "#000000",
    "cma-me": "#9edae5",
    "cma-es": "#ffbb78",
    "dns": "#c5b0d5",
}
_SPARE_COLORS = (
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
)
# Reward areas: a qualitative palette distinct in hue order from the algorithms'.
_AREA_PALETTE = ("#e15759", "#4e79a7", "#59a14f", "#edc948", "#b07aa1", "#76b7b2", "#ff9da7")

P = ParamSpec("P")
R = TypeVar("R")


def styled(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` under :data:`STYLE` (figures take their style when drawn)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas (no pyplot), with constrained layout."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


@styled
def figure_png(figure: Figure) -> bytes:
    """The figure as PNG bytes (no software version in the metadata: same bytes, same picture)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def algorithm_color(name: str) -> str:
    """The colour of an algorithm, the same in every figure and every comparison.

    Registered algorithms have fixed colours; any other name gets a spare one,
    chosen by a checksum of the name (so it is stable across runs and machines).
    """
    if name in _ALGORITHM_COLORS:
        return _ALGORITHM_COLORS[name]
    return _SPARE_COLORS[zlib.crc32(name.encode()) % len(_SPARE_COLORS)]


def area_color(area: int) -> str:
    """The colour of a reward area, the same in every figure."""
    return _AREA_PALETTE[area % len(_AREA_PALETTE)]


def _evaluations_axis(ax: Axes) -> None:
    ax.set_xlabel("evaluations")
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))


# --- curves across seeds --------------------------------------------------------------


def aggregate_curves(
    curves: Sequence[pd.DataFrame], column: str, *, fill: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Quartiles across runs of one metric curve: ``(evaluations, q25, median, q75)``.

    The curves are put on the union of their evaluation points (each run's value
    at a point is its last sample at or before it; none beyond the run's end), so
    runs sampled differently or cut short still aggregate. ``fill`` replaces NaN
    values (e.g. 0 for the best reward of an area not reached yet).
    """
    usable = [c for c in curves if column in c.columns and len(c)]
    if not usable:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    x = np.unique(np.concatenate([c["evaluations"].to_numpy(np.int64) for c in usable]))
    table = np.full((len(usable), x.size), np.nan)
    for row, curve in enumerate(usable):
        points = curve["evaluations"].to_numpy(np.int64)
        values = curve[column].to_numpy(np.float64)
        if fill is not None:
            values = np.where(np.isnan(values), fill, values)
        at = np.searchsorted(points, x, side="right") - 1
        ok = (at >= 0) & (x <= points[-1])
        table[row, ok] = values[at[ok]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        q25, median, q75 = np.nanpercentile(table, [25, 50, 75], axis=0)
    return x, q25, median, q75


@dataclass(frozen=True)
class Panel:
    """One panel of a curves figure: a metric column and its axis label."""

    column: str
    label: str
    fill: float | None = None  # value of NaN points (see aggregate_curves)
    ylim: tuple[float | None, float | None] | None = None
    integer: bool = False  # integer ticks (counts)


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return math.ceil(n / ncols), ncols


def _legend(figure: Figure, handles: list[Any], labels: list[str]) -> None:
    """One legend under the panels, in as many columns as the figure's width holds."""
    if handles:
        longest = max(len(label) for label in labels)
        fits = int(figure.get_figwidth() / (0.45 + 0.075 * longest))
        ncols = max(1, min(len(labels), 5, fits))
        figure.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)


@styled
def curves_figure(
    groups: Mapping[str, Sequence[pd.DataFrame]],
    panels: Sequence[Panel],
    *,
    title: str | None = None,
    ncols: int = 3,
) -> Figure:
    """Metric curves against evaluations: median line and interquartile band per algorithm.

    Args:
        groups: algorithm name -> the metric curves of its runs (one per seed).
        panels: the metrics to plot, one panel each.
        title: figure title.
        ncols: panels per row.
    """
    rows, cols = _grid(len(panels), ncols)
    figure = new_figure(3.2 * cols, 2.5 * rows + 0.5)
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    handles: dict[str, Any] = {}
    for ax, panel in zip(axes, panels, strict=False):
        top = -np.inf
        for name, curves in groups.items():
            x, q25, median, q75 = aggregate_curves(curves, panel.column, fill=panel.fill)
            if x.size == 0:
                continue
            top = max(top, float(np.nanmax(np.append(q75, median), initial=-np.inf)))
            color = algorithm_color(name)
            label = name if len(curves) == 1 else f"{name} (n={len(curves)})"
            (line,) = ax.plot(x, median, color=color, label=label)
            if len(curves) > 1:
                ax.fill_between(x, q25, q75, color=color, alpha=0.2, linewidth=0)
            handles.setdefault(label, line)
        ax.set_ylabel(panel.label)
        _evaluations_axis(ax)
        if panel.ylim == (0.0, None):
            # From 0 with a margin on top; nothing above 0 (an area never reached): 0 to 1.
            ax.set_ylim(0.0, top * 1.05 if top > 0 else 1.0)
            if not top > 0 and panel.fill is not None:
                ax.text(0.5, 0.5, "not reached", transform=ax.transAxes, ha="center", color="grey")
        elif panel.ylim is not None:
            ax.set_ylim(*panel.ylim)
        if panel.integer:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(left=0)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    _legend(figure, list(handles.values()), list(handles))
    if title:
        figure.suptitle(title)
    return figure


def curve_panels(n_areas: int, *, best_reward: bool = True, basic: bool = True) -> list[Panel]:
    """The standard panels: coverage, uniformity, reward areas found, best reward per area."""
    panels: list[Panel] = []
    if basic:
        panels += [
            Panel("coverage", "coverage (fraction of cells)", ylim=(0.0, None)),
            Panel("uniformity", "uniformity"),
            Panel(
                "reward_areas_found",
                "reward areas found",
                ylim=(-0.05, n_areas + 0.05),
                integer=True,
            ),
        ]
    if best_reward:
        panels += [
            Panel(f"best_reward_area_{i}", f"best reward, area {i}", fill=0.0, ylim=(0.0, None))
            for i in range(n_areas)
        ]
    return panels


# --- budget ---------------------------------------------------------------------------


@styled
def budget_figure(
    groups: Mapping[str, Sequence[Mapping[str, Any]]], n_areas: int, *, title: str | None = None
) -> Figure:
    """Share of the budget spent on exploration and by emitters on each reward area.

    Grouped bars: one per algorithm in each category, the median across seeds,
    with the interquartile range as error bars.

    Args:
        groups: algorithm name -> ``budget_per_process`` of each of its runs.
        n_areas: the task's number of reward areas.
    """
    categories = ["exploration", *(f"area {i}" for i in range(n_areas))]
    figure = new_figure(max(3.6, 1.2 + 0.9 * len(categories) * max(1, len(groups)) ** 0.5), 3.0)
    ax = figure.add_subplot()
    width = 0.8 / max(1, len(groups))
    x = np.arange(len(categories))
    for k, (name, budgets) in enumerate(groups.items()):
        shares = np.array(
            [
                [
                    b.get("explore", 0.0),
                    *(b.get("areas", {}).get(str(i), 0.0) for i in range(n_areas)),
                ]
                for b in budgets
            ],
            dtype=np.float64,
        ).reshape(-1, len(categories))
        q25, median, q75 = np.percentile(shares, [25, 50, 75], axis=0)
        ax.bar(
            x - 0.4 + width * (k + 0.5),
            median,
            width,
            yerr=np.vstack([median - q25, q75 - median]) if len(budgets) > 1 else None,
            color=algorithm_color(name),
            label=name if len(budgets) == 1 else f"{name} (n={len(budgets)})",
            error_kw={"elinewidth": 0.8, "capsize": 2},
        )
    ax.set_xticks(x, categories)
    ax.set_ylabel("share of evaluations")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="x", visible=False)
    handles, labels = ax.get_legend_handles_labels()
    _legend(figure, handles, labels)
    if title:
        figure.suptitle(title)
    return figure


@styled
def budget_over_time_figure(curves: pd.DataFrame, n_areas: int) -> Figure:
    """Cumulative share of the evaluations spent on exploration and on each area, over a run."""
    figure = new_figure(5.0, 2.8)
    ax = figure.add_subplot()
    x = curves["evaluations"].to_numpy()
    layers = [curves["explore_fraction"].to_numpy(np.float64)]
    labels = ["exploration"]
    colors = [EXPLORE_COLOR]
    for i in range(n_areas):
        column = f"budget_area_{i}"
        if column in curves.columns:
            layers.append(curves[column].to_numpy(np.float64))
            labels.append(f"emitters on area {i}")
            colors.append(area_color(i))
    ax.stackplot(x, *layers, labels=labels, colors=colors, alpha=0.85, linewidth=0)
    ax.set_ylim(0, 1)
    ax.set_xlim(x.min() if x.size else 0, x.max() if x.size else 1)
    ax.set_ylabel("share of evaluations so far")
    _evaluations_axis(ax)
    handles, names = ax.get_legend_handles_labels()
    _legend(figure, handles, names)
    return figure


def fidelity_figure(trainings: Sequence[dict]) -> Figure:
    """The learned space's fidelity error after each training, against evaluations.

    0: the space keeps the task's ground truth; about 1: it keeps none of it
    (see :mod:`serendip.behavior.fidelity`).
    """
    measured = [t for t in trainings if t.get("fidelity_error") is not None]
    figure = new_figure(5.0, 2.8)
    ax = figure.add_subplot()
    x = [t.get("evaluations", 0) for t in measured]
    y = [t["fidelity_error"] for t in measured]
    ax.plot(x, y, marker="o", color=algorithm_color("stax"))
    ax.axhline(1.0, color="0.6", linewidth=1, linestyle="--")
    ax.text(x[0] if x else 0, 1.0, " shuffled latents", va="bottom", fontsize=8, color="0.4")
    ax.set_ylim(0, max(1.15, max(y, default=0) * 1.1))
    ax.set_ylabel("fidelity error")
    _evaluations_axis(ax)
    return figure


# --- ground-truth space -----------------------------------------------------------------


@dataclass(frozen=True)
class PointsPanel:
    """Agents to scatter in one panel: 2-D points and their rewards."""

    title: str
    points: np.ndarray  # (N, 2)
    rewards: np.ndarray  # (N,)
    note: str = ""


def plane(points: np.ndarray) -> np.ndarray:
    """The first two columns of ``points`` (a zero column added to 1-D descriptors)."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2:
        p = p.reshape(len(p), -1)
    if p.shape[1] >= 2:
        return p[:, :2]
    return (
        np.column_stack([p[:, :1], np.zeros(len(p))]) if p.shape[1] == 1 else np.zeros((len(p), 2))
    )


def _box(spec: TaskSpec | None, points: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The plotted ground-truth box: the task's, else the data's extent."""
    if spec is not None and len(spec.descriptor_low) >= 2:
        return np.array(spec.descriptor_low[:2], float), np.array(spec.descriptor_high[:2], float)
    if spec is not None and len(spec.descriptor_low) == 1:  # plotted against a zero column
        return np.array([spec.descriptor_low[0], -1.0]), np.array([spec.descriptor_high[0], 1.0])
    stacked = np.vstack([plane(p) for p in points if len(p)] or [np.zeros((1, 2))])
    finite = stacked[np.isfinite(stacked).all(axis=1)]
    if not len(finite):
        return np.zeros(2), np.ones(2)
    low, high = finite.min(axis=0), finite.max(axis=0)
    pad = np.where(high > low, 0.02 * (high - low), 0.5)
    return low - pad, high + pad


def _ground_truth_axes(ax: Axes, spec: TaskSpec | None, low: np.ndarray, high: np.ndarray) -> None:
    """Limits, labels, equal aspect when sensible, and the reward areas as dashed circles."""
    margin = 0.02 * (high - low)
    ax.set_xlim(low[0] - margin[0], high[0] + margin[0])
    ax.set_ylim(low[1] - margin[1], high[1] + margin[1])
    span = high - low
    if span.min() > 0 and span.max() / span.min() < 3:
        ax.set_aspect("equal")
    ax.grid(False)
    if spec is None:
        ax.set_xlabel("ground truth 0")
        ax.set_ylabel("ground truth 1")
        return
    names = [*spec.descriptor_names, "", ""]
    ax.set_xlabel(names[0] or "ground truth 0")
    ax.set_ylabel(names[1] or ("ground truth 1" if len(spec.descriptor_low) > 1 else ""))
    if len(spec.descriptor_low) != 2:
        return
    for i, area in enumerate(spec.reward_areas):
        if isinstance(area, RewardArea):
            ax.add_patch(
                Circle(
                    area.center,
                    area.radius,
                    fill=False,
                    linestyle="--",
                    linewidth=1.0,
                    edgecolor=area_color(i),
                    zorder=3,
                )
            )
            ax.annotate(
                f"area {i}",
                (area.center[0], area.center[1] + area.radius),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                color=area_color(i),
            )


def _reward_norm(rewards: Sequence[np.ndarray]) -> Normalize:
    values = np.concatenate([np.asarray(r, float) for r in rewards] or [np.zeros(1)])
    top = float(np.nanmax(values)) if values.size and np.isfinite(values).any() else 1.0
    return Normalize(0.0, top if top > 0 else 1.0)


def _scatter_rewards(ax: Axes, points: np.ndarray, rewards: np.ndarray, norm: Normalize) -> None:
    """Agents without reward in light grey underneath, rewarded ones coloured by reward."""
    p = plane(points)
    r = np.asarray(rewards, dtype=np.float64)
    none = ~(r > 0)
    size = 6 if len(p) > 2000 else 10
    ax.scatter(p[none, 0], p[none, 1], s=size, c=NO_REWARD_COLOR, linewidths=0, zorder=1)
    order = np.argsort(r[~none], kind="stable")  # best on top
    ax.scatter(
        p[~none][order, 0],
        p[~none][order, 1],
        s=size + 6,
        c=r[~none][order],
        cmap=REWARD_CMAP,
        norm=norm,
        linewidths=0.3,
        edgecolors="black",
        zorder=2,
    )


@styled
def archive_figure(
    panels: Sequence[PointsPanel],
    spec: TaskSpec | None,
    *,
    title: str | None = None,
    ncols: int = 3,
) -> Figure:
    """Agents scattered in the ground-truth space, coloured by reward, one panel each."""
    rows, cols = _grid(len(panels), ncols)
    figure = new_figure(3.3 * cols + 0.6, 3.2 * rows + 0.3)
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    norm = _reward_norm([p.rewards for p in panels])
    low, high = _box(spec, [p.points for p in panels])
    for ax, panel in zip(axes, panels, strict=False):
        _scatter_rewards(ax, panel.points, panel.rewards, norm)
        _ground_truth_axes(ax, spec, low, high)
        ax.set_title(panel.title)
        if panel.note:
            ax.text(
                0.01,
                0.01,
                panel.note,
                transform=ax.transAxes,
                fontsize=6.5,
                color="#555555",
                in_layout=False,
            )
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    figure.colorbar(
        ScalarMappable(norm=norm, cmap=REWARD_CMAP),
        ax=axes[: len(panels)].tolist(),
        label="reward (grey: none)",
        shrink=0.8,
    )
    if title:
        figure.suptitle(title)
    return figure


# --- the learned space ----------------------------------------------------------------


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection on the first two principal components, and their explained-variance shares.

    Signs are fixed (largest loading positive) so the picture is deterministic.
    """
    data = np.asarray(x, dtype=np.float64)
    data = data[:, np.isfinite(data).all(axis=0)] if data.size else data
    if data.ndim != 2 or len(data) < 2 or data.shape[1] == 0:
        return np.zeros((len(data), 2)), np.zeros(2)
    centred = data - data.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, vt.shape[0])
    components = vt[:k]
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1.0, signs)[:, None]
    projected = centred @ components.T
    variance = singular**2
    shares = variance[:k] / variance.sum() if variance.sum() > 0 else np.zeros(k)
    if k < 2:
        projected = np.column_stack([projected, np.zeros(len(projected))])
        shares = np.append(shares, 0.0)
    return projected, shares


def ground_truth_colors(points: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """A 2-D colour map over the ground-truth box (bilinear between four corner colours).

    Agents close in the ground truth get close colours, so a projection of the
    learned space coloured this way shows whether it keeps neighbourhoods.
    """
    p = plane(points)
    span = np.where(high > low, high - low, 1.0)
    u = np.clip((p - low) / span, 0.0, 1.0)
    corners = np.array(
        [
            [0.18, 0.42, 0.85],  # low x, low y: blue
            [0.86, 0.27, 0.22],  # high x, low y: red
            [0.20, 0.70, 0.35],  # low x, high y: green
            [0.97, 0.80, 0.20],  # high x, high y: yellow
        ]
    )
    a, b = u[:, :1], u[:, 1:2]
    return (
        (1 - a) * (1 - b) * corners[0]
        + a * (1 - b) * corners[1]
        + (1 - a) * b * corners[2]
        + a * b * corners[3]
    )


@dataclass(frozen=True)
class ProjectionPanel:
    """Agents of one run in its learned space: descriptors, ground truth, rewards."""

    title: str
    descriptors: np.ndarray
    ground_truth: np.ndarray
    rewards: np.ndarray


@styled
def projection_figure(
    panels: Sequence[ProjectionPanel],
    spec: TaskSpec | None,
    *,
    title: str | None = None,
    ncols: int = 3,
) -> Figure:
    """The learned behavior space projected on its first two principal components.

    Each agent is coloured by where it is in the ground-truth space (the last
    panel is the colour key, with the reward areas), rewarded agents ringed in
    black: if the learned space keeps the ground truth's neighbourhoods, colours
    vary smoothly. The projection's units are arbitrary, so its ticks are hidden.
    """
    rows, cols = _grid(len(panels) + 1, ncols + 1 if len(panels) <= ncols else ncols)
    figure = new_figure(3.0 * cols, 3.0 * rows + 0.4)
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    low, high = _box(spec, [p.ground_truth for p in panels])
    for ax, panel in zip(axes, panels, strict=False):
        projected, shares = pca_2d(panel.descriptors)
        colors = ground_truth_colors(panel.ground_truth, low, high)
        rewarded = np.asarray(panel.rewards) > 0
        size = 6 if len(projected) > 2000 else 12
        ax.scatter(projected[:, 0], projected[:, 1], s=size, c=colors, linewidths=0)
        ax.scatter(
            projected[rewarded, 0],
            projected[rewarded, 1],
            s=size + 10,
            facecolors="none",
            edgecolors="black",
            linewidths=0.6,
        )
        ax.set_xlabel(f"PC 1 ({shares[0]:.0%} of variance)")
        ax.set_ylabel(f"PC 2 ({shares[1]:.0%} of variance)")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(panel.title)
    key = axes[len(panels)]
    side = np.linspace(0.0, 1.0, 64)
    grid = np.stack(np.meshgrid(side, side), axis=-1).reshape(-1, 2)
    image = ground_truth_colors(grid, np.zeros(2), np.ones(2)).reshape(64, 64, 3)
    key.imshow(image, origin="lower", extent=(low[0], high[0], low[1], high[1]), aspect="auto")
    _ground_truth_axes(key, spec, low, high)
    key.set_title("colour key: ground truth")
    for ax in axes[len(panels) + 1 :]:
        ax.set_visible(False)
    handle = Line2D(
        [], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="black"
    )
    _legend(figure, [handle], ["rewarded agent"])
    if title:
        figure.suptitle(title)
    return figure


# --- emitters -------------------------------------------------------------------------


@dataclass(frozen=True)
class EmitterSpan:
    """When one emitter lived and ran: evaluation indices from the log and its record."""

    emitter: int
    area: int
    segments: tuple[tuple[int, int], ...]  # (first index, count) of each contiguous stretch
    created_at: int | None = None
    stopped_at: int | None = None
    stop_reason: str | None = None


def contiguous_segments(indices: np.ndarray) -> tuple[tuple[int, int], ...]:
    """``(start, length)`` of each run of consecutive integers in sorted ``indices``."""
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size == 0:
        return ()
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [idx.size]])
    return tuple((int(idx[s]), int(e - s)) for s, e in zip(starts, ends, strict=True))


@styled
def emitter_timeline_figure(spans: Sequence[EmitterSpan], n_evaluations: int) -> Figure:
    """One row per emitter: its life from creation to stop, its evaluations as bars.

    A thin line runs from the emitter's creation (when its ancestor was found)
    to its stop (or the end of the run); thick bars, coloured by the reward area
    the emitter exploits, are the stretches of evaluations it spent; a cross
    marks a stop (stagnation or a failed trial).
    """
    n = len(spans)
    figure = new_figure(7.0, min(10.0, 1.3 + 0.16 * max(n, 4)))
    ax = figure.add_subplot()
    areas = sorted({s.area for s in spans})
    for row, span in enumerate(spans):
        color = area_color(span.area) if span.area >= 0 else EXPLORE_COLOR
        first = span.segments[0][0] if span.segments else None
        start = span.created_at if span.created_at is not None else first
        end = span.stopped_at if span.stopped_at is not None else n_evaluations
        if start is not None:
            ax.hlines(row, start, end, color=color, alpha=0.45, linewidth=0.8)
        ax.broken_barh(span.segments, (row - 0.35, 0.7), facecolors=color, linewidth=0)
        if span.stopped_at is not None:
            ax.plot(span.stopped_at, row, marker="x", color="black", markersize=3.5, mew=0.8)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(0, max(n_evaluations, 1))
    step = max(1, math.ceil(n / 25))
    ax.set_yticks(range(0, n, step), [str(spans[r].emitter) for r in range(0, n, step)])
    ax.set_ylabel("emitter")
    ax.grid(axis="y", visible=False)
    _evaluations_axis(ax)
    handles: list[Any] = [Patch(color=area_color(a), label=f"area {a}") for a in areas if a >= 0]
    handles.append(Line2D([], [], color="grey", linewidth=0.8, label="alive (created to stop)"))
    handles.append(Line2D([], [], marker="x", color="black", linestyle="", label="stopped"))
    _legend(figure, handles, [h.get_label() for h in handles])
    return figure


# --- policies -------------------------------------------------------------------------


@dataclass(frozen=True)
class FramesRow:
    """Frames of one episode, with a label and the step after which each was rendered."""

    label: str
    frames: np.ndarray  # (S, H, W, 3) uint8
    steps: np.ndarray  # (S,)


@styled
def policy_frames_figure(rows: Sequence[FramesRow]) -> Figure:
    """Episodes as film strips: one row per policy, its frames left to right."""
    n_cols = max(len(r.frames) for r in rows)
    figure = new_figure(1.15 * n_cols + 0.3, 1.35 * len(rows) + 0.2)
    axes = figure.subplots(len(rows), n_cols, squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c >= len(row.frames):
                ax.set_visible(False)
                continue
            for spine in ax.spines.values():  # a thin frame: the task's frames are mostly white
                spine.set_visible(True)
                spine.set_color("#b0b0b0")
                spine.set_linewidth(0.6)
            ax.imshow(row.frames[c], interpolation="nearest")
            ax.set_title(f"step {int(row.steps[c]) + 1}", fontsize=7, pad=2)
        axes[r, 0].set_ylabel(row.label, fontsize=8, rotation=0, ha="right", va="center")
    return figure


# --- the exploration animation ------------------------------------------------------------


@styled
def exploration_animation(
    explore_points: np.ndarray,
    explore_indices: np.ndarray,
    emitter_points: np.ndarray,
    emitter_indices: np.ndarray,
    n_evaluations: int,
    spec: TaskSpec | None,
    *,
    n_frames: int = 40,
    frame_ms: int = 150,
    hold_ms: int = 2000,
    grid_shape: tuple[int, int] = (50, 50),
) -> bytes:
    """An animated GIF of the exploration: the ground-truth grid filling up.

    Each frame shows how many exploration agents fell in each cell of the
    ground-truth grid so far (log colour scale, fixed over the animation) and,
    in orange, the evaluations emitters made since the previous frame; the last
    frame is held for ``hold_ms``. The static parts are drawn once and the
    changing ones blitted over them, and every frame shares one palette (no
    flicker, deterministic bytes).

    Args:
        explore_points, explore_indices: ground truth and evaluation index of
            the exploration agents.
        emitter_points, emitter_indices: the same for emitter evaluations.
        n_evaluations: evaluations in the run (the last frame).
        spec: the task (box, grid, reward areas), or None to use the data's extent
            and ``grid_shape``.

    Returns:
        The GIF file's bytes.
    """
    from matplotlib.colors import LogNorm
    from PIL import Image

    explore_xy = plane(explore_points)
    emitter_xy = plane(emitter_points)
    low, high = _box(spec, [explore_xy, emitter_xy])
    dims = tuple(spec.grid_shape[:2]) if spec is not None else tuple(grid_shape)
    shape = (int(dims[0]), int(dims[1]) if len(dims) > 1 else 1)
    n_cells = shape[0] * shape[1]
    # The metrics' discretisation (serendip.metrics.grid_cells) on the first two axes.
    scaled = (explore_xy - low) / np.where(high > low, high - low, 1.0) * np.array(shape)
    ok = np.isfinite(scaled).all(axis=1)
    coords = np.floor(np.clip(scaled[ok], 0.0, np.array(shape) - 1.0)).astype(np.int64)
    cells = coords[:, 0] * shape[1] + coords[:, 1]
    cell_index = np.asarray(explore_indices, dtype=np.int64)[ok]
    final = np.bincount(cells, minlength=n_cells)
    top = max(int(final.max()) if final.size else 1, 2)
    n_frames = max(1, min(n_frames, n_evaluations))
    stops = np.unique(np.linspace(0, n_evaluations, n_frames + 1)[1:].round().astype(np.int64))

    figure = new_figure(4.6, 4.4)
    canvas = figure.canvas
    ax = figure.add_subplot()
    counts = np.zeros(n_cells, dtype=np.int64)
    image = ax.imshow(
        np.ma.masked_equal(counts.reshape(shape).T, 0),
        origin="lower",
        extent=(low[0], high[0], low[1], high[1]),
        cmap=ListedColormap(matplotlib.colormaps["Blues"](np.linspace(0.25, 1.0, 256))),
        norm=LogNorm(1, top),
        interpolation="nearest",
        aspect="auto",
    )
    _ground_truth_axes(ax, spec, low, high)
    recent = ax.scatter(np.zeros(0), np.zeros(0), s=5, c="#f28e2b", linewidths=0)
    figure.colorbar(image, ax=ax, label="exploration agents per cell", shrink=0.8)
    title = ax.set_title(f"{n_evaluations:,} evaluations  ·  100.0% of cells")
    canvas.draw()  # lay out once, with the longest title
    figure.set_layout_engine("none")
    dynamic = [image, *ax.patches, *ax.texts, recent, title]
    for artist in dynamic:
        artist.set_animated(True)
    canvas.draw()
    background = canvas.copy_from_bbox(figure.bbox)  # type: ignore[attr-defined]

    emitter_at = np.asarray(emitter_indices, dtype=np.int64)
    frames: list[np.ndarray] = []
    previous = 0
    for stop in stops:
        take = (cell_index >= previous) & (cell_index < stop)
        counts += np.bincount(cells[take], minlength=n_cells)
        image.set_data(np.ma.masked_equal(counts.reshape(shape).T, 0))
        near = np.flatnonzero((emitter_at >= previous) & (emitter_at < stop))
        if near.size > 3000:  # keep frames light: an even subsample
            near = near[np.linspace(0, near.size - 1, 3000).astype(np.int64)]
        recent.set_offsets(emitter_xy[near] if near.size else np.zeros((0, 2)))
        title.set_text(
            f"{int(stop):,} evaluations  ·  {np.count_nonzero(counts) / n_cells:.1%} of cells"
        )
        canvas.restore_region(background)  # type: ignore[attr-defined]
        for artist in dynamic:
            ax.draw_artist(artist)
        frames.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())  # type: ignore[attr-defined]
        previous = int(stop)

    # One palette for all frames, from a sample of them (the last one has no emitter dots).
    sample = np.concatenate([*frames[:: max(1, len(frames) // 8)], frames[-1]], axis=0)
    palette = Image.fromarray(sample).quantize(colors=255, method=Image.Quantize.FASTOCTREE)
    images = [
        Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames
    ]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=[frame_ms] * (len(images) - 1) + [hold_ms],
        loop=0,
    )
    return buffer.getvalue()
