"""The command line's grammar: help for every option, options where users put them,
errors in the words users type."""

from __future__ import annotations

import argparse
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import drivers.devices
from linecontrol.cli import build_parser, main


def parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the command tree, with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from parsers(child, (*path, name))


def internal_names() -> set[str]:
    """Destination names a user never types: those of commands and positionals that
    are not just their metavar in lower case (``recipe_command``, ``files``)."""
    names = set()
    for _, p in parsers(build_parser()):
        for a in p._actions:
            if not a.option_strings and a.dest != str(a.metavar).lower():
                names.add(a.dest)
    return names


def shows_internal(err: str) -> set[str]:
    return {n for n in internal_names() if re.search(rf"\b{n}\b", err)}


def test_every_option_and_command_has_help() -> None:
    missing = []
    for path, p in parsers(build_parser()):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                missing += [f"{' '.join(path)} {c.dest}" for c in a._choices_actions if not c.help]
            elif not a.help or a.help == argparse.SUPPRESS:
                missing.append(f"{' '.join(path)} {a.option_strings or a.dest}")
    assert missing == []


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "--data-dir", "X", "list"],
        ["runs", "list", "--data-dir", "X"],
        ["runs", "show", "R", "--data-dir", "X"],
        ["runs", "show", "--data-dir", "X", "R"],
        ["runs", "export", "R", "--format", "csv", "--data-dir", "X"],
        ["runs", "--data-dir", "Y", "list", "--data-dir", "X"],  # after the command wins
    ],
)
def test_a_group_option_is_accepted_before_and_after_the_command(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).data_dir == Path("X")


def test_a_group_option_not_given_keeps_its_default() -> None:
    assert build_parser().parse_args(["runs", "list"]).data_dir is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "linecontrol: error: choose a command: recipe, sim, regmap, record, run, runs"),
        (["recipe"], "linecontrol recipe: error: choose a command: check"),
        (["runs"], "linecontrol runs: error: choose a command: list, show, export"),
        (["runs", "lst"], "argument COMMAND: invalid choice: 'lst'"),
        (["recipe", "check"], "the following arguments are required: FILE"),
        (["runs", "show"], "the following arguments are required: RUN"),
        (["regmap"], "the following arguments are required: DEVICE"),
    ],
)
def test_a_missing_or_wrong_command_is_named_as_the_user_types_it(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert expected in err
    assert not shows_internal(err), err


def test_no_command_or_argument_error_anywhere_shows_an_internal_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    errors = 0
    for path, _ in parsers(build_parser()):
        # Parse only (``sim`` alone would start the simulators); a group without its
        # command fails when run.
        try:
            args = build_parser().parse_args(list(path))
            if args.func.__name__ == "missing":
                args.func(args)
            continue  # a command that needs no arguments
        except SystemExit:
            pass
        shown = capsys.readouterr().err.split("error:", 1)[1]
        assert not shows_internal(shown), (path, shown)
        errors += 1
    assert errors >= 6


def test_regmap_help_lists_every_instrument_model(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["regmap", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    models = [m.name for m in pkgutil.iter_modules(drivers.devices.__path__)]
    assert len(models) >= 8
    assert [m for m in models if m not in out] == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["record", "--duration", "x"], "argument --duration: 'x' is not a number"),
        (["record", "--duration", "1", "--sample-hz", "nan"], "--sample-hz: 'nan' is not finite"),
        (["sim", "--time-scale", "inf"], "argument --time-scale: 'inf' is not finite"),
        (["runs", "export", "R", "--format", "csv", "--from=-inf"], "'-inf' is not finite"),
    ],
)
def test_a_number_option_that_is_not_a_finite_number_says_so_without_a_unit(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # One parser for every number option: "seconds" was wrong for --sample-hz and --time-scale.
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and "seconds" not in err, err
