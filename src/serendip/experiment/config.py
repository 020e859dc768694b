"""The run configuration: one validated, immutable object a run is built from.

Every field is checked when the config is built, from a YAML file, a mapping or
command-line flags, and a wrong value raises :class:`ConfigError` naming the
field and what it accepts, before anything is written.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from serendip.algorithms import ALGORITHMS, RandomSearchConfig
from serendip.exploration.novelty_search import ARCHIVE_SELECTIONS, NoveltySearchConfig
from serendip.tasks import TASKS

BACKENDS = ("inprocess",)
MAX_SEED = 2**32 - 1


class ConfigError(ValueError):
    """An invalid configuration value; ``str()`` is one line: ``field: what is wrong``."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


def _integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    bounds = _bounds_text(low, high)
    if isinstance(value, bool):
        raise ConfigError(name, f"must be an integer{bounds}, got {value!r}")
    if isinstance(value, str):
        try:
            value = int(value.strip().replace("_", ""))
        except ValueError:
            raise ConfigError(name, f"must be an integer{bounds}, got {value!r}") from None
    if isinstance(value, float):
        if not value.is_integer():
            raise ConfigError(name, f"must be an integer{bounds}, got {value!r}")
        value = int(value)
    if not isinstance(value, int):
        raise ConfigError(name, f"must be an integer{bounds}, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(name, f"must be an integer{bounds}, got {value}")
    return value


def _real(name: str, value: Any, *, low: float | None = None, positive: bool = False) -> float:
    what = "a positive number" if positive else "a number" + _bounds_text(low, None)
    if isinstance(value, bool):
        raise ConfigError(name, f"must be {what}, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"must be {what}, got {value!r}") from None
    if (
        not math.isfinite(number)
        or (positive and number <= 0)
        or (low is not None and number < low)
    ):
        raise ConfigError(name, f"must be {what}, got {value!r}")
    return number


def _choice(name: str, value: Any, accepted: tuple[str, ...] | list[str]) -> str:
    if not isinstance(value, str) or value not in accepted:
        raise ConfigError(name, f"must be one of {', '.join(accepted)}; got {value!r}")
    return value


def _bounds_text(low: int | float | None, high: int | float | None) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    return ""


def _section(name: str, cls: type, values: Any, check) -> Any:
    """Build a nested section dataclass from a mapping, rejecting unknown keys."""
    if values is None:
        values = {}
    if isinstance(values, cls):
        values = dataclasses.asdict(values)
    if not isinstance(values, dict):
        raise ConfigError(name, f"must be a mapping of {_field_names(cls)}; got {values!r}")
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise ConfigError(f"{name}.{key}", f"unknown field; accepted: {_field_names(cls)}")
    merged = {**dataclasses.asdict(cls()), **values}
    return cls(**{key: check(f"{name}.{key}", key, value) for key, value in merged.items()})


def _field_names(cls: type) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def _check_novelty_search(name: str, key: str, value: Any) -> Any:
    if key == "mutation_sigma":
        return _real(name, value, positive=True)
    if key == "archive_selection":
        return _choice(name, value, ARCHIVE_SELECTIONS)
    if key in ("archive_insertions",):
        return _integer(name, value, low=0)
    return _integer(name, value, low=1)


def _check_random_search(name: str, key: str, value: Any) -> Any:
    return _integer(name, value, low=1)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. Build with :meth:`from_dict` to validate.

    Attributes:
        task: task name (``serendip tasks``).
        algorithm: algorithm name (``serendip algorithms``).
        budget: number of evaluations (episodes).
        seed: the run's seed; every random draw derives from it.
        out: run directory; ``None`` picks ``runs/<task>-<algorithm>-seed<seed>``.
        frames: frames per episode S; ``None`` lets the algorithm decide (0 when
            it does not look at frames).
        backend: where batches are evaluated.
        reward_threshold: return that counts as reaching the reward (gym tasks).
        metrics_every: evaluations between two points of the metric curves.
        novelty_search: parameters of the exploration process.
        random_search: parameters of random search.
    """

    task: str = "arm"
    algorithm: str = "ns"
    budget: int = 100_000
    seed: int = 0
    out: str | None = None
    frames: int | None = None
    backend: str = "inprocess"
    reward_threshold: float | None = None
    metrics_every: int = 1000
    novelty_search: NoveltySearchConfig = field(default_factory=NoveltySearchConfig)
    random_search: RandomSearchConfig = field(default_factory=RandomSearchConfig)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> RunConfig:
        """Validate a mapping (from YAML or flags); missing fields take their defaults."""
        values = dict(values or {})
        accepted = _field_names(cls)
        for key in values:
            if key not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(str(key), f"unknown field; accepted: {accepted}")
        merged = {**{f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}, **values}
        task = _choice("task", merged["task"], list(TASKS))
        reward_threshold = merged["reward_threshold"]
        if reward_threshold is not None:
            if not task.startswith("gym:"):
                raise ConfigError(
                    "reward_threshold", f"only applies to gym:<id> tasks, not to task {task!r}"
                )
            reward_threshold = _real("reward_threshold", reward_threshold)
        out = merged["out"]
        if out is not None and (not isinstance(out, str | Path) or not str(out).strip()):
            raise ConfigError("out", f"must be a directory path, got {out!r}")
        return cls(
            task=task,
            algorithm=_choice("algorithm", merged["algorithm"], list(ALGORITHMS)),
            budget=_integer("budget", merged["budget"], low=1),
            seed=_integer("seed", merged["seed"], low=0, high=MAX_SEED),
            out=None if out is None else str(out),
            frames=None
            if merged["frames"] is None
            else _integer("frames", merged["frames"], low=0),
            backend=_choice("backend", merged["backend"], BACKENDS),
            reward_threshold=reward_threshold,
            metrics_every=_integer("metrics_every", merged["metrics_every"], low=1),
            novelty_search=_section(
                "novelty_search",
                NoveltySearchConfig,
                merged["novelty_search"],
                _check_novelty_search,
            ),
            random_search=_section(
                "random_search", RandomSearchConfig, merged["random_search"], _check_random_search
            ),
        )

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
        """Read a YAML config file; ``overrides`` (e.g. command-line flags) win."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise ConfigError("config", f"cannot read {str(path)!r}: {error.strerror}") from None
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as error:
            first = str(error).splitlines()[0] if str(error) else "invalid YAML"
            raise ConfigError("config", f"{str(path)!r} is not valid YAML: {first}") from None
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError("config", f"{str(path)!r} must hold a mapping of fields")
        return cls.from_dict({**values, **(overrides or {})})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed, validated again."""
        return RunConfig.from_dict({**self.to_dict(), **changes})
