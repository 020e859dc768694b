"""Errors every layer may raise: a bad setting is one line naming the field."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid configuration value; ``str()`` is one line: ``field: what is wrong``.

    It lives at the bottom of the package so that a part (a ranker, a behavior
    space, an algorithm's factory) can reject a setting it cannot work with, and
    the command line turns it into one line and exit code 2 before anything is
    written.
    """

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(one_line(f"{field_name}: {message}"))


MAX_MESSAGE = 600
"""Longest error line: a value echoed back (a huge list, a long path) is cut short."""


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` on one line of at most about ``limit`` characters."""
    text = " ".join(text.splitlines())
    if len(text) <= limit:
        return text
    return f"{text[: limit - 60]} ... [{len(text) - limit + 40:,} characters cut] {text[-20:]}"


class RunError(RuntimeError):
    """A run that cannot go on (``str()`` is one line); its last checkpoint stays intact.

    Unlike a :class:`ConfigError`, it happens while the run runs (a training that
    diverges, an environment that hangs): the command line prints it as one line
    and exits with code 1, and what the run wrote before stays as it was.
    """


class TrainingError(RunError):
    """A learned space's training produced a non-finite loss."""
