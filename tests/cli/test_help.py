"""`rollout --version` and the examples under every subcommand's --help."""

from __future__ import annotations

import argparse
import shlex

import pytest

from sagemaker_rollouts import __version__
from sagemaker_rollouts.cli.main import (  # pyright: ignore[reportPrivateUsage]
    EXAMPLES,
    _check_usage,  # pyright: ignore[reportPrivateUsage]
    _parser,  # pyright: ignore[reportPrivateUsage]
)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # pyright: ignore[reportPrivateUsage]
    return dict(sub.choices)  # pyright: ignore[reportUnknownArgumentType]


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"rollout {__version__}"


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_subcommand_help_shows_examples_that_parse(name: str) -> None:
    command = subcommands()[name]
    examples = EXAMPLES.get(name, ())
    assert examples, f"`rollout {name}` has no examples in cli.main.EXAMPLES"
    text = command.format_help()
    for example in examples:
        assert example in text
        argv = shlex.split(example)
        assert argv[:2] == ["rollout", name]
        parser = _parser()
        parsed = parser.parse_args(argv[1:])  # a wrong flag exits with status 2
        assert parsed.command == name
        _check_usage(parser, parsed)  # and so does a combination the command refuses


def test_no_examples_for_commands_that_do_not_exist() -> None:
    assert set(EXAMPLES) <= set(subcommands())
