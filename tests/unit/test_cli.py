"""The top-level parser registers only the module of the subcommand given."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from sparkrig.cli import COMMAND_MODULES, COMMAND_OWNERS, build_parser, main


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def test_command_owners_cover_every_subcommand() -> None:
    assert set(COMMAND_OWNERS) == _subcommands(build_parser())
    assert set(COMMAND_OWNERS.values()) == set(COMMAND_MODULES)


@pytest.mark.parametrize("command", sorted(COMMAND_OWNERS))
def test_parser_for_one_command_registers_its_module(command: str) -> None:
    owner = COMMAND_OWNERS[command]
    expected = {name for name, module in COMMAND_OWNERS.items() if module == owner}
    assert _subcommands(build_parser(command)) == expected


def test_unknown_command_lists_every_choice(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    for command in COMMAND_OWNERS:
        assert command in error


def test_verbose_flag_before_command_still_selects_it() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["-v", "run", "--help"])
    assert exit_info.value.code == 0


def test_run_path_skips_heavy_imports() -> None:
    probe = (
        "import sys\n"
        "from sparkrig.cli import main\n"
        "try:\n"
        "    main(['run', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "import sparkrig.execute, sparkrig.runner.orchestrator, sparkrig.report.history\n"
        "heavy = ['kubernetes', 'jinja2', 'jsonschema', 'junit_xml', 'rich']\n"
        "print('loaded:' + ','.join(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.splitlines()[-1] == "loaded:"
