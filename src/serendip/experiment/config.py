"""The run configuration: one validated, immutable object a run is built from.

Every field is checked when the config is built, from a YAML file, a mapping or
command-line flags, and a wrong value raises :class:`ConfigError` naming the
field and what it accepts, before anything is written. YAML is read by
:func:`parse_yaml`, which refuses a key given twice (plain PyYAML keeps the last).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from serendip.algorithms import (
    ALGORITHMS,
    CMAESConfig,
    CMAMEConfig,
    DNSConfig,
    MapElitesConfig,
    RandomSearchConfig,
    uses_frames,
)
from serendip.archives import ARCHIVE_SELECTIONS
from serendip.behavior import learned_space_names
from serendip.behavior.training import INFERENCE_PATHS, AutoencoderConfig
from serendip.emitters import EMITTER_KINDS
from serendip.errors import ConfigError
from serendip.evaluation import EvaluationConfig
from serendip.exploitation import ExploitationConfig
from serendip.exploration.novelty_search import NoveltySearchConfig
from serendip.exploration.rankers import RANKERS
from serendip.schedulers import SCHEDULERS
from serendip.tasks import REWARD_RULES, check_task_options, is_gym, task_names

BACKENDS = ("inprocess", "processes", "ray")
DEFAULT_LEARNED_FRAMES = 2
MAX_SEED = 2**31 - 1
"""The largest run seed: episode seeds are ``seed * 2**32 + evaluation index`` in int64."""
MAX_BUDGET = 2**32 - 1
"""The largest budget: an evaluation index stays below 2**32 in its episode seed."""
EPISODE_SEEDS = ("fixed", "per-evaluation")
"""How episodes are reset: every one with the run's seed, or each with its own."""
LEGACY_EPISODE_SEEDS = "per-evaluation"
"""The rule of every run made before ``episode_seeds`` existed (its config lacks it)."""
MAX_OPTION_DEPTH = 20
MAX_THREADS = 1024
"""The most torch threads a config may ask for (``learned_space.threads``): more
than any machine's cores, and far below what exhausts a process's threads (100,000
ended in a MemoryError, or "can't start new thread"). The same bound on every
machine, so a config that is valid on one is valid on all."""
MAX_PROCESSES = 1024
"""The most worker processes or Ray actors a config may ask for (``evaluation.workers``,
``env_processes``, a sweep's ``jobs``): each one is started at once."""


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


def _real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    positive: bool = False,
    what: str | None = None,
) -> float:
    if what is None:
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


def _share_of_time(value: Any) -> float:
    share = _real("checkpoint_share", value, what="a number in (0, 1]")
    if not 0 < share <= 1:
        raise ConfigError("checkpoint_share", f"must be a number in (0, 1], got {value!r}")
    return share


def _choice(name: str, value: Any, accepted: tuple[str, ...] | list[str]) -> str:
    if not isinstance(value, str) or value not in accepted:
        raise ConfigError(name, f"must be one of {', '.join(accepted)}; got {value!r}")
    return value


def _backend(value: Any) -> str:
    backend = _choice("backend", value, BACKENDS)
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise ConfigError("backend", 'ray needs Ray installed: pip install "serendip[ray]"')
    return backend


def _bounds_text(low: int | float | None, high: int | float | None) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    return ""


# How each field of each section is checked: ("int", low), ("int?", low[, high]) (None allowed),
# ("real+",) (positive), ("fraction",) (in (0, 1)), ("share",) (in [0, 1)), ("bool",),
# ("choice", accepted), ("address?",) (a Ray cluster address, None allowed),
# ("seconds?",) (None or a number of seconds >= 0), ("real", low) (a number >= low),
# ("grid?",) (None, a positive integer, or a list of them: cells per axis).
SECTION_RULES: dict[str, dict[str, tuple]] = {
    "novelty_search": {
        "population_size": ("int", 1),
        "offspring_per_parent": ("int", 1),
        "mutation_sigma": ("real+",),
        "k": ("int", 1),
        "archive_insertions": ("int", 0),
        "archive_selection": ("choice", ARCHIVE_SELECTIONS),
        "selection": ("choice?", RANKERS),
    },
    "random_search": {"batch_size": ("int", 1)},
    "map_elites": {
        "grid": ("grid?",),
        "batch_size": ("int", 1),
        "mutation_sigma": ("real+",),
        "replace_on_tie": ("bool",),
    },
    "cma_me": {
        "grid": ("grid?",),
        "emitters": ("int", 1),
        "population_size": ("int", 2),
        "sigma0": ("real+",),
        "initial_batch": ("int", 1),
    },
    "cma_es": {
        "population_size": ("int", 2),
        "sigma0": ("real+",),
        "population_growth": ("real", 1.0),
        "max_population_size": ("int", 2),
        "patience": ("int?", 1),
    },
    "dns": {
        "population_size": ("int", 2),
        "batch_size": ("int", 1),
        "mutation_sigma": ("real+",),
        "k": ("int", 1),
    },
    "learned_space": {
        "latent_size": ("int", 1),
        "learning_rate": ("real+",),
        "batch_size": ("int", 1),
        "max_epochs": ("int", 1),
        "patience": ("int", 1),
        "min_improvement": ("share",),
        "validation_fraction": ("fraction",),
        "max_training_frames": ("int?", 2),
        "reinitialise": ("bool",),
        "threads": ("int?", 1, MAX_THREADS),
        "encoder": ("choice", learned_space_names),  # the registered learned spaces
        "inference": ("choice", INFERENCE_PATHS),
    },
    "exploitation": {
        "chunk_size": ("int", 1),
        "scheduler": ("choice", SCHEDULERS),
        "emitter": ("choice", EMITTER_KINDS),
        "emitter_population": ("int", 2),
        "trial_generations": ("int", 1),
        "max_emitter_generations": ("int?", 1),
        "handback": ("int", 0),
    },
    "evaluation": {
        "workers": ("int?", 1, MAX_PROCESSES),
        "ray_address": ("address?",),
        "timeout": ("seconds?",),
    },
}

# "auto", or host:port (a name, an IPv4 address or a bracketed IPv6 one), optionally ray://.
_RAY_ADDRESS = re.compile(r"auto|(ray://)?([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}")


def _check(name: str, rule: tuple, value: Any) -> Any:
    kind = rule[0]
    if kind == "int":
        return _integer(name, value, low=rule[1])
    if kind == "int?":
        high = rule[2] if len(rule) > 2 else None
        return None if value is None else _integer(name, value, low=rule[1], high=high)
    if kind == "real+":
        return _real(name, value, positive=True)
    if kind == "real":
        return _real(name, value, low=rule[1])
    if kind == "grid?":
        return _grid(name, value)
    if kind == "fraction":
        number = _real(name, value, positive=True)
        if number >= 1:
            raise ConfigError(name, f"must be a number in (0, 1), got {value!r}")
        return number
    if kind == "share":
        number = _real(name, value, low=0.0)
        if number >= 1:
            raise ConfigError(name, f"must be a number in [0, 1), got {value!r}")
        return number
    if kind == "address?":
        if value is None or (isinstance(value, str) and _RAY_ADDRESS.fullmatch(value)):
            return value
        raise ConfigError(
            name,
            "must be null (start a local Ray cluster), 'auto' or 'host:port' of a running "
            f"cluster; got {value!r}",
        )
    if kind == "seconds?":
        if value is None:
            return None
        return _real(name, value, low=0, what="null (automatic) or a number of seconds >= 0")
    if kind == "choice?":
        return None if value is None else _choice(name, value, rule[1])
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(name, f"must be true or false, got {value!r}")
        return value
    accepted = rule[1]() if callable(rule[1]) else rule[1]
    return _choice(name, value, accepted)


def _grid(name: str, value: Any) -> int | tuple[int, ...] | None:
    """Cells per axis of a descriptor grid: None (the metrics' grid), n, or [n1, n2, ...]."""
    what = "null (the metrics' grid), a positive integer, or a list of positive integers"
    if value is None:
        return None
    if isinstance(value, list | tuple) and value:
        return tuple(_integer(name, v, low=1) for v in value)
    if isinstance(value, list | tuple):
        raise ConfigError(name, f"must be {what}, got {value!r}")
    try:
        return _integer(name, value, low=1)
    except ConfigError:
        raise ConfigError(name, f"must be {what}, got {value!r}") from None


def _section(name: str, cls: type, values: Any) -> Any:
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
    rules = SECTION_RULES[name]
    return cls(**{key: _check(f"{name}.{key}", rules[key], v) for key, v in merged.items()})


def _field_names(cls: type) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def import_plugins(value: Any) -> tuple[str, ...]:
    """Import the modules named by ``plugins`` (a list of module names); their names."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError("plugins", f"must be a list of module names, got {value!r}")
    for name in value:
        if not isinstance(name, str) or not re.fullmatch(
            r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", name
        ):
            raise ConfigError("plugins", f"must be a list of module names, got {name!r}")
        try:
            importlib.import_module(name)
        except Exception as error:  # the plugin's own failure, reported on one line
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConfigError("plugins", f"cannot import {name!r}: {first}") from None
    return tuple(value)


def default_episode_seeds(task: str) -> str:
    """``fixed`` for gym tasks (the papers' resets), ``per-evaluation`` for the others."""
    return "fixed" if is_gym(task) else "per-evaluation"


def _task_options(value: Any) -> dict[str, Any]:
    """A mapping of option names to plain data (what YAML holds: it is recorded as YAML)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError("task_options", f"must be a mapping {{option: value}}, got {value!r}")
    for key, item in value.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_]\w*", key):
            raise ConfigError("task_options", f"option names must be identifiers, got {key!r}")
        problem = _plain_data_problem(item, 0)
        if problem:
            raise ConfigError(f"task_options.{key}", problem)
    return {key: value[key] for key in value}


def _plain_data_problem(value: Any, depth: int) -> str | None:
    """Why ``value`` is not YAML-safe data (None, bool, int, float, str, lists, mappings)."""
    if depth > MAX_OPTION_DEPTH:
        return f"is nested more than {MAX_OPTION_DEPTH} levels deep"
    if value is None or isinstance(value, bool | int | str):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"must be a finite number, got {value!r}"
    if isinstance(value, list | tuple):
        for item in value:
            problem = _plain_data_problem(item, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = None if isinstance(key, str | int) else f"has a key {key!r}"
            problem = problem or _plain_data_problem(item, depth + 1)
            if problem:
                return problem
        return None
    return (
        "must be plain data (a number, a string, true/false, null, or lists and mappings "
        f"of those), got {type(value).__name__}"
    )


def _descriptor(value: Any) -> str | int | list[str] | list[int]:
    what = (
        "an observation key, a list of keys, or a list of flat observation indices (integers >= 0)"
    )
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise ConfigError("descriptor", f"must be {what}, got {value!r}")
    if all(isinstance(item, str) and item for item in items):
        keys = [str(item) for item in items]
        return keys[0] if isinstance(value, str) else keys
    if all(isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in items):
        indices = [int(item) for item in items]
        if len(set(indices)) != len(indices):
            raise ConfigError("descriptor", f"names an index twice: {value!r}")
        return indices[0] if isinstance(value, int) else indices
    raise ConfigError("descriptor", f"must be {what}, got {value!r}")


def _descriptor_bounds(value: Any) -> list[list[float]]:
    what = "[[low, ...], [high, ...]]: two equal-length lists of numbers with high > low"
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ConfigError("descriptor_bounds", f"must be {what}, got {value!r}")
    rows = []
    for row in value:
        if not isinstance(row, list | tuple) or not row:
            raise ConfigError("descriptor_bounds", f"must be {what}, got {value!r}")
        rows.append([_real("descriptor_bounds", v, what=what) for v in row])
    low, high = rows
    if len(low) != len(high) or any(h <= lo for lo, h in zip(low, high, strict=True)):
        raise ConfigError("descriptor_bounds", f"must be {what}, got {value!r}")
    return rows


MAX_YAML_BYTES = 1_000_000
"""Largest config or sweep file read: a config is a few hundred bytes."""
MAX_YAML_NODES = 100_000
"""Most values a config or sweep file may expand to, aliases counted each time used."""


def read_yaml(path: Path, field_name: str) -> Any:
    """A YAML file's content; a file that cannot be read or parsed is a ConfigError.

    Safe against hostile files: at most :data:`MAX_YAML_BYTES` are read (so a
    device such as ``/dev/zero`` cannot hang it), the text must be UTF-8, and the
    loaded value may expand to at most :data:`MAX_YAML_NODES` values counting every
    use of an alias (a "billion laughs" file is refused before anything walks it).
    """
    try:
        with open(path, "rb") as handle:
            payload = handle.read(MAX_YAML_BYTES + 1)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(field_name, f"cannot read {str(path)!r}: {reason}") from None
    if len(payload) > MAX_YAML_BYTES:
        raise ConfigError(field_name, f"{str(path)!r} is larger than {MAX_YAML_BYTES:,} bytes")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            field_name,
            f"{str(path)!r} is not UTF-8 text (byte {error.start}); a config is a YAML file",
        ) from None
    value = parse_yaml(text, field_name, f"{str(path)!r}")
    if _expanded_size(value, MAX_YAML_NODES) > MAX_YAML_NODES:
        raise ConfigError(
            field_name,
            f"{str(path)!r} expands to more than {MAX_YAML_NODES:,} values "
            "(aliases counted each time they are used)",
        )
    return value


class DuplicateKeyError(yaml.YAMLError):
    """A YAML mapping that holds a key twice: ``key`` is its dotted path from the root."""

    def __init__(self, key: str, lines: tuple[int, int]) -> None:
        super().__init__(f"{key} appears twice (lines {lines[0]} and {lines[1]})")
        self.key = key
        self.lines = lines


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that holds a key twice.

    Plain PyYAML keeps the last value of a repeated key without a word, so a config
    that says ``budget: 10`` twice (or a nested key twice) would run with whichever
    came last. Keys brought in by a merge (``<<: *base``) may be overridden: that is
    what a merge is for.
    """

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        self._check_unique_keys(node)
        return self.construct_document(node)

    def _check_unique_keys(self, root: yaml.Node) -> None:
        """Raise :class:`DuplicateKeyError` for the first mapping that repeats a key.

        Each node is visited once, however many aliases name it, so the walk is
        linear in the file's size (a "billion laughs" file is not expanded here).
        """
        seen_nodes: set[int] = set()
        stack: list[tuple[yaml.Node, str]] = [(root, "")]
        while stack:
            node, path = stack.pop()
            if id(node) in seen_nodes:
                continue
            seen_nodes.add(id(node))
            if isinstance(node, yaml.SequenceNode):
                stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
            elif isinstance(node, yaml.MappingNode):
                keys: dict[Any, int] = {}
                for key_node, value_node in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        stack.append((value_node, path))
                        continue
                    key = self._key(key_node)
                    name = f"{path}.{key}" if path else str(key)
                    line = key_node.start_mark.line + 1
                    if key is not None and key in keys:
                        raise DuplicateKeyError(name, (keys[key], line))
                    if key is not None:
                        keys[key] = line
                    stack.append((value_node, name))

    def _key(self, node: yaml.Node) -> Any:
        """A scalar key's value (``budget``, ``"budget"`` and ``'budget'`` are one key)."""
        if not isinstance(node, yaml.ScalarNode):
            return None  # a collection as a key: the loader refuses it as unhashable
        try:
            key = self.construct_object(node, deep=True)
            hash(key)
        except (yaml.YAMLError, TypeError):
            return None  # refused when the document is constructed
        return key


def parse_yaml(text: str, field_name: str, source: str) -> Any:
    """``text`` loaded as YAML (:class:`UniqueKeyLoader`); a problem is a ConfigError.

    Args:
        text: the YAML text.
        field_name: the field named when the text is not valid YAML.
        source: how the text is named in a message (a file's path, a flag).

    Raises:
        ConfigError: invalid YAML (named ``field_name``), a key given twice (named by
            its dotted path, ``learned_space.threads``), or nesting too deep.
    """
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader: plain data only
    except DuplicateKeyError as error:
        first, second = error.lines
        lines = f"line {first}" if first == second else f"lines {first} and {second}"
        raise ConfigError(
            error.key, f"set twice in {source} ({lines}); each key may appear once"
        ) from None
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0] if str(error) else "invalid YAML"
        raise ConfigError(field_name, f"{source} is not valid YAML: {first}") from None
    except RecursionError:
        raise ConfigError(field_name, f"{source} is nested too deeply") from None


def _expanded_size(value: Any, limit: int) -> int:
    """Values in ``value`` counting shared ones each time; stops counting past ``limit``."""
    count = 0
    stack = [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return count


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. Build with :meth:`from_dict` to validate.

    Attributes:
        task: task name (``serendip tasks``).
        algorithm: algorithm name (``serendip algorithms``).
        budget: number of evaluations (episodes).
        seed: the run's seed; every random draw derives from it.
        out: run directory; ``None`` picks ``runs/<task>-<algorithm>-seed<seed>``.
        frames: frames per episode S; ``None`` lets the algorithm decide
            (:data:`DEFAULT_LEARNED_FRAMES` for learned spaces, 0 otherwise).
        backend: where batches are evaluated: ``inprocess``, ``processes`` (local
            worker processes) or ``ray`` (Ray actors); the results are the same.
        task_options: the task's options, ``{name: value}``. A built-in task takes
            ``horizon`` (steps per episode) and ``reward_areas`` (a list of
            ``{center: [x, y], radius: r}`` in the task's world units, replacing its
            areas); a user's task, its factory's keyword arguments; a gym task,
            keyword arguments of ``gymnasium.make`` (the environment's own, such as
            ``continuing_task`` or a maze map, and ``max_episode_steps``). Empty
            (the default) keeps the task as specified, bit for bit.
        reward: gym tasks: how an episode succeeds (``serendip.tasks.REWARD_RULES``):
            ``return-threshold`` (its return reaches ``reward_threshold``),
            ``positive-reward`` (the environment ever gave a positive reward) or
            ``info-success`` (``info["is_success"]`` or ``info["success"]`` at the
            end). ``null`` (the default): ``return-threshold`` when a
            ``reward_threshold`` is given, else detected from the environment
            (:mod:`serendip.tasks.gym`), else refused with the list of rules.
        reward_threshold: gym tasks, ``return-threshold``: the return that counts as
            success, of any sign (default: the one the id is registered with).
        episode_seeds: how episodes are reset: ``fixed`` (every episode with the
            run's seed, as the STAX papers do: a genome always meets the same start
            and goal) or ``per-evaluation`` (episode ``i`` with
            ``seed * 2**32 + i``). ``null`` (the default) is ``fixed`` for gym tasks
            and ``per-evaluation`` for the others (only ``arm-distractors`` among the
            built-ins has randomness at reset); the resolved rule is recorded.
        descriptor: gym tasks: the ground-truth descriptor for coverage: observation
            key(s) of a Dict space (``achieved_goal``, ``[x, y]``) or flat indices of
            the flattened observation (``[0, 2]``); ``null``: ``achieved_goal`` when
            the observation has it, else the whole observation. One whose coverage
            grid would exceed :data:`~serendip.archives.grid.MAX_GRID_CELLS` (more
            than 23 values) is refused when the task is built.
        descriptor_bounds: gym tasks: ``[[low, ...], [high, ...]]`` of the descriptor
            (default: the observation space's bounds, unbounded ones +-10).
        env_processes: gym tasks with ``backend: inprocess``: worker processes that
            step a batch's environments;
            ``null`` (the default): one per core for batches of at least 32 episodes
            (``serendip.tasks.gym.MIN_PARALLEL_EPISODES``), smaller ones in the run's
            process; ``1``: always in the run's process; at most
            :data:`MAX_PROCESSES`. Results never depend on it.
        metrics_every: evaluations between two points of the metric curves.
        checkpoint_every: evaluations between two checkpoints, taken at the first
            chunk boundary after that many evaluations (0: only at the end and on
            an interrupt).
        checkpoint_share: the largest share of the run's wall time its checkpoints may
            take: a checkpoint that is due is skipped while the ones taken so far, plus
            the last one's cost again, would exceed this share of the time elapsed
            (1: take every one). Results never depend on it.
        tensorboard: also write TensorBoard scalars to ``RUN_DIR/tensorboard``
            (needs ``serendip[tensorboard]``).
        plugins: modules imported before the rest is validated, so that the tasks,
            algorithms and behavior spaces they register can be named (every process
            of a run or a sweep imports them again from the config).
        novelty_search: parameters of the exploration process.
        random_search: parameters of random search.
        map_elites, cma_me, cma_es, dns: parameters of those baselines.
        learned_space: the autoencoder and its training (TAXONS, STAX).
        exploitation: chunks, scheduler and emitters (SERENE, STAX).
        evaluation: options of the evaluation backends (workers, Ray address).
    """

    task: str = "arm"
    algorithm: str = "stax"
    budget: int = 30_000
    seed: int = 0
    out: str | None = None
    frames: int | None = None
    backend: str = "inprocess"
    task_options: dict[str, Any] = field(default_factory=dict)
    reward: str | None = None
    reward_threshold: float | None = None
    episode_seeds: str | None = None
    descriptor: str | int | list[str] | list[int] | None = None
    descriptor_bounds: list[list[float]] | None = None
    env_processes: int | None = None
    metrics_every: int = 1000
    checkpoint_every: int = 1000
    checkpoint_share: float = 0.02
    tensorboard: bool = False
    plugins: tuple[str, ...] = ()
    novelty_search: NoveltySearchConfig = field(default_factory=NoveltySearchConfig)
    random_search: RandomSearchConfig = field(default_factory=RandomSearchConfig)
    map_elites: MapElitesConfig = field(default_factory=MapElitesConfig)
    cma_me: CMAMEConfig = field(default_factory=CMAMEConfig)
    cma_es: CMAESConfig = field(default_factory=CMAESConfig)
    dns: DNSConfig = field(default_factory=DNSConfig)
    learned_space: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    exploitation: ExploitationConfig = field(default_factory=ExploitationConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    @property
    def resolved_frames(self) -> int:
        """Frames per episode the task renders for this run."""
        if self.frames is not None:
            return self.frames
        return DEFAULT_LEARNED_FRAMES if uses_frames(self.algorithm) else 0

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None, *, external_task: bool = False) -> RunConfig:
        """Validate a mapping (from YAML or flags); missing fields take their defaults.

        ``external_task``: the caller evaluates (``serendip.Search``), so ``task`` is
        a free label rather than a registered task.
        """
        values = dict(values or {})
        accepted = _field_names(cls)
        for key in values:
            if key not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(str(key), f"unknown field; accepted: {accepted}")
        merged = {**{f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}, **values}
        plugins = import_plugins(merged["plugins"])
        task = merged["task"]
        if external_task:
            if not isinstance(task, str):
                raise ConfigError("task", f"must be a name, got {task!r}")
        elif not is_gym(task):
            task = _choice("task", task, task_names())
        gym = is_gym(task) and not external_task
        task_options = _task_options(merged["task_options"])
        if not external_task:
            try:
                task_options = check_task_options(task, task_options)
            except KeyError as error:  # a task registered under a factory that fails to load
                raise ConfigError("task", str(error.args[0])) from None
        reward = merged["reward"]
        reward_threshold = merged["reward_threshold"]
        descriptor = merged["descriptor"]
        descriptor_bounds = merged["descriptor_bounds"]
        env_processes = merged["env_processes"]
        for name in (
            "reward",
            "reward_threshold",
            "descriptor",
            "descriptor_bounds",
            "env_processes",
        ):
            if merged[name] is not None and not gym:
                raise ConfigError(name, f"only applies to gym:<id> tasks, not to task {task!r}")
        if reward is not None:
            reward = _choice("reward", reward, REWARD_RULES)
        if reward_threshold is not None:
            if reward not in (None, "return-threshold"):
                raise ConfigError(
                    "reward_threshold", f"only applies to reward: return-threshold, not {reward}"
                )
            reward_threshold = _real("reward_threshold", reward_threshold, what="a finite number")
        if descriptor is not None:
            descriptor = _descriptor(descriptor)
        if descriptor_bounds is not None:
            descriptor_bounds = _descriptor_bounds(descriptor_bounds)
        if env_processes is not None:
            env_processes = _integer("env_processes", env_processes, low=1, high=MAX_PROCESSES)
        episode_seeds = merged["episode_seeds"]
        if episode_seeds is None:
            episode_seeds = default_episode_seeds(task)
        episode_seeds = _choice("episode_seeds", episode_seeds, EPISODE_SEEDS)
        out = merged["out"]
        if out is not None and (not isinstance(out, str | Path) or not str(out).strip()):
            raise ConfigError("out", f"must be a directory path, got {out!r}")
        return cls(
            task=task,
            algorithm=_choice("algorithm", merged["algorithm"], ALGORITHMS.names()),
            # The cap keeps episode seeds in 64 bits; a Search draws none.
            budget=_integer(
                "budget", merged["budget"], low=1, high=None if external_task else MAX_BUDGET
            ),
            seed=_integer("seed", merged["seed"], low=0, high=MAX_SEED),
            out=None if out is None else str(out),
            frames=None
            if merged["frames"] is None
            else _integer("frames", merged["frames"], low=0),
            backend=_backend(merged["backend"]),
            task_options=task_options,
            reward=reward,
            reward_threshold=reward_threshold,
            episode_seeds=episode_seeds,
            descriptor=descriptor,
            descriptor_bounds=descriptor_bounds,
            env_processes=env_processes,
            metrics_every=_integer("metrics_every", merged["metrics_every"], low=1),
            checkpoint_every=_integer("checkpoint_every", merged["checkpoint_every"], low=0),
            checkpoint_share=_share_of_time(merged["checkpoint_share"]),
            tensorboard=_check("tensorboard", ("bool",), merged["tensorboard"]),
            plugins=plugins,
            novelty_search=_section(
                "novelty_search", NoveltySearchConfig, merged["novelty_search"]
            ),
            random_search=_section("random_search", RandomSearchConfig, merged["random_search"]),
            map_elites=_section("map_elites", MapElitesConfig, merged["map_elites"]),
            cma_me=_section("cma_me", CMAMEConfig, merged["cma_me"]),
            cma_es=_section("cma_es", CMAESConfig, merged["cma_es"]),
            dns=_section("dns", DNSConfig, merged["dns"]),
            learned_space=_section("learned_space", AutoencoderConfig, merged["learned_space"]),
            exploitation=_section("exploitation", ExploitationConfig, merged["exploitation"]),
            evaluation=_section("evaluation", EvaluationConfig, merged["evaluation"]),
        )

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
        """Read a YAML config file; ``overrides`` (e.g. command-line flags) win."""
        path = Path(path)
        values = read_yaml(path, "config")
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError("config", f"{str(path)!r} must hold a mapping of fields")
        return cls.from_dict({**values, **(overrides or {})})

    @classmethod
    def from_run_dir(cls, run_dir: str | Path) -> RunConfig:
        """The config of a run directory (its ``config.yaml``).

        A run made before a field existed is read with the value that reproduces
        it: ``episode_seeds`` absent means ``per-evaluation``.
        """
        path = Path(run_dir) / "config.yaml"
        values = read_yaml(path, "config")
        if not isinstance(values, dict):
            raise ConfigError("config", f"{str(path)!r} must hold a mapping of fields")
        values.setdefault("episode_seeds", LEGACY_EPISODE_SEEDS)
        return cls.from_dict(values)

    def task_arguments(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~serendip.tasks.make_task` this config sets."""
        return {
            "options": dict(self.task_options),
            "reward": self.reward,
            "reward_threshold": self.reward_threshold,
            "descriptor": self.descriptor,
            "descriptor_bounds": self.descriptor_bounds,
        }

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["plugins"] = list(self.plugins)
        return values

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed, validated again."""
        return RunConfig.from_dict({**self.to_dict(), **changes})
