"""Every help page of the command line: plain text, defaults, choices, aliases, exit codes.

The pages are found from the parser itself, so a new subcommand or option is
checked without touching this file.
"""

from __future__ import annotations

import argparse
import re

import pytest

from serendip import cli
from serendip.algorithms import ALGORITHMS
from serendip.experiment.config import BACKENDS, EPISODE_SEEDS, RunConfig
from serendip.experiment.sweep import SWEEP_BACKENDS
from serendip.tasks import REWARD_RULES


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli._parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


SUBCOMMANDS = _subcommands()
PAGES = [(), *((name,) for name in SUBCOMMANDS)]
MARKUP = re.compile(r"``|`|:(func|class|meth|mod|data|attr|ref):|\.\. [a-z]+::")
# The accepted values of each option that takes one of a fixed set (and the command).
CHOICES = {
    ("run", "--backend"): BACKENDS,
    ("run", "--episode-seeds"): EPISODE_SEEDS,
    ("run", "--reward"): REWARD_RULES,
    ("sweep", "--backend"): SWEEP_BACKENDS,
}


def render(args: tuple[str, ...], capsys, monkeypatch) -> str:
    """``serendip [ARGS] --help`` as a user sees it, 80 columns wide."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit_:
        cli.main([*args, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def flat(text: str) -> str:
    return " ".join(text.split())


def options(name: str) -> list[argparse.Action]:
    """The options of a subcommand, ``--help`` aside."""
    return [
        action
        for action in SUBCOMMANDS[name]._actions
        if action.option_strings and not isinstance(action, argparse._HelpAction)
    ]


def test_every_subcommand_has_a_page():
    assert set(SUBCOMMANDS) >= {"run", "resume", "sweep", "compare", "report", "tasks"}


@pytest.mark.parametrize("args", PAGES, ids=lambda args: " ".join(args) or "serendip")
def test_every_help_page_is_plain_text_within_80_columns(args, capsys, monkeypatch):
    text = render(args, capsys, monkeypatch)
    assert not MARKUP.search(text), MARKUP.search(text)
    too_long = [line for line in text.splitlines() if len(line) > 80]
    assert not too_long, too_long


@pytest.mark.parametrize("args", PAGES, ids=lambda args: " ".join(args) or "serendip")
def test_every_help_page_lists_the_exit_codes_in_its_epilog(args, capsys, monkeypatch):
    text = render(args, capsys, monkeypatch)
    assert text.count("exit codes:") == 1
    epilog = text.split("exit codes:")[1]
    assert "--help" not in epilog and "options:" not in epilog  # the page's end
    codes = [int(m) for m in re.findall(r"^  (\d+) ", epilog, flags=re.MULTILINE)]
    assert codes == [0, cli.EXIT_TASK, cli.EXIT_USAGE, cli.EXIT_INTERRUPTED] == [0, 1, 2, 130]
    assert "bad input" in epilog and "interrupted" in epilog and "resume" in epilog


@pytest.mark.parametrize(
    ("name", "action"),
    [(name, action) for name in SUBCOMMANDS for action in options(name)],
    ids=lambda item: item if isinstance(item, str) else item.option_strings[-1],
)
def test_every_option_shows_its_default(name, action, capsys, monkeypatch):
    page = flat(render((name,), capsys, monkeypatch))
    assert "(default: " in (action.help or ""), f"{name} {action.option_strings}: no default"
    assert flat(action.help or "") in page
    # An option that sets a config field shows that field's default, read from the
    # config (not a copy that could drift from it).
    default = getattr(RunConfig(), action.dest, None) if name == "run" else None
    if isinstance(default, str | int | float):  # a value, not an empty mapping
        assert f"(default: {default})" in page, (action.dest, default)


@pytest.mark.parametrize(("page", "flag"), list(CHOICES), ids=[" ".join(k) for k in CHOICES])
def test_options_with_a_fixed_set_of_values_list_them(page, flag, capsys, monkeypatch):
    text = render((page,), capsys, monkeypatch)
    listed = "{" + ",".join(CHOICES[(page, flag)]) + "}"
    assert f"{flag} {listed}" in text
    (action,) = [a for a in options(page) if flag in a.option_strings]
    assert action.dest.upper() not in text  # no generic placeholder such as BACKEND


def test_the_run_page_names_defaults_aliases_and_s(capsys, monkeypatch):
    text = flat(render(("run",), capsys, monkeypatch))
    defaults = RunConfig()
    for flag, value in [
        ("--task", defaults.task),
        ("--algo", defaults.algorithm),
        ("--budget", defaults.budget),
        ("--seed", defaults.seed),
    ]:
        assert re.search(rf"{flag} \S+ .*?\(default: {value}\)", text), flag
    assert "--frames S" in text
    assert "S, the frames sampled per episode" in text
    # Every algorithm is named; an alias only next to the algorithm it names.
    for name in ALGORITHMS.names():
        assert name in text
    assert "nsga-ii (alias: nsga2)" in text
    assert not re.search(r"nsga2,|, nsga2\b", text)


def test_the_sweep_and_algorithm_listings_agree_on_aliases(capsys):
    assert cli.main(["algorithms"]) == 0
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert lines["nsga2"] == "alias of nsga-ii"
