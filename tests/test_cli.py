"""The command line: every command has help, and its arguments are checked."""

import subprocess
import sys

import pytest

from panro.cli import build_parser

COMMANDS = ["simulate", "serve", "deliver", "run", "status", "warehouse", "airflow", "demo"]


def test_top_level_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "panro.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in COMMANDS:
        assert command in out.stdout


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "airflow"])
def test_each_command_has_help(command):
    out = subprocess.run(
        [sys.executable, "-m", "panro.cli", command, "--help"], capture_output=True, text=True, check=True
    )
    assert "usage: panro " + command in out.stdout


def test_bad_arguments_are_refused():
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--from", "2024-13-01"])
    with pytest.raises(SystemExit):
        parser.parse_args(["warehouse", "explode"])


def test_serve_needs_its_secrets(monkeypatch, tmp_path):
    monkeypatch.delenv("PORTAL_TOKEN", raising=False)
    monkeypatch.setenv("NTS_SERVICE_KEY", "k")
    from panro.cli import main

    assert main(["serve", "--scenario", str(tmp_path)]) == 2
