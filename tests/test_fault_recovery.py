"""Faults, then recovery: kill a step half way (SIGKILL), inject portal faults, restart the database —
and prove, after the rerun or the retries, that the warehouse equals a clean run of the same inputs.

Each fault lands at a real point of the work, found by polling PostgreSQL, never after a sleep: a COPY
half done (``pg_stat_progress_copy``), a file's marking as done waiting on a lock this test holds
(every row written, the transaction not committed), a dbt model waiting on a lock that this test
holds on the next table (a pause between two models of one ``dbt build``, whatever
the machine's speed), the decision ledger's append waiting likewise. A killed ``dbt build`` is
killed with its Python parent (one process group), as a dying Airflow worker would be. Through the
real DAGs (``replayer.Replayer``, marked slow): the simulated portal answers 30 % of requests with a
429, a 5xx, a stall past the client's timeout, a reset or a record served twice (and the tax office
with 429, 5xx, resets); and a warehouse of the test's own is stopped while the transform's dbt build
runs and started again seconds later, which the tasks' retries must ride out.

"Equal" is exact where both warehouses start from one copy of the same database (``CREATE DATABASE
... TEMPLATE``: same raw rows, same load ids): every table and view of the data schemas, row count
and md5 (``panro.report.table_checksums``). Between two separate loads or replays it is the content:
every base table of raw, intermediate, marts, restricted and reference, without the columns that say
when, and in which load or run, a row arrived (``LOAD_METADATA``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
import requests
from psycopg import sql
from replayer import Replayer

from panro.config import Settings, load_settings
from panro.connectors.nts import NtsClient
from panro.connectors.portal import PortalClient
from panro.dbt import run_dbt
from panro.ingest.files import SOURCES, ingest_files
from panro.ingest.nts import ingest_nts
from panro.ingest.portal import ingest_portal
from panro.report import table_checksums
from panro.servers.faults import ALL_KINDS
from panro.servers.nts import NtsServer, NtsState
from panro.servers.portal import PortalServer, PortalState
from panro.simulate import deliver_files, simulate
from panro.warehouse import ensure_schema

KST = timezone(timedelta(hours=9))
DAY1 = date(2024, 3, 4)
DAY2 = DAY1 + timedelta(days=1)

# The transform DAG's two dbt steps (dags/panro_transform.py), as its tasks run them.
STAGING_INTERMEDIATE = ["build", "--select", "staging", "intermediate"]
MARTS_RESTRICTED = ["build", "--select", "marts", "restricted"]
# Columns that say when, and in which load or run, a row arrived, not what it is: two separate loads
# of the same inputs differ in them by design (raw_id is a sequence, which a killed insert advances
# too; a duplicated page shifts the later pages' cursors; the run id is Airflow's).
LOAD_METADATA = [
    "raw_id",
    "source_raw_id",
    "load_id",
    "loaded_at",
    "source_page",
    "decided_in_run",
    "last_decided_in_run",
]
CONTENT_SCHEMAS = ["raw", "intermediate", "marts", "restricted", "reference"]
LEDGER = (
    "select count(*), md5(string_agg(d::text, '|' order by d::text)) from marts.fct_allocation_decision d"
)


# -- the warehouse ---------------------------------------------------------------------------------


def with_database(url: str, dbname: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{dbname}"))


def query(url: str, statement: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement, params).fetchall()


@contextmanager
def databases(server_url: str) -> Iterator[Callable[..., str]]:
    """``create(name, template=None)`` -> URL of a new database (a copy of ``template``); all dropped
    at the end."""
    made: list[str] = []

    def create(name: str, template: str | None = None) -> str:
        dbname = f"fr_{name}_{uuid.uuid4().hex[:8]}"
        statement = sql.SQL("create database {}").format(sql.Identifier(dbname))
        if template:
            statement += sql.SQL(" template {}").format(sql.Identifier(urlparse(template).path.lstrip("/")))
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(statement)
        made.append(dbname)
        return with_database(server_url, dbname)

    try:
        yield create
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            for dbname in made:
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
                )


def content_checksums(url: str, schemas: list[str] = CONTENT_SCHEMAS) -> dict[str, tuple[int, str]]:
    """Row count and order-independent md5 of every base table of ``schemas``, each row without the
    ``LOAD_METADATA`` columns (and any ``*received_at``: a load time by name)."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            """select table_schema, table_name from information_schema.tables
                where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1, 2""",
            (schemas,),
        ).fetchall()
        out = {}
        for schema, table in tables:
            dropped = [
                c
                for (c,) in conn.execute(
                    """select column_name from information_schema.columns
                        where table_schema = %s and table_name = %s
                          and (column_name = any(%s) or column_name like '%%received_at')""",
                    (schema, table, LOAD_METADATA),
                )
            ]
            out[f"{schema}.{table}"] = conn.execute(
                sql.SQL(
                    "select count(*), coalesce(md5(string_agg(h, '' order by h)), '')"
                    " from (select md5((to_jsonb(t) - %s::text[])::text) as h from {}.{} t) rows"
                ).format(sql.Identifier(schema), sql.Identifier(table)),
                (dropped,),
            ).fetchone()
    return out


def assert_same(got: dict, clean: dict) -> None:
    """Equal checksums, with the differing tables named (not a wall of hashes)."""
    assert got.keys() == clean.keys(), sorted(got.keys() ^ clean.keys())
    differing = {t: (got[t], clean[t]) for t in clean if got[t] != clean[t]}
    assert not differing, f"differs from the clean run: {differing}"


def other_sessions(server_url: str, url: str) -> int:
    dbname = urlparse(url).path.lstrip("/")
    return query(
        server_url,
        "select count(*) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
        dbname,
    )[0][0]


# -- child processes -------------------------------------------------------------------------------


def start_child(code: str, *args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -c code args...`` as the leader of its own process group (a kill reaches what it starts)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code, *args],
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(child: subprocess.Popen) -> None:
    os.killpg(child.pid, signal.SIGKILL)  # the child and its dbt: pid is the group id
    child.wait()
    assert child.returncode == -signal.SIGKILL


def wait_for(
    what: str,
    probe: Callable[[], object],
    *,
    child=None,
    log: Path | None = None,
    timeout: float = 300,
    interval: float = 0.005,
):
    """Poll ``probe`` until it returns something true; fail if ``child`` ends first."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if child is not None and child.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            pytest.fail(f"the child ended (exit {child.returncode}) before {what}:\n{tail}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


def wait_sessions_gone(server_url: str, url: str) -> None:
    """A killed client's server session ends when the server next talks to it: wait for that."""
    wait_for("the killed client's sessions to end", lambda: other_sessions(server_url, url) == 0, timeout=60)


@contextmanager
def holding_lock(url: str, table: str, mode: str) -> Iterator[None]:
    """Hold ``LOCK TABLE table IN mode MODE`` until the block ends (then roll back)."""
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("lock table {} in " + mode + " mode").format(sql.Identifier(*table.split("."))))
        try:
            yield
        finally:
            conn.rollback()


def waiting_on_lock(server_url: str, url: str, statement_like: str) -> bool:
    return bool(
        query(
            server_url,
            """select 1 from pg_stat_activity where datname = %s and wait_event_type = 'Lock'
                  and query ilike %s""",
            urlparse(url).path.lstrip("/"),
            statement_like,
        )
    )


# -- 1. a file load killed half way ------------------------------------------------------------------

BIG_FILE_ROWS = 20_000  # per file (two files): big enough that a COPY of one takes a moment


@pytest.fixture(scope="module")
def big_partner_files(tmp_path_factory) -> Path:
    """Two days of 소상공인24 O2O exports (CP949), ~20,000 rows each, delivered to a drop folder."""
    root = tmp_path_factory.mktemp("big-files")
    simulate(
        root / "scenario",
        seed=5,
        first_day=DAY1,
        days=2,
        applications=100,
        sbiz24_applications=2 * BIG_FILE_ROWS,
        defect_rates={"wrong_encoding": 0, "truncated_file": 0, "wrong_header": 0},
        name="big-files",
    )
    drop = root / "drop"
    deliver_files(root / "scenario", drop, DAY2)
    assert len(list((drop / "sbiz24").glob("o2o_*.csv"))) == 2
    return drop


# copy: killed half way through the COPY of the second file's rows into raw; mark: killed after all of
# them are written, as the file is being marked done (ops.processed_files), before the commit
@pytest.mark.parametrize("phase", ["copy", "mark"])
def test_file_load_killed_half_way_is_not_marked_done_and_its_rerun_equals_a_clean_load(
    pg_server, tmp_path, big_partner_files, phase
):
    source = SOURCES["sbiz24"]
    first, second = sorted((big_partner_files / "sbiz24").glob("o2o_*.csv"))
    second_rows = len(list(source.read(second.read_bytes(), second.name)))
    with databases(pg_server) as create:
        killed, clean = create("killed"), create("clean")
        dbname = urlparse(killed).path.lstrip("/")
        ensure_schema(killed)  # (the child does it too) so that its ledger can be polled from the start
        log = tmp_path / "child.log"
        child = start_child(
            "import sys; from pathlib import Path; from panro.ingest.files import SOURCES, ingest_files;"
            " ingest_files(sys.argv[1], SOURCES['sbiz24'], Path(sys.argv[2]), 'killed')",
            killed,
            str(big_partner_files),
            log=log,
        )

        with psycopg.connect(killed, autocommit=True) as conn:
            wait_for(
                "the load of the second file to start",
                lambda: conn.execute(
                    "select 1 from ops.load_ledger where source_file = %s", (second.name,)
                ).fetchone(),
                child=child,
                log=log,
            )
        if phase == "copy":
            with psycopg.connect(pg_server, autocommit=True) as admin:
                # COPY progress (rows taken by the server so far), once past half of the file
                progress = "select tuples_processed from pg_stat_progress_copy where datname = %s"
                at = wait_for(
                    "the COPY of the second file to pass half way",
                    lambda: next(
                        (n for (n,) in admin.execute(progress, (dbname,)) if n >= second_rows // 2), None
                    ),
                    child=child,
                    log=log,
                )
            kill_group(child)
        else:
            # SHARE lets the load read which files are done and stops it marking the second one: the
            # kill lands after every row of the file is written, inside its transaction
            with holding_lock(killed, "ops.processed_files", "share"):
                wait_for(
                    "the second file's marking as done",
                    lambda: waiting_on_lock(pg_server, killed, "insert into ops.processed_files%"),
                    child=child,
                    log=log,
                )
                kill_group(child)
        wait_sessions_gone(pg_server, killed)
        if phase == "copy":
            assert at < second_rows, "the COPY had already finished: not half way"

        # nothing of the killed file landed, and nothing says it did
        assert query(killed, "select source_file, count(*) from raw.sbiz24_o2o_applications group by 1") == [
            (first.name, len(list(source.read(first.read_bytes(), first.name))))
        ]
        assert [f for (f,) in query(killed, "select file_name from ops.processed_files")] == [first.name]
        assert sorted(query(killed, "select source_file, outcome from ops.load_ledger")) == [
            (first.name, "success"),
            (second.name, "running"),  # the attempt is on record, never finished
        ]

        rerun = ingest_files(killed, source, big_partner_files, "rerun")
        assert [(r.source_file, r.outcome, r.rows_received, r.rows_inserted) for r in rerun] == [
            (second.name, "success", second_rows, second_rows)
        ]
        assert ingest_files(killed, source, big_partner_files, "again") == []  # exactly once

        ingest_files(clean, source, big_partner_files, "clean")
        assert_same(content_checksums(killed, ["raw"]), content_checksums(clean, ["raw"]))
        files = "select source, file_name, sha256 from ops.processed_files order by 1, 2"
        assert query(killed, files) == query(clean, files)


# -- 2. the dbt step and the allocation step killed half way ----------------------------------------

TOKEN, KEY = "fault-suite-token", "fault-suite-key"
# The same run id for a clean run and a killed one, as an Airflow retry keeps its run's id.
ROUND_VARS = {day: {"round_date": day.isoformat(), "run_id": f"scheduled__{day}"} for day in (DAY1, DAY2)}


def land_day(url: str, scenario: Path, drop: Path, day: date, portal: PortalServer, nts: NtsServer) -> None:
    """What the ingest DAGs do for ``day``, called directly: portal, partner files, then the tax office."""
    start = datetime.combine(day, datetime.min.time(), KST)
    end = start + timedelta(days=1)
    for server in (portal, nts):
        server.state.set_clock(end - timedelta(microseconds=1))
    deliver_files(scenario, drop, day)
    run_id = f"scheduled__{day}"
    ingest_portal(url, PortalClient(portal.base_url, TOKEN), start, end, run_id)
    for source in SOURCES.values():
        ingest_files(url, source, drop, run_id)
    ingest_nts(url, NtsClient(nts.base_url, KEY), day, run_id)


def dbt_child(args: list[str], url: str, day: date, settings: Settings, log: Path) -> subprocess.Popen:
    """``panro.dbt.run_dbt`` (as the transform DAG's task calls it) in a child process group."""
    return start_child(
        "import json, sys; from panro.dbt import run_dbt;"
        " run_dbt(json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]))",
        json.dumps(args),
        url,
        json.dumps(ROUND_VARS[day]),
        log=log,
        env={"PANRO_STATE_DIR": str(settings.state_dir)},
    )


@pytest.fixture(scope="module")
def transform_day2(pg_server, tmp_path_factory):
    """A warehouse after day 1 (landed and transformed) with day 2 landed, and a clean run of day 2's
    two dbt steps on copies of it. Yields the databases' URLs, checksums and settings."""
    root = tmp_path_factory.mktemp("transform")
    scenario = root / "scenario"
    simulate(scenario, seed=17, first_day=DAY1, days=2, applications=800, name="transform")
    settings = dataclasses.replace(load_settings(), state_dir=root / "state")
    with (
        databases(pg_server) as create,
        PortalServer(PortalState.from_scenario(scenario, TOKEN)) as portal,
        NtsServer(NtsState.from_scenario(scenario, KEY)) as nts,
    ):
        base = create("base")
        land_day(base, scenario, root / "drop", DAY1, portal, nts)
        # day 1's transform is set-up, not under test: models and seeds without their tests
        run_dbt(
            ["build", "--exclude", "resource_type:test", "resource_type:unit_test"],
            base,
            ROUND_VARS[DAY1],
            settings,
        )
        land_day(base, scenario, root / "drop", DAY2, portal, nts)

        staged = create("staged", template=base)
        run_dbt(STAGING_INTERMEDIATE, staged, ROUND_VARS[DAY2], settings)
        after_staging = table_checksums(staged)
        before_marts = create("before_marts", template=staged)
        run_dbt(MARTS_RESTRICTED, staged, ROUND_VARS[DAY2], settings)
        yield {
            "create": create,
            "base": base,
            "before_marts": before_marts,
            "after_staging": after_staging,
            "clean": table_checksums(staged),
            "clean_url": staged,
            "settings": settings,
            "logs": root,
        }


def test_dbt_build_killed_half_way_then_rerun_equals_a_clean_build(pg_server, transform_day2):
    t = transform_day2
    url = t["create"]("dbt_killed", template=t["base"])
    log = t["logs"] / "dbt-killed.log"
    # Pause the build between two of its models: the next one cannot take its table's place while
    # this lock is held, so the kill lands with part of the step done and part not.
    with holding_lock(url, "intermediate.int_applications_checked_for_eligibility", "access exclusive"):
        child = dbt_child(STAGING_INTERMEDIATE, url, DAY2, t["settings"], log)
        wait_for(
            "dbt to reach int_applications_checked_for_eligibility",
            lambda: waiting_on_lock(pg_server, url, "%int_applications_checked_for_eligibility%"),
            child=child,
            log=log,
        )
        kill_group(child)
    wait_sessions_gone(pg_server, url)

    # half way for real: the current versions are day 2's, the eligibility checks still day 1's
    assert query(url, "select distinct as_of_round_date from intermediate.int_applications_current") == [
        (DAY2,)
    ]
    assert query(
        url, "select distinct judged_at from intermediate.int_applications_checked_for_eligibility"
    ) == [(DAY1,)]
    assert table_checksums(url) != t["after_staging"]

    run_dbt(STAGING_INTERMEDIATE, url, ROUND_VARS[DAY2], t["settings"])  # what the task's retry runs
    assert_same(table_checksums(url), t["after_staging"])
    run_dbt(MARTS_RESTRICTED, url, ROUND_VARS[DAY2], t["settings"])
    assert_same(table_checksums(url), t["clean"])


def test_allocation_killed_during_the_ledger_append_then_rerun_equals_a_clean_run(pg_server, transform_day2):
    t = transform_day2
    url = t["create"]("alloc_killed", template=t["before_marts"])
    day1_ledger = query(url, LEDGER)
    assert day1_ledger[0][0] > 0 and query(t["clean_url"], LEDGER) != day1_ledger
    log = t["logs"] / "alloc-killed.log"
    # SHARE lets the round read the ledger (who is decided already) and stops its append: the kill
    # lands inside the append, after everything the round is computed from was rebuilt.
    with holding_lock(url, "marts.fct_allocation_decision", "share"):
        child = dbt_child(MARTS_RESTRICTED, url, DAY2, t["settings"], log)
        wait_for(
            "the decision ledger's append",
            lambda: waiting_on_lock(pg_server, url, '%insert into %."marts"."fct_allocation_decision"%'),
            child=child,
            log=log,
        )
        kill_group(child)
    wait_sessions_gone(pg_server, url)

    # the round was computed on day 2's verdicts, and nothing of it reached the ledger
    assert query(url, "select distinct judged_at from marts.fct_eligibility") == [(DAY2,)]
    assert query(url, LEDGER) == day1_ledger
    assert query(url, "select count(*) from marts.fct_allocation_decision where round_date = %s", DAY2) == [
        (0,)
    ]

    run_dbt(MARTS_RESTRICTED, url, ROUND_VARS[DAY2], t["settings"])  # what the task's retry runs
    assert query(url, LEDGER) == query(t["clean_url"], LEDGER)
    assert_same(table_checksums(url), t["clean"])


# -- 3. portal faults at 30 % and 4. a database restart, through the real DAGs ---------------------

# With this scenario's requests (one day, 2,528 portal lines in pages of 500) these seeds meet every
# kind at least once, and one timeout only (each costs the connector's 30 s read timeout): the faults
# are a pure function of seed and request number.
PORTAL_FAULTS = {"rate": 0.3, "seed": 64, "kinds": list(ALL_KINDS), "retry_after_s": 1}
NTS_FAULTS = {"rate": 0.3, "seed": 12, "kinds": ["429", "5xx", "reset"], "retry_after_s": 1}
PORTAL_LOADS = "select outcome, rows_received, rows_inserted from ops.load_ledger where source = 'portal'"


def ledger_content(url: str) -> list[tuple]:
    return query(
        url,
        "select count(*), md5(string_agg((to_jsonb(d) - 'decided_in_run')::text, '|' order by d::text))"
        " from marts.fct_allocation_decision d",
    )


@pytest.fixture(scope="module")
def replay_scenario(tmp_path_factory) -> Path:
    scenario = tmp_path_factory.mktemp("replay") / "scenario"
    simulate(scenario, seed=31, first_day=DAY1, days=1, applications=2500, name="faults")
    return scenario


@pytest.fixture(scope="module")
def clean_replay(pg_server, replay_scenario, tmp_path_factory) -> dict:
    dbname = f"fr_clean_{uuid.uuid4().hex[:8]}"
    replayer = Replayer(pg_server, tmp_path_factory.mktemp("clean"), replay_scenario, dbname)
    try:
        replayer.replay(DAY1, DAY1)
    finally:
        replayer.close()
    clean = {
        "checksums": content_checksums(replayer.url),
        "ledger": ledger_content(replayer.url),
        "portal": query(replayer.url, PORTAL_LOADS),
    }
    assert clean["ledger"][0][0] > 0  # the day decided something: the comparison means something
    yield clean
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname)))


@pytest.mark.slow
@pytest.mark.e2e
def test_portal_faults_at_30_percent_through_the_dags_lose_and_double_nothing(
    pg_server, replay_scenario, clean_replay, tmp_path
):
    dbname = f"fr_faults_{uuid.uuid4().hex[:8]}"
    replayer = Replayer(pg_server, tmp_path, replay_scenario, dbname)
    try:
        for server, settings in ((replayer.portal, PORTAL_FAULTS), (replayer.nts, NTS_FAULTS)):
            requests.post(f"{server.base_url}/_sim/faults", json=settings, timeout=5).raise_for_status()
        replayer.replay(DAY1, DAY1)
        portal = requests.get(f"{replayer.portal.base_url}/_sim/faults", timeout=5).json()
        nts = requests.get(f"{replayer.nts.base_url}/_sim/faults", timeout=5).json()
    finally:
        replayer.close()
    try:
        for report, settings in ((portal, PORTAL_FAULTS), (nts, NTS_FAULTS)):
            assert all(report["injected"][kind] >= 1 for kind in settings["kinds"]), report
        assert_same(content_checksums(replayer.url), clean_replay["checksums"])
        assert ledger_content(replayer.url) == clean_replay["ledger"]
        # one load, which received every line plus the records served twice, and kept each version once
        ((outcome, received, inserted),) = clean_replay["portal"]
        assert query(replayer.url, PORTAL_LOADS) == [
            (outcome, received + portal["injected"]["duplicate"], inserted)
        ]
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(dbname)))


def warehouse_cli(state_dir: Path, action: str) -> str:
    """``panro warehouse start|stop`` in a child process, as an operator would (pgserver keeps one
    handle per process, so a stopped server is started again from a new process)."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from panro.cli import main; sys.exit(main(sys.argv[1:]))"]
        + ["warehouse", action],
        env={**os.environ, "PANRO_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


OUTAGE_S = 5  # how long the warehouse stays down


@pytest.mark.slow
@pytest.mark.e2e
def test_a_database_restart_in_the_middle_of_a_run_is_survived_by_retries(replay_scenario, clean_replay):
    # its own server (the session's is shared), in a short folder: the socket path must stay short
    root = Path(tempfile.mkdtemp(prefix="panro-restart-"))
    state = root / "pg"
    url = warehouse_cli(state, "start")
    replayer = None
    try:
        replayer = Replayer(url, root / "replay", replay_scenario, "restart")
        replayer.env.update(PANRO_TASK_RETRIES="5", PANRO_RETRY_DELAY_S="2")
        failure: list[BaseException] = []

        def replay() -> None:
            try:
                replayer.replay(DAY1, DAY1)
            except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
                failure.append(exc)

        thread = threading.Thread(target=replay, name="replay")
        thread.start()
        try:
            with psycopg.connect(url, autocommit=True) as admin:
                wait_for(
                    "the transform's dbt build of the intermediate models",
                    lambda: admin.execute(
                        """select 1 from pg_stat_activity
                            where datname = 'restart' and application_name = 'dbt' and state = 'active'
                              and query ilike '%"intermediate".%'"""
                    ).fetchone(),
                    timeout=1200,
                    interval=0.1,
                )
            assert warehouse_cli(state, "stop") == "embedded warehouse stopped"
            time.sleep(OUTAGE_S)  # the outage itself, not a synchronisation
            assert warehouse_cli(state, "start") == url
        finally:
            thread.join(timeout=1800)
        assert not thread.is_alive() and not failure, failure

        assert_same(content_checksums(replayer.url), clean_replay["checksums"])
        assert ledger_content(replayer.url) == clean_replay["ledger"]
        # and it was the retries: the interrupted dbt step ran again, and succeeded
        with sqlite3.connect(replayer.settings.airflow_home / "airflow.db") as airflow:
            tries = airflow.execute(
                "select try_number, state from task_instance"
                " where dag_id = 'panro_transform' and task_id = 'dbt_build_staging_intermediate'"
            ).fetchall()
        assert len(tries) == 1 and tries[0][0] > 1 and tries[0][1] == "success", tries
    finally:
        if replayer is not None:
            replayer.close()
        warehouse_cli(state, "stop")
        shutil.rmtree(root, ignore_errors=True)
