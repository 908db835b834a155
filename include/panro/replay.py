"""Replaying business days through the real Airflow DAGs.

``run_days`` (in the calling process) starts ``python -m panro.replay`` with Airflow's environment
(metadata in SQLite under the state folder, the project's dags/ and plugins/), which runs, for each day
D, ``dag.test()`` — what ``airflow dags test`` does — of both ingest DAGs for the interval
[D, D+1) KST and then of the transform DAG for round D. All output goes to a log file; progress lines
are echoed.

When replaying a scenario, the harness (not the connectors) plays the external systems' side: it moves
the simulated portal's and tax office's clocks to the end of D and delivers the files the partner
systems sent by D.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from panro.config import Settings, load_settings

KST = timezone(timedelta(hours=9))
# The order the real scheduler's daily timetable and asset triggers give: the application sources, the
# other partner files, then the tax office (asked about the BRNs just landed), then the transform.
DAILY_DAGS = [
    "panro_ingest_portal",
    "panro_ingest_sbiz24",
    "panro_ingest_kakao",
    "panro_ingest_evaluation",
    "panro_ingest_edu",
    "panro_ingest_reference",
]
TRIGGERED_DAGS = ["panro_ingest_nts", "panro_transform"]
# Scheduled DAGs the replay leaves out: they decide nothing, so a replayed day does not pay for them (the
# demo writes the dbt docs once at the end instead).
NOT_REPLAYED = ["panro_docs"]
# The DAGs whose assets trigger each triggered DAG (the tax office waits for the application sources only).
TRIGGERED_BY = {
    "panro_ingest_nts": {"panro_ingest_portal", "panro_ingest_sbiz24", "panro_ingest_kakao"},
    "panro_transform": {*DAILY_DAGS, "panro_ingest_nts"},
}
MARK = "[panro] "
FAILED = "FAILED"


def airflow_environ(settings: Settings) -> dict[str, str]:
    """The environment that makes the ``airflow`` CLI and ``dag.test`` use this project (embedded mode)."""
    home = settings.airflow_home
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_dir),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Seoul",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.logs_dir / "airflow"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "PYTHONPATH": os.pathsep.join(
            p for p in [str(settings.home / "plugins"), os.environ.get("PYTHONPATH", "")] if p
        ),
        "PANRO_HOME": str(settings.home),
        "PANRO_STATE_DIR": str(settings.state_dir),
        "NO_PROXY": "*",  # loopback servers only; never route the portal through a proxy
    }


def ensure_airflow_db(settings: Settings, log_path: Path) -> None:
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **airflow_environ(settings)}
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log_path.open("a", encoding="utf-8") as log:
        subprocess.run([airflow, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True)


def run_days(
    first: date,
    last: date,
    *,
    settings: Settings | None = None,
    extra_env: dict[str, str] | None = None,
    scenario: Path | None = None,
    sim_control: list[str] | None = None,
    echo=print,
) -> Path:
    """Replay ``first..last`` in a child process; returns the log file. Raises ``ReplayFailed`` when any
    DAG run failed."""
    settings = settings or load_settings()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.logs_dir / f"replay-{first:%Y%m%d}-{last:%Y%m%d}.log"
    log_path.write_text("", encoding="utf-8")
    ensure_airflow_db(settings, log_path)
    env = {**os.environ, **airflow_environ(settings), **(extra_env or {})}
    command = [sys.executable, "-m", "panro.replay", "--from", first.isoformat(), "--to", last.isoformat()]
    if scenario:
        command += ["--scenario", str(scenario)]
    for url in sim_control or []:
        command += ["--sim-control", url]
    failures: list[str] = []
    with log_path.open("a", encoding="utf-8") as log:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if line.startswith(MARK):
                message = line[len(MARK) :].rstrip()
                echo(message)
                if message.startswith(FAILED):
                    failures.append(message.removeprefix(FAILED).strip())
        code = proc.wait()
    if code != 0 or failures:
        raise ReplayFailed(failures, log_path, code)
    return log_path


class ReplayFailed(RuntimeError):
    """A replayed DAG run failed (a gate stopped it, or a task failed for good). ``failures`` lists
    ``"<day> <dag_id>: <state>"``; the replay went on with later days after a failed ingest (as the
    scheduler would) and stopped at a failed transform."""

    def __init__(self, failures: list[str], log_path: Path, exit_code: int) -> None:
        self.failures, self.log_path = failures, log_path
        shown = "; ".join(failures) or f"exit {exit_code}"
        super().__init__(f"replay failed: {shown}; see {log_path}")


def _progress(message: str) -> None:
    print(MARK + message, flush=True)


def _set_sim_clock(control_url: str, now: datetime) -> None:
    import requests

    response = requests.post(
        f"{control_url.rstrip('/')}/_sim/clock", json={"now": now.isoformat()}, timeout=10
    )
    response.raise_for_status()


def _replay(first: date, last: date, scenario: Path | None, sim_control: list[str]) -> int:
    # Airflow is imported here, inside the child that has Airflow's environment.
    from airflow.dag_processing.dagbag import DagBag

    settings = load_settings()
    bag = DagBag(str(settings.dags_dir))
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            _progress(f"DAG import error in {path}: {error}")
        return 2
    day = first
    while day <= last:
        started = time.monotonic()
        end_of_day = datetime.combine(day + timedelta(days=1), datetime.min.time(), KST)
        for url in sim_control:
            # the last instant of D: the systems show D's state (a status effective on D+1 is not yet)
            _set_sim_clock(url, end_of_day - timedelta(microseconds=1))
        if scenario:
            from panro.simulate import deliver_files

            deliver_files(scenario, settings.drop_dir, day)
        failed: list[str] = []  # ran and failed (a gate stopped it, or a task failed for good)
        not_announced: set[str] = set()  # failed or not triggered: their assets were not announced
        for dag_id in DAILY_DAGS + TRIGGERED_DAGS:
            missing = TRIGGERED_BY.get(dag_id, set()) & not_announced
            if missing:
                # what the scheduler does: an asset not announced (its gate failed) triggers nothing
                _progress(f"{day} {dag_id}: not triggered ({', '.join(sorted(missing))} did not announce)")
                not_announced.add(dag_id)
                continue
            # asset-triggered DAGs are told the business day their triggering events would carry
            conf = {"business_day": day.isoformat()} if dag_id in TRIGGERED_DAGS else None
            # The daily timetable's run at D+1 00:00 KST covers the interval [D, D+1).
            dag_run = bag.get_dag(dag_id).test(logical_date=end_of_day, run_conf=conf)
            state = str(getattr(dag_run, "state", "unknown"))
            if not state.endswith("success"):
                _progress(f"{FAILED} {day} {dag_id}: {state}")
                failed.append(dag_id)
                not_announced.add(dag_id)
        if "panro_transform" in failed:
            # the day's decisions are not published: an operator reruns the day before the next one
            return 1
        status = "done" if not failed else "not complete (" + ", ".join(failed) + " failed)"
        _progress(f"{day}: ingest + transform {status} in {time.monotonic() - started:.1f}s")
        day += timedelta(days=1)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m panro.replay")
    parser.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    parser.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    parser.add_argument("--scenario", type=Path)
    parser.add_argument("--sim-control", action="append", default=[], help="a simulator whose clock to move")
    args = parser.parse_args(argv)
    return _replay(args.first, args.last, args.scenario, args.sim_control)


if __name__ == "__main__":
    sys.exit(main())
