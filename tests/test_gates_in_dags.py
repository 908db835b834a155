"""Each quality gate, wired in the real DAGs, stops what comes after it and alerts.

The hand-written two-day scenario (tests/fixtures/handwritten) is copied and given one defect above a
gate's hard threshold; replaying it through Airflow must fail that gate's task, leave the later tasks
unrun (no decisions, no extract, no marts asset), record the failure in ops.validation_results and
write a ``gate_failed`` alert. The clean scenario passing every gate is checked in test_end_to_end.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from replayer import Replayer

from panro.replay import ReplayFailed

pytestmark = pytest.mark.e2e

HANDWRITTEN = Path(__file__).parent / "fixtures" / "handwritten"
DAY1 = date(2024, 3, 4)
DAY2 = DAY1 + timedelta(days=1)


def query(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def alerts(replayer: Replayer) -> list[dict]:
    path = replayer.settings.logs_dir / "alerts.log"
    return (
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    )


def scenario_copy(tmp_path: Path) -> Path:
    target = tmp_path / "scenario"
    shutil.copytree(HANDWRITTEN, target)
    return target


def gate_results(url: str, gate: str, day: date) -> list[tuple]:
    return query(
        url,
        "select suite, success from ops.validation_results where gate = %s and business_day = %s order by 1",
        gate,
        day,
    )


def assert_day_not_decided(replayer: Replayer, day: date) -> None:
    url = replayer.url
    assert (
        query(url, "select count(*) from marts.fct_allocation_decision where round_date = %s", day)[0][0] == 0
    )
    assert not (replayer.settings.outbox_dir / day.isoformat()).exists()


def test_a_failed_landing_gate_stops_the_day_and_alerts(tmp_path, pg_server):
    scenario = scenario_copy(tmp_path)
    # day 2's portal batch: 40 more versions whose BRN is not a number at all (a column mix-up)
    versions = [
        json.loads(line) for line in (scenario / "portal/applications.jsonl").read_text().splitlines()
    ]
    for n in range(40):
        broken = json.loads(json.dumps(versions[0]))
        broken["application_id"] = f"FF24-{100 + n:07d}"
        broken["submitted_at"] = broken["updated_at"] = f"2024-03-05T10:{n:02d}:00+09:00"
        broken["business"]["brn"] = f"전주시 덕진구 {n}"
        versions.append(broken)
    (scenario / "portal/applications.jsonl").write_text(
        "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in versions), encoding="utf-8"
    )
    replayer = Replayer(pg_server, tmp_path, scenario, "gate_landing")
    try:
        with pytest.raises(ReplayFailed) as failed:
            replayer.replay(DAY1, DAY2)
    finally:
        replayer.close()
    assert failed.value.failures == [f"{DAY2} panro_ingest_portal: failed"]
    url = replayer.url
    # day 1 went through; day 2's transform never ran (the portal asset was not announced)
    assert (
        query(url, "select count(*) from marts.fct_allocation_decision where round_date = %s", DAY1)[0][0] > 0
    )
    assert_day_not_decided(replayer, DAY2)
    assert not gate_results(url, "transformed", DAY2)
    failed_suites = [s for s, ok in gate_results(url, "landing", DAY2) if not ok]
    assert failed_suites == ["landing.raw.portal_applications.fields"]
    landing_alerts = [a for a in alerts(replayer) if a["kind"] == "gate_failed"]
    assert len(landing_alerts) == 1 and landing_alerts[0]["gate"] == "landing"
    assert any("business.brn" in f or "brn" in f for f in landing_alerts[0]["failures"])
    # the gate's own alert is the only one: the task-failure callback does not repeat it
    assert not [a for a in alerts(replayer) if a["kind"] == "task_failed"]


def test_a_failed_transformed_gate_stops_the_marts_and_alerts(tmp_path, pg_server):
    scenario = scenario_copy(tmp_path)
    # day 2's committee file also scores applications the portal never had (another programme's file)
    path = next((scenario / "evaluation").glob("scores_*.csv"))
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    strangers = [{**row, "application_id": f"FF24-{9000000 + n:07d}"} for n in range(40) for row in rows[:6]]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows + strangers)
    replayer = Replayer(pg_server, tmp_path, scenario, "gate_transformed")
    try:
        with pytest.raises(ReplayFailed) as failed:
            replayer.replay(DAY1, DAY2)
    finally:
        replayer.close()
    assert failed.value.failures == [f"{DAY2} panro_transform: failed"]
    url = replayer.url
    assert_day_not_decided(replayer, DAY2)
    assert not gate_results(url, "publish", DAY2)  # the marts were not built, nor checked
    failed_suites = [s for s, ok in gate_results(url, "transformed", DAY2) if not ok]
    assert failed_suites == ["transformed.intermediate.int_committee_scores_aggregated.references"]
    gate_alerts = [a for a in alerts(replayer) if a["kind"] == "gate_failed"]
    assert [a["gate"] for a in gate_alerts] == ["transformed"]


def test_a_failed_publish_gate_writes_no_extract_and_blocks_the_next_round(tmp_path, pg_server):
    scenario = scenario_copy(tmp_path)
    replayer = Replayer(pg_server, tmp_path, scenario, "gate_publish")
    try:
        replayer.replay(DAY1, DAY1)
        url = replayer.url
        # a bad deploy re-ranks a decision that staff already received on day 1: the ledger's life
        # cycle still holds (the dbt tests pass), only the publish gate's snapshot can see the change
        (app, decision) = query(
            url,
            "select application_id, decision from marts.fct_allocation_decision where round_date = %s",
            DAY1,
        )[0]
        with psycopg.connect(url) as conn:
            conn.execute(
                "update marts.fct_allocation_decision set rank = rank + 100 "
                "where application_id = %s and round_date = %s",
                (app, DAY1),
            )
        with pytest.raises(ReplayFailed) as failed:
            replayer.replay(DAY2, DAY2)
        assert failed.value.failures == [f"{DAY2} panro_transform: failed"]
        assert not (replayer.settings.outbox_dir / DAY2.isoformat()).exists()
        failed_suites = [s for s, ok in gate_results(url, "publish", DAY2) if not ok]
        assert failed_suites == ["publish.marts.fct_allocation_decision"]
        gate_alerts = [a for a in alerts(replayer) if a["kind"] == "gate_failed"]
        assert [a["gate"] for a in gate_alerts] == ["publish"]
        # day 2's decisions were never published: day 3 is not decided on top of them
        with pytest.raises(ReplayFailed) as blocked:
            replayer.replay(DAY2 + timedelta(days=1), DAY2 + timedelta(days=1))
        assert blocked.value.failures == [f"{DAY2 + timedelta(days=1)} panro_transform: failed"]
        assert "never published" in (replayer.settings.logs_dir / "alerts.log").read_text(encoding="utf-8")
    finally:
        replayer.close()
    assert decision  # the tampered row existed
