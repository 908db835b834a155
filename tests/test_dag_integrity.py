"""DAG integrity: every DAG imports under real Airflow, has no cycle, and carries tags, owner, retries.

Airflow reads its configuration at import time, so the check runs in a child process with the
project's Airflow environment (as `panro airflow` and the replay use it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from panro.config import load_settings
from panro.replay import airflow_environ

PROBE = r"""
import json
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.dag_cycle_tester import check_cycle
bag = DagBag(DAGS)
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    check_cycle(dag)
    out["dags"][dag_id] = {
        "tags": sorted(dag.tags), "fileloc": dag.fileloc, "catchup": dag.catchup,
        "tasks": {t.task_id: {"owner": t.owner, "retries": t.retries,
                              "callback": bool(t.on_failure_callback),
                              "outlets": sorted(o.uri for o in t.outlets),
                              "upstream": sorted(t.upstream_task_ids)} for t in dag.tasks},
        "schedule": type(dag.timetable).__name__, "summary": getattr(dag.timetable, "summary", None),
    }
print("JSON" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory) -> dict:
    state = tmp_path_factory.mktemp("airflow-state")
    env = {**os.environ, "PANRO_STATE_DIR": str(state)}
    settings = dataclasses.replace(load_settings(), state_dir=state)
    env.update(airflow_environ(settings))
    env.pop("WAREHOUSE_URL", None)
    dags = str(Path(__file__).resolve().parents[1] / "dags")
    proc = subprocess.run(
        [sys.executable, "-c", f"DAGS = {dags!r}\n" + PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next((out for out in proc.stdout.splitlines() if out.startswith("JSON")), None)
    assert line, f"DAG probe failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(line[4:])


def test_no_import_errors(dagbag):
    assert dagbag["errors"] == {}


def test_every_dag_file_defines_a_dag(dagbag):
    files = {Path(p).name for p in (Path(__file__).resolve().parents[1] / "dags").glob("*.py")}
    assert {Path(d["fileloc"]).name for d in dagbag["dags"].values()} == files
    assert set(dagbag["dags"]) == {
        "panro_ingest_portal",
        "panro_ingest_nts",
        "panro_ingest_evaluation",
        "panro_ingest_sbiz24",
        "panro_ingest_kakao",
        "panro_ingest_edu",
        "panro_ingest_reference",
        "panro_transform",
        "panro_docs",
    }


def test_tags_owner_retries_and_alerts(dagbag):
    for dag_id, dag in dagbag["dags"].items():
        assert "panro" in dag["tags"] and len(dag["tags"]) >= 2, dag_id
        assert dag["catchup"] is False
        for task_id, task in dag["tasks"].items():
            assert task["owner"] == "panro-data", (dag_id, task_id)
            assert task["retries"] >= 1, (dag_id, task_id)
            assert task["callback"], (dag_id, task_id)


def test_ingest_runs_daily_on_kst_intervals_and_the_rest_on_assets(dagbag):
    from panro.replay import DAILY_DAGS, NOT_REPLAYED, TRIGGERED_DAGS

    # the replay runs every DAG but the ones it leaves out on purpose (the docs)
    assert set(DAILY_DAGS) | set(TRIGGERED_DAGS) == set(dagbag["dags"]) - set(NOT_REPLAYED)
    assert NOT_REPLAYED == ["panro_docs"]
    for dag_id in DAILY_DAGS + NOT_REPLAYED:
        assert dagbag["dags"][dag_id]["schedule"] == "CronDataIntervalTimetable", dag_id
    for dag_id in TRIGGERED_DAGS:
        assert dagbag["dags"][dag_id]["schedule"] == "AssetTriggeredTimetable", dag_id


def test_docs_run_on_their_own_schedule(dagbag):
    """The dbt docs are not triggered by the marts asset (a replayed day would pay for them) and
    announce nothing."""
    docs = dagbag["dags"]["panro_docs"]
    assert set(docs["tasks"]) == {"generate_dbt_docs"}
    assert docs["tasks"]["generate_dbt_docs"]["outlets"] == []
    assert "docs" in docs["tags"]
    assert docs["summary"] == "0 6 * * *"  # after the night's rounds (KST, like every timetable here)


def test_dag_files_are_thin():
    for path in (Path(__file__).resolve().parents[1] / "dags").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) < 110, f"{path.name}: logic belongs in include/panro"
        assert "psycopg" not in text and "requests" not in text, f"{path.name}: no I/O in a DAG file"


def test_only_a_passing_gate_announces_data(dagbag):
    """Assets (which trigger what comes next) hang on the gates, never on a load or a build: a failed
    gate fails its task, so the asset is not announced and nothing after it runs."""
    for dag_id, dag in dagbag["dags"].items():
        for task_id, task in dag["tasks"].items():
            if task["outlets"]:
                assert "gate" in task_id, (dag_id, task_id, task["outlets"])
    ingest = {d: dag for d, dag in dagbag["dags"].items() if d.startswith("panro_ingest_")}
    for dag_id, dag in ingest.items():
        gates = [t for t in dag["tasks"] if t.startswith("landing_gate")]
        loads = [t for t in dag["tasks"] if t.startswith("load_")]
        assert gates and len(gates) == len(loads), dag_id
        for gate in gates:
            assert len(dag["tasks"][gate]["outlets"]) == 1, (dag_id, gate)
            assert dag["tasks"][gate]["upstream"] and dag["tasks"][gate]["upstream"][0].startswith("load_")


def test_transform_runs_the_gates_in_order(dagbag):
    tasks = dagbag["dags"]["panro_transform"]["tasks"]
    chain = [
        "dbt_seed",
        "source_freshness",
        "dbt_build_staging_intermediate",
        "transformed_gate",
        "dbt_build_marts",
        "publish_gate",
        "write_selection_extract",
        "deliver_extract",
    ]
    for before, after in zip(chain, chain[1:]):
        assert before in tasks[after]["upstream"], (before, after)
    assert tasks["publish_gate"]["outlets"] == ["panro://warehouse/marts"]
