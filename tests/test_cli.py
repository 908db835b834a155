"""The command line: every command has help, and its arguments are checked."""

import subprocess
import sys

import pytest

from panro.cli import build_parser

COMMANDS = [
    "simulate",
    "serve",
    "deliver",
    "run",
    "status",
    "explain",
    "accept-load",
    "warehouse",
    "airflow",
    "rebuild-staging",
    "demo",
    "bench",
]


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


def test_serve_plays_the_portal_and_the_tax_office_with_the_faults_asked_for(tmp_path):
    """`panro serve` starts both simulated systems on loopback, each with the fault rate given."""
    import json
    import os
    import re
    import signal
    import urllib.request
    from datetime import date

    from panro.simulate import simulate

    scenario = tmp_path / "scenario"
    simulate(scenario, seed=3, first_day=date(2024, 3, 4), days=2, applications=50, name="serve")
    env = {**os.environ, "PORTAL_TOKEN": "t0ken", "NTS_SERVICE_KEY": "k3y", "NO_PROXY": "*"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "panro.cli",
            "serve",
            "--scenario",
            str(scenario),
            "--port",
            "0",
            "--nts-port",
            "0",
            "--fault-rate",
            "0.3",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        urls = re.findall(r"http://127\.0\.0\.1:\d+", line)
        assert len(urls) == 2, line
        for url in urls:
            with urllib.request.urlopen(url + "/_sim/faults", timeout=10) as response:
                assert json.load(response)["rate"] == 0.3
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
