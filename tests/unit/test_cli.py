"""The command surface the README and the Makefile promise."""

import pytest
from typer.testing import CliRunner

from streams.cli import app

COMMANDS = [["dev"], ["worker"], ["sink"], ["report"], ["feedback"], ["erase"], ["send"], ["kafka", "fetch"], ["config", "check"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_documented_command_exists(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_config_check_reports_the_shipped_config():
    result = CliRunner().invoke(app, ["config", "check"])
    assert result.exit_code == 0 and "15 models, 5 task types" in result.output
