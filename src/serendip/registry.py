"""Registries of named parts: tasks, behavior spaces, algorithms.

The built-ins register themselves exactly as a user's own parts do
(``serendip.register_task``, ``serendip.register_behavior_space``,
``serendip.register_algorithm``), so a registered name works everywhere a
built-in one does: a config file, ``serendip run``, a sweep, ``Search``.

A factory may be given as an object or, like Gymnasium's entry points, as a
``"module:attribute"`` string imported on first use, so that listing names
imports nothing heavy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entry:
    """One registered part: its factory, a one-line summary and free-form traits."""

    name: str
    factory: Callable[..., Any] | str
    summary: str = ""
    traits: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Callable[..., Any]:
        """The factory, imported first when it was registered as ``"module:attribute"``."""
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attribute = self.factory.partition(":")
        target: Any = importlib.import_module(module)
        for part in attribute.split("."):
            target = getattr(target, part)
        return target

    @property
    def module(self) -> str | None:
        """The module that defines the factory (imported again in worker processes)."""
        if isinstance(self.factory, str):
            return self.factory.partition(":")[0]
        return getattr(self.factory, "__module__", None)


class Registry:
    """Named entries of one kind of part, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(
        self,
        name: str,
        factory: Callable[..., Any] | str,
        *,
        summary: str = "",
        replace: bool = False,
        **traits: Any,
    ) -> Entry:
        """Add ``name``; registering a taken name again needs ``replace=True``."""
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
            raise ValueError(
                f"the factory of {self.kind} {name!r} must be callable or 'module:attribute', "
                f"got {factory!r}"
            )
        if name in self._entries and not replace:
            raise ValueError(f"{self.kind} {name!r} is registered already (pass replace=True)")
        entry = Entry(name, factory, summary, dict(traits))
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.kind} {name!r}; accepted: {', '.join(self.names())}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def user_modules(self) -> list[str]:
        """Modules outside serendip that registered entries (a worker imports them again)."""
        modules = {entry.module for entry in self._entries.values()}
        return sorted(m for m in modules if m and not m.startswith("serendip") and m != "__main__")
