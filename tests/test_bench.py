"""The benchmark's own code, end to end at a tiny size against the test PostgreSQL: every stage of the
full replay, the floor and the daily run are measured and reported. No timing is asserted."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from panro.bench import (
    DOCS_BEGIN,
    DOCS_END,
    FILE_GROUPS,
    MemorySampler,
    Recorder,
    gate_budget,
    measure_phase,
    plan,
    run_bench,
    update_docs,
)

FULL_STAGES = [
    "ingest portal",
    "landing gate portal",
    *[f"{kind} {group}" for group in FILE_GROUPS for kind in ("ingest", "landing gate")],
    "ingest nts",
    "landing gate nts",
    "resolve round",
    "source freshness",
    "dbt seed",
    "dbt staging + intermediate",
    "transformed gate",
    "dbt marts + restricted",
    "publish gate",
    "extract",
]
FLOOR_STAGES = ["COPY portal records", "COPY score files", "SQL pass: verdicts + ranking"]


def test_plan_puts_the_daily_run_on_a_weekday_after_the_history():
    p = plan(200_000)
    assert p["daily_day"] == p["history_last_day"] + timedelta(days=1)
    assert p["daily_day"].weekday() < 5
    assert p["days"] == (p["daily_day"] - date(2024, 3, 4)).days + 1
    # a weekday of the simulator brings about DAILY_NEW applications
    assert 1_500 <= p["total"] - p["history"] <= 2_500


def test_a_gates_budget_grows_with_the_size_from_m_on():
    # L's score files are five times M's: the default 600 s would stop L's landing gate half way
    assert [gate_budget(600, n) for n in (20_000, 200_000, 1_000_000)] == [600, 600, 3_000]
    assert gate_budget(0, 1_000_000) is None and gate_budget(None, 20_000) is None


def test_a_phase_that_raises_keeps_the_stages_it_measured_and_the_size_goes_on():
    # L's floor once had to be stopped: an exception there ended the size without any report
    def phase(recorder: Recorder) -> list[dict]:
        with recorder.stage("COPY portal records", "floor") as st:
            st["rows"] = 3
        with recorder.stage("SQL pass: verdicts + ranking", "floor"):
            raise RuntimeError("canceling statement due to user request")
        return recorder.stages

    with MemorySampler(None, set()) as sampler:
        recorder = Recorder(sampler)
        recorder.stages = [{"stage": "from the phase before"}]
        stages, error = measure_phase(recorder, "floor", lambda: phase(recorder))
        assert [s["stage"] for s in stages] == ["COPY portal records", "SQL pass: verdicts + ranking"]
        assert stages[0]["rows"] == 3 and "error" not in stages[0]
        assert "canceling statement" in stages[1]["error"]
        assert error == "floor: RuntimeError: canceling statement due to user request"
        # a phase that ends well returns its stages and no error
        assert measure_phase(recorder, "daily run", lambda: [{"stage": "x"}]) == ([{"stage": "x"}], None)


def test_docs_keep_their_prose_around_the_latest_table(tmp_path):
    docs = tmp_path / "benchmark.md"
    docs.write_text(f"# Benchmark\n\nwhy\n\n{DOCS_BEGIN}\nold\n{DOCS_END}\n\n## Findings\n", encoding="utf-8")
    update_docs(docs, "| new |\n")
    text = docs.read_text(encoding="utf-8")
    assert "old" not in text and "| new |" in text
    assert text.startswith("# Benchmark\n\nwhy\n") and text.endswith("## Findings\n")


@pytest.fixture()
def bench_state(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PANRO_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    return tmp_path / "state"


# About 3 minutes on a shared 2-core machine: a dozen dbt invocations (full replay and daily run).
@pytest.mark.slow
def test_a_tiny_benchmark_measures_every_stage_the_floor_and_the_daily_run(pg_server, bench_state, tmp_path):
    docs = tmp_path / "benchmark.md"
    report = run_bench({"tiny": 300}, server_url=pg_server, daily=50, docs=docs)

    written = json.loads(Path(report["files"]["json"]).read_text(encoding="utf-8"))
    result = written["sizes"]["tiny"]
    assert written["load_average"]["start"] >= 0 and written["load_average"]["end"] >= 0
    assert "error" not in result, result.get("error")
    full = {s["stage"]: s for s in result["full"]}
    assert list(full) == FULL_STAGES
    for name, stage in full.items():
        assert stage["rows"] > 0, name
        assert stage["seconds"] > 0 and stage["peak_mb"] > 0, name
    # the bench runs what the DAGs run: on the simulator's scenario every gate passes
    for phase in ("full", "daily"):
        failed = {s["stage"]: s.get("failures") for s in result[phase] if s.get("gate_failed")}
        assert not failed, (phase, failed)
    assert full["dbt marts + restricted"]["decisions"] > 0
    assert full["dbt marts + restricted"]["allocation_s"] >= 0

    floor = {s["stage"]: s for s in result["floor"]}
    assert list(floor) == FLOOR_STAGES
    assert all(s["rows"] > 0 and s["rows_per_s"] > 0 for s in floor.values())
    # the floor's COPY takes exactly the history's portal lines, which the pipeline received too
    assert floor["COPY portal records"]["rows"] >= full["ingest portal"]["rows"]
    ratios = result["ratios"]
    for key in ("ingest_portal_vs_copy", "transform_vs_sql_pass", "total_vs_floor"):
        assert ratios[key] > 0, key

    daily = {s["stage"]: s for s in result["daily"]}
    assert list(daily) == FULL_STAGES
    assert 0 < result["daily_new_applications"] < 300
    # incremental: the portal from its watermark brings the day only, and no score file is read twice
    assert 0 < daily["ingest portal"]["rows"] < full["ingest portal"]["rows"]
    assert daily["ingest evaluation"]["inserted"] == 0 or daily["ingest evaluation"]["files"] > 0
    with psycopg.connect(pg_server) as conn:  # the bench databases are dropped afterwards
        left = conn.execute("select count(*) from pg_database where datname like 'panro_bench_%'").fetchone()
    assert left[0] == 0

    targets = {t["target"] for t in written["targets"]}
    assert any("portal ingest" in t for t in targets)
    markdown = Path(report["files"]["markdown"]).read_text(encoding="utf-8")
    assert "| tiny | 300 |" in markdown and "| ingest portal |" in markdown and "SQL pass" in markdown
    assert (bench_state / "bench" / "latest.md").read_text(encoding="utf-8") == markdown
    assert markdown in docs.read_text(encoding="utf-8")
