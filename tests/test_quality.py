"""The Great Expectations quality gates on a real PostgreSQL (``fresh_db``).

Landing: batches landed with the real loaders (and their load-ledger rows) pass clean, fail on a
defect above its threshold, warn on one between the warning and the hard threshold, and compare a
load's volume with the trailing loads of its source. Transformed and publish: the real dbt project is
built, both gates pass, then intermediate and mart rows are corrupted and the gates name what broke.
Every run stores its validations in ops.validation_results, alerts, and writes Data Docs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import date
from pathlib import Path

import pytest

from panro.config import load_settings
from panro.dbt import DbtError, run_dbt
from panro.loaders.raw import (
    LoadResult,
    canonical_json,
    copy_file_rows,
    copy_nts_answers,
    copy_portal_versions,
    ledger_finish,
    ledger_start,
    new_load_id,
    sha256_text,
)
from panro.quality import GateFailed, enforce, gx_connection_string, load_suites, run_gate
from panro.warehouse import connect, ensure_schema

DAY = date(2024, 3, 8)
VALID_BRNS = ["120-81-47521", "1168200276", " 134 86 72683 ", "1078153660"]  # right check digits


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch) -> Path:
    """Alerts (and dbt's target) go to this test's own state folder."""
    state = tmp_path / "state"
    monkeypatch.setenv("PANRO_STATE_DIR", str(state))
    return state


def alerts(state: Path) -> list[dict]:
    path = state / "logs" / "alerts.log"
    return (
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    )


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def application(
    n: int, *, brn: str | None = None, submitted: str = "2024-03-04T10:15:22+09:00", **top
) -> dict:
    """A portal record (sources.md §1) that every gate accepts."""
    return {
        "application_id": f"FF24-{n:07d}",
        "program_code": "2-5",
        "track_code": "planned",
        "status": "submitted",
        "submitted_at": submitted,
        "updated_at": submitted,
        "business": {
            "brn": brn if brn is not None else VALID_BRNS[n % len(VALID_BRNS)],
            "name": f"상호 {n}",
            "representative_name": f"대표 {n}",
            "business_type": "individual",
            "ksic_code": "10711",
            "ksic_revision": 10,
            "employees": 3,
            "annual_revenue_krw": 412000000,
            "sido": "전북특별자치도",
        },
        "online_presence": {"has_own_mall": False},
        "product": {
            "name": "제품",
            "category": "food",
            "is_imported": False,
            "is_large_company_product": False,
        },
        # the required documents, valid through the round (documents_complete: else `incomplete`)
        "documents": [
            {"type": "small_business_cert", "issued_on": "2024-02-20", "valid_until": "2025-03-31"},
            {"type": "national_tax_cert", "issued_on": "2024-03-01", "valid_until": "2024-03-31"},
            {"type": "local_tax_cert", "issued_on": "2024-03-01", "valid_until": "2024-03-31"},
        ],
        "bonus_claims": [],
        "program_answers": {},
        "consents": {"privacy": True, "third_party": True},
        **top,
    }


def land_portal(url: str, records: list[dict], *, run_id: str = "run-1", ledger: bool = True) -> str:
    """Land records the way the portal ingest does: COPY through the loader, one ledger row."""
    result = LoadResult(new_load_id("portal"), "portal")
    with connect(url) as conn:
        if ledger:
            ledger_start(conn, result, run_id=run_id)
        result.rows_received, result.rows_inserted = copy_portal_versions(
            conn, result.load_id, [("page-1", r) for r in records]
        )
        result.outcome = "success"
        if ledger:
            ledger_finish(conn, result)
    return result.load_id


def land_file(
    url: str, source: str, table: str, name: str, rows: list[dict], *, run_id: str = "run-1"
) -> str:
    """Land a file's rows the way the file ingest does (one load, one ledger row)."""
    result = LoadResult(new_load_id(source), source, source_file=name)
    digest = sha256_text(name + canonical_json(rows))
    with connect(url) as conn:
        ledger_start(conn, result, run_id=run_id)
        result.rows_received, result.rows_inserted = copy_file_rows(
            conn, table, result.load_id, name, digest, list(enumerate(rows, start=2))
        )
        result.outcome = "success"
        ledger_finish(conn, result)
    return result.load_id


def completions(n: int, *, drop: str | None = None) -> list[dict]:
    rows = [
        {
            "brn": VALID_BRNS[i % len(VALID_BRNS)].replace("-", ""),
            "learner_id": f"L{i:04d}",
            "course_type": "elearning",
            "course_code": "EL-101",
            "course_name": "온라인 판로 기초",
            "completed_on": "2024-03-05",
        }
        for i in range(n)
    ]
    for row in rows:
        row.pop(drop, None)
    return rows


def scores(app_id: str, round_id: str, totals: list[int]) -> list[dict]:
    """Score-file rows (sources.md §6): one reviewer per total, split 40/30/30 over the criteria."""
    rows = []
    for n, total in enumerate(totals, start=1):
        parts = {"product": total * 0.4, "online_readiness": total * 0.3, "growth": total * 0.3}
        for criterion, max_score in (("product", 40), ("online_readiness", 30), ("growth", 30)):
            rows.append(
                {
                    "application_id": app_id,
                    "round_id": round_id,
                    "reviewer_id": f"R{n:02d}",
                    "criterion": criterion,
                    "score": f"{parts[criterion]:.2f}",
                    "max_score": str(max_score),
                    "conflict_of_interest": "N",
                    "scored_at": "2024-03-08T15:00:00+09:00",
                }
            )
    return rows


def failures_of(result, expectation: str) -> list[str]:
    return [m for m in result.failures if expectation in m]


# --- unit --------------------------------------------------------------------------------------------


def test_gx_connection_string_gives_the_socket_url_a_host():
    assert (
        gx_connection_string("postgresql://postgres:@/postgres?host=/tmp/panro-pg-x/data")
        == "postgresql+psycopg2://postgres@localhost/postgres?host=/tmp/panro-pg-x/data"
    )
    assert (
        gx_connection_string("postgresql://panro:s%40cret@db.internal:5433/warehouse?sslmode=require")
        == "postgresql+psycopg2://panro:s%40cret@db.internal:5433/warehouse?sslmode=require"
    )


# --- landing -----------------------------------------------------------------------------------------


def test_landing_gate_passes_clean_batches_and_keeps_its_results(fresh_db, tmp_path, state_dir):
    url = fresh_db
    ensure_schema(url)
    portal = land_portal(url, [application(i) for i in range(20)])
    edu = land_file(url, "edu", "raw.edu_completions", "completions_20240305.csv", completions(6))
    evaluation = land_file(
        url,
        "evaluation",
        "raw.evaluation_scores",
        "scores_20240308-2-5.csv",
        scores("FF24-0000001", "20240308-2-5", [80, 85, 90]),
    )
    docs = tmp_path / "docs"

    # no load ids: the loads of the run, from the load ledger
    result = enforce(run_gate(url, "landing", run_id="run-1", business_day=DAY, docs_dir=docs))

    assert result.success and result.failures == [] and result.warnings == []
    assert {v.batch for v in result.validations} == {
        f"raw.portal_applications@{portal}",
        f"raw.edu_completions@{edu}",
        f"raw.evaluation_scores@{evaluation}",
    }
    assert len(result.validations) == 9  # rows, fields and volume of each load
    stored = query(
        url,
        "select gate, suite, batch, load_id, run_id, business_day, success, hard_failures, warnings,"
        " failed_expectations from ops.validation_results order by suite",
    )
    assert len(stored) == 9
    assert {r[0] for r in stored} == {"landing"} and {r[4] for r in stored} == {"run-1"}
    assert {r[5] for r in stored} == {DAY}
    assert all(r[6] and r[7] == 0 and r[8] == 0 and r[9] == [] for r in stored)
    assert "landing.raw.portal_applications.fields" in {r[1] for r in stored}
    # Data Docs: GX's site for the gate (Korean title) and the overview of every gate
    assert result.docs_index == docs / "landing" / "index.html"
    assert result.docs_index.exists()
    assert "적재 게이트" in result.docs_index.read_text(encoding="utf-8")
    assert list((docs / "landing" / "validations").rglob("*.html"))
    assert "통과" in (docs / "index.html").read_text(encoding="utf-8")
    assert alerts(state_dir) == []


def test_a_tables_rows_suite_runs_once_over_its_loads_and_refuses_them_all(fresh_db, state_dir, caplog):
    """The rows suite checks what belongs to the table (its columns, and metadata its constraints
    hold): one validation over all the loads of the table in the gate's run, stored for each load.
    When it fails, every one of those loads is refused; each load's own suites still run."""
    url = fresh_db
    ensure_schema(url)
    loads = sorted(
        land_file(url, "edu", "raw.edu_completions", f"completions_2024030{day}.csv", completions(6))
        for day in (5, 6, 7)
    )
    with caplog.at_level(logging.INFO, logger="panro.quality"):
        assert run_gate(url, "landing", run_id="run-1", business_day=DAY).success
    runs = [m for m in caplog.messages if m.startswith("landing.raw.edu_completions")]
    assert len(runs) == 7, runs  # the rows suite once, fields and volume for each load
    assert [m for m in runs if " on raw.edu_completions@3 loads:" in m] == [
        m for m in runs if m.startswith("landing.raw.edu_completions on ")
    ]
    stored = query(
        url,
        "select load_id, count(*) filter (where suite = 'landing.raw.edu_completions'), count(*)"
        " from ops.validation_results group by load_id order by load_id",
    )
    assert stored == [(load, 1, 3) for load in loads]

    # a column the loaders write is gone: the table fails its rows suite, so each load of the run does
    with connect(url) as conn:
        conn.execute("alter table raw.edu_completions drop column file_sha256")
    result = run_gate(url, "landing", run_id="run-1", business_day=DAY)
    assert not result.success
    assert query(url, "select load_id from ops.rejected_loads order by load_id") == [
        (load,) for load in loads
    ]
    failed = query(
        url,
        "select load_id, suite from ops.validation_results"
        " where not success and validated_at = (select max(validated_at) from ops.validation_results)"
        " order by load_id",
    )
    assert failed == [(load, "landing.raw.edu_completions") for load in loads]


def test_landing_gate_fails_on_defects_above_their_threshold(fresh_db, tmp_path, state_dir):
    url = fresh_db
    ensure_schema(url)
    # half the BRNs have 9 digits (the hard threshold is 90% of 10-digit BRNs)
    portal = land_portal(
        url, [application(i, brn="120-81-4752" if i % 2 else None) for i in range(20)], run_id="run-bad"
    )
    # a completions file whose rows lack a column
    edu = land_file(
        url, "edu", "raw.edu_completions", "completions_20240305.csv", completions(6, drop="completed_on")
    )

    result = run_gate(url, "landing", run_id="run-bad", business_day=DAY, load_ids=[portal, edu])

    assert not result.success
    brn = failures_of(result, "expect_column_values_to_match_regex(brn_mask)")
    assert len(brn) == 1
    assert brn[0].startswith(f"raw.portal_applications@{portal}: ")
    assert "10 of 20 rows unexpected (50.0%)" in brn[0]
    assert "120-81" not in brn[0] and '"999999999"' in brn[0]  # the shape, never the number
    missing = failures_of(result, "expect_column_values_to_be_null(missing_keys)")
    assert len(missing) == 1
    assert missing[0].startswith(f"raw.edu_completions@{edu}: ") and '"completed_on"' in missing[0]
    assert "6 of 6 rows unexpected" in missing[0]
    assert result.warnings == []  # the warning tier of a breached hard threshold is not repeated

    with pytest.raises(GateFailed, match="landing gate failed") as failed:
        enforce(result)
    assert failed.value.result is result

    fields = query(
        url,
        "select batch, success, hard_failures, failed_expectations from ops.validation_results"
        " where suite = 'landing.raw.portal_applications.fields'",
    )
    assert len(fields) == 1
    batch, success, hard, failed_expectations = fields[0]
    assert (batch, success, hard) == (f"raw.portal_applications@{portal}", False, 1)
    assert failed_expectations[0] | {"observed": None} == {
        "type": "expect_column_values_to_match_regex",
        "column": "brn_mask",
        "observed": None,
        "severity": "hard",
        "mostly": 0.9,
        "description": "사업자등록번호가 10자리 숫자로 정규화됨 (값은 가림) (≥ 90%)",
    }
    assert failed_expectations[0]["observed"] == {
        "unexpected": 10,
        "of": 20,
        "percent": 50.0,
        "examples": ["999999999"],
    }
    sent = alerts(state_dir)
    assert [a["kind"] for a in sent] == ["gate_failed"]
    assert sent[0]["gate"] == "landing" and sent[0]["count"] == 2 and sent[0]["run_id"] == "run-bad"


def test_landing_gate_warns_between_the_thresholds(fresh_db, state_dir):
    url = fresh_db
    ensure_schema(url)
    # 1 malformed submission time in 20: 95% readable, above the hard 90%, under the warning 97%
    records = [application(i) for i in range(20)]
    records[7]["submitted_at"] = "2024/03/04 10:15"
    load = land_portal(url, records)

    result = enforce(run_gate(url, "landing", run_id="run-1", business_day=DAY, load_ids=[load]))

    assert result.success and result.failures == []
    assert len(result.warnings) == 1
    assert "expect_column_values_to_match_regex(submitted_at) at mostly=0.97" in result.warnings[0]
    assert '1 of 20 rows unexpected (5.0%), e.g. ["2024/03/04 10:15"]' in result.warnings[0]
    assert result.docs_index is None
    assert query(
        url, "select success, hard_failures, warnings from ops.validation_results where warnings > 0"
    ) == [(True, 0, 1)]
    sent = alerts(state_dir)
    assert [a["kind"] for a in sent] == ["quality_warning"]
    assert sent[0]["warnings"] == result.warnings


def test_landing_volume_is_judged_against_the_trailing_loads(fresh_db, state_dir):
    url = fresh_db
    ensure_schema(url)
    earlier = [land_portal(url, [application(100 * day + i) for i in range(20)]) for day in range(3)]
    tiny = land_portal(url, [application(999)])
    outside = land_portal(url, [application(555)], ledger=False)  # landed without a ledger row

    first = run_gate(url, "landing", run_id="run-1", business_day=DAY, load_ids=earlier[:1])
    assert first.success and first.warnings == []  # the first loads have nothing to compare with

    result = run_gate(url, "landing", run_id="run-1", business_day=DAY, load_ids=[tiny, outside])
    assert not result.success
    (volume,) = result.failures
    assert volume.startswith(
        f"raw.portal_applications@{tiny}: expect_column_values_to_be_between(volume_ratio)"
    )
    assert '["0.05"' in volume or '["0.0500"' in volume  # 1 row against a median of 20
    (unledgered,) = result.warnings
    assert unledgered.startswith(f"raw.portal_applications@{outside}: expect_table_row_count_to_equal")

    with pytest.raises(ValueError, match="neither in ops.load_ledger"):
        run_gate(url, "landing", run_id="run-1", business_day=DAY, load_ids=["no-such-load"])
    with pytest.raises(ValueError, match="unknown gate"):
        run_gate(url, "quarantine", run_id="run-1", business_day=DAY)


# --- transformed and publish on the real dbt build ----------------------------------------------------


def test_transformed_and_publish_gates_on_the_dbt_build(fresh_db, tmp_path, state_dir):
    url = fresh_db
    ensure_schema(url)
    records = [application(i) for i in range(1, 9)]
    records.append(application(9, brn="1208147522"))  # wrong check digit: ineligible
    records.append(application(10, program_code="2-8", track_code=None))  # first come
    land_portal(url, records)
    # the tax office's answers of the round day (business_active: without one, review)
    with connect(url) as conn:
        copy_nts_answers(
            conn,
            "load-nts",
            DAY,
            [
                {"b_no": "".join(c for c in r["business"]["brn"] if c.isdigit()), "b_stt_cd": "01"}
                for r in records
            ],
        )
    score_rows = [
        row
        for i, total in zip(range(1, 10), [90, 85, 80, 75, 70, 65, 62, 50, 99])
        for row in scores(f"FF24-{i:07d}", "20240308-2-5", [total] * 3)
    ]
    land_file(url, "evaluation", "raw.evaluation_scores", "scores_20240308-2-5.csv", score_rows)
    settings = dataclasses.replace(load_settings(), state_dir=state_dir)
    dbt_vars = {"round_date": DAY.isoformat(), "run_id": "t"}
    run_dbt(["seed"], url, dbt_vars, settings)
    run_dbt(["build"], url, dbt_vars, settings)
    docs = tmp_path / "docs"

    transformed = enforce(run_gate(url, "transformed", run_id="t", business_day=DAY, docs_dir=docs))
    # 9 of 10 BRNs valid: above the hard 80%, under the warning 95%
    assert len(transformed.warnings) == 1
    assert transformed.warnings[0].startswith(
        "intermediate.int_applications_current: expect_column_values_to_be_in_set(brn_is_valid) at mostly=0.95"
    )
    assert "1 of 10 rows unexpected (10.0%)" in transformed.warnings[0]
    publish = enforce(run_gate(url, "publish", run_id="t", business_day=DAY, docs_dir=docs))
    assert publish.failures == [] and publish.warnings == []
    decisions = query(
        url, "select application_id, decision from marts.fct_allocation_decision order by application_id"
    )
    assert len(decisions) == 9 and ("FF24-0000001", "selected") in decisions
    assert query(url, "select count(*) from ops.published_decisions") == [(9,)]
    # a second pass over the same marts passes against its own snapshot
    assert run_gate(url, "publish", run_id="t2", business_day=DAY).success

    # transformed: a second "current" row for an application. The current versions' fold refuses one by
    # its unique indexes; with them dropped (a hand change), the gate still sees it through the view.
    fold = "intermediate.int_applications_current_folded"
    with connect(url) as conn:
        for (index,) in conn.execute(
            "select indexname from pg_indexes where schemaname = 'intermediate'"
            " and tablename = 'int_applications_current_folded' and indexdef like 'CREATE UNIQUE%'"
        ).fetchall():
            conn.execute(f'drop index intermediate."{index}"')
        conn.execute(f"insert into {fold} select * from {fold} where application_id = 'FF24-0000002'")
    broken = run_gate(url, "transformed", run_id="t3", business_day=DAY)
    assert not broken.success
    unique = failures_of(broken, "expect_column_values_to_be_unique(application_id)")
    assert len(unique) == 1
    assert unique[0].startswith("intermediate.int_applications_current: ") and "FF24-0000002" in unique[0]

    # transformed: a staged score line lost; a portal row quarantined as well as staged while another
    # is lost (the counts balance: only the rows in both places give it away)
    with connect(url) as conn:
        conn.execute(
            "delete from staging.stg_evaluation__scores where raw_id = (select min(raw_id) from staging.stg_evaluation__scores)"
        )
        conn.execute(
            """insert into quarantine.quarantined_rows (raw_table, raw_id, load_id, reason_code, is_dismissed)
               select 'raw.portal_applications', raw_id, load_id, 'CONTROL_CHARACTER', false
                 from staging.stg_portal__applications where application_id = 'FF24-0000003'"""
        )
        conn.execute("delete from staging.stg_portal__applications where application_id = 'FF24-0000004'")
    lost = failures_of(
        run_gate(url, "transformed", run_id="t3b", business_day=DAY),
        "[적재별 원본 행 = 스테이징 행 + 격리 행]",
    )
    assert sorted(f.split(":")[0] for f in lost) == [
        "staging.stg_evaluation__scores",
        "staging.stg_portal__applications",
    ]
    assert '"rows_both": 1' in next(f for f in lost if f.startswith("staging.stg_portal"))

    # publish: a published decision changed, a quota lowered under the selections, a verdict that
    # contradicts its reasons
    with connect(url) as conn:
        conn.execute(
            "update marts.fct_allocation_decision set decision = 'waitlisted', gov_support_krw = null,"
            " self_pay_krw = null where application_id = 'FF24-0000001'"
        )
        conn.execute(
            "update marts.dim_program set program_quota = 2 where program_code = '2-5' and is_programme_level"
        )
        conn.execute(
            "update marts.fct_eligibility set reason_codes = '{}' where application_id = 'FF24-0000009'"
        )
    failed = run_gate(url, "publish", run_id="t4", business_day=DAY, docs_dir=docs)
    assert not failed.success
    changed = failures_of(failed, "[이미 공표된 결정이 바뀌거나 사라지지 않음]")
    assert len(changed) == 1 and changed[0].startswith(
        "marts.fct_allocation_decision: unexpected_rows_expectation"
    )
    assert '"published_decision": "selected", "current_decision": "waitlisted"' in changed[0]
    quota = failures_of(failed, "[세부사업별 선정 수가 정원 이하]")
    assert len(quota) == 1 and '"program_code": "2-5"' in quota[0] and '"quota": 2' in quota[0]
    verdict = failures_of(failed, "[적격 판정과 사유 코드가 일치")
    assert (
        len(verdict) == 1
        and verdict[0].startswith("marts.fct_eligibility: ")
        and "FF24-0000009" in verdict[0]
    )
    with pytest.raises(GateFailed, match="publish gate failed"):
        enforce(failed)
    # a failed gate publishes nothing new, and says so in the warehouse, the alerts and the docs
    assert query(url, "select count(*) from ops.published_decisions") == [(9,)]
    assert query(
        url,
        "select run_id, bool_and(success), sum(hard_failures) from ops.validation_results"
        " where gate = 'publish' group by run_id order by run_id",
    ) == [("t", True, 0), ("t2", True, 0), ("t4", False, 3)]
    # the BRN warning of each transformed run, and each failed gate
    assert [a["kind"] for a in alerts(state_dir)] == [
        "quality_warning",
        "quality_warning",
        "gate_failed",
        "quality_warning",
        "gate_failed",
        "gate_failed",
    ]
    overview = (docs / "index.html").read_text(encoding="utf-8")
    assert "변환 게이트" in overview and "공표 게이트" in overview and "실패" in overview


def test_source_freshness_warns_stops_on_blocking_sources_and_keeps_its_results(fresh_db, state_dir):
    """dbt source freshness on the load ledger: a fresh source passes; one past its warn limit warns;
    one never delivered warns; the portal past its error limit is a hard failure (it blocks the day)."""
    from panro.freshness import run_freshness

    ensure_schema(fresh_db)
    ages_h = {"portal": 1, "nts": 2, "sbiz24": 3 * 24, "evaluation": 40 * 24}
    with connect(fresh_db) as conn:
        for source, hours in ages_h.items():
            conn.execute(
                """insert into ops.load_ledger (load_id, source, started_at, finished_at, outcome)
                   values (%s, %s, now() - make_interval(hours => %s), now() - make_interval(hours => %s),
                           'success')""",
                (new_load_id(source), source, hours, hours),
            )
    fresh = run_freshness(fresh_db, run_id="fresh-1", business_day=DAY)
    assert fresh.success
    by_suite = {v.suite: v for v in fresh.validations}
    assert not by_suite["freshness.portal.portal_applications"].failed
    assert not by_suite["freshness.nts.nts_status_answers"].failed
    assert [f["severity"] for f in by_suite["freshness.sbiz24.sbiz24_o2o_applications"].failed] == ["warning"]
    # past its error limit, but score files only add evidence: alerted, not blocking
    assert [f["severity"] for f in by_suite["freshness.evaluation.evaluation_scores"].failed] == ["warning"]
    assert by_suite["freshness.kakao.kakao_applications"].failed[0]["description"] == "never delivered"

    with connect(fresh_db) as conn:
        conn.execute(
            "update ops.load_ledger set finished_at = now() - interval '4 days' where source = 'portal'"
        )
    stale = run_freshness(fresh_db, run_id="fresh-2", business_day=DAY)
    assert not stale.success
    assert any("portal_applications" in f for f in stale.failures)
    stored = query(
        fresh_db,
        """select run_id, count(*), count(*) filter (where not success) from ops.validation_results
            where gate = 'freshness' group by run_id order by run_id""",
    )
    assert stored == [("fresh-1", 11, 0), ("fresh-2", 11, 1)]
    kinds = [a["kind"] for a in alerts(state_dir)]
    assert kinds.count("gate_failed") == 1 and kinds.count("quality_warning") == 2


def test_a_query_batchs_columns_are_read_without_running_its_rows(fresh_db):
    """GX reads a query batch's column names through column_reflection_fallback, which ran the
    whole query and fetched every row; the gates install a version that runs none of them."""
    import inspect

    import sqlalchemy as sa
    from great_expectations.expectations.metrics import util

    from panro.quality import reflect_query_batches_without_rows

    reflect_query_batches_without_rows()
    reflect_query_batches_without_rows()  # installed once, not wrapped twice
    assert "column_reflection_fallback(" in inspect.getsource(util.get_sqlalchemy_column_metadata)
    with connect(fresh_db) as conn:
        conn.execute("create sequence batch_rows")
        conn.execute("create table landed (load_id text, outcome text)")
    engine = sa.create_engine(gx_connection_string(fresh_db))
    try:
        query = sa.text("select nextval('batch_rows') as n, 'x' as label from generate_series(1, 1000);")
        columns = util.column_reflection_fallback(query, engine.dialect, engine)
        table = util.column_reflection_fallback(
            sa.Table("landed", sa.MetaData(), schema="public"), engine.dialect, engine
        )
    finally:
        engine.dispose()
    assert columns == [{"name": "n"}, {"name": "label"}]
    assert [c["name"] for c in table] == ["load_id", "outcome"]  # a table: GX's own reflection
    with connect(fresh_db) as conn:
        assert conn.execute("select is_called from batch_rows").fetchone() == (False,)  # no row ran


def test_expectation_kwargs_read_once_equal_gxs_own_for_every_gate_expectation():
    """The gates build each expectation's configuration once per kwargs lookup instead of once per
    key; for every expectation of every gate's suites the kwargs are those GX's own code gives."""
    from great_expectations.expectations.expectation import Expectation

    from panro.quality import read_expectation_kwargs_once

    read_expectation_kwargs_once()
    read_expectation_kwargs_once()  # installed once, not wrapped twice
    domain, success = Expectation._get_domain_kwargs, Expectation._get_success_kwargs
    assert domain.gx is not domain and success.gx is not success
    assert domain.gx.__qualname__ == "Expectation._get_domain_kwargs"  # GX's, not a second wrapper
    suites = load_suites()
    checks = [
        *(c for table in suites.landing.TABLES for c in suites.landing.checks(table, ["load-1"])),
        *suites.transformed.checks(date(2024, 7, 1)),
        *suites.publish.checks(date(2024, 7, 1)),
    ]
    expectations = [e for check in checks for e in check.suite.expectations]
    assert len({type(e) for e in expectations}) >= 8
    for e in expectations:
        assert e._get_domain_kwargs() == domain.gx(e), e
        assert e._get_success_kwargs() == success.gx(e), e


def test_a_passing_query_check_runs_its_query_once_and_a_failing_one_shows_its_rows(fresh_db):
    """GX ran a query check's query twice, for its rows and for their count, even when only the
    verdict was asked for; a passing check now runs it once. Each run of a query below draws once
    from its sequence (the check's SQL is run as it is, or counted: once either way)."""
    from datetime import UTC, datetime

    from panro.quality import _validate

    base = load_suites()._base
    with connect(fresh_db) as conn:
        conn.execute("create table landed (n integer)")
        conn.execute("insert into landed values (1), (2), (3)")
        conn.execute("create sequence passing_runs")
        conn.execute("create sequence failing_runs")

    def check(name: str, query: str):
        return base.Check(
            base.suite(name, [base.unexpected_rows(base.HARD, name, "why", query)]), "public.landed"
        )

    passing = check(
        "passing",
        "select l.n from {batch} as l join (select nextval('passing_runs') as run) as r on l.n > 99",
    )
    failing = check(
        "failing",
        "select l.n from {batch} as l join (select nextval('failing_runs') as run) as r on l.n > 1",
    )
    ok, broken = _validate(
        fresh_db,
        [passing, failing],
        run_id="r",
        validated_at=datetime.now(UTC),
        site_dir=None,
        site_title=None,
    )
    assert ok.success and not broken.success
    [failure] = broken.hard_failures
    assert "2" in json.dumps(failure["observed"], default=str)  # the rows it returned are shown
    with connect(fresh_db) as conn:
        # passing: counted once. Failing: counted for its verdict, counted and read by GX for its
        # result, and read once more for the failure's sample rows (panro.quality._sample_rows)
        assert conn.execute("select last_value from passing_runs").fetchone() == (1,)
        assert conn.execute("select last_value from failing_runs").fetchone() == (4,)


def test_a_refused_load_stays_rejected_until_a_person_accepts_it(fresh_db, state_dir):
    from panro.quality import accept_load

    url = fresh_db
    ensure_schema(url)
    bad = land_portal(
        url, [application(i, brn="120-81-4752" if i % 2 else None) for i in range(20)], run_id="r1"
    )
    good = land_portal(url, [application(100 + i) for i in range(20)], run_id="r2")
    assert not run_gate(url, "landing", run_id="r1", business_day=DAY, load_ids=[bad]).success
    assert run_gate(url, "landing", run_id="r2", business_day=DAY, load_ids=[good]).success
    assert query(url, "select load_id from ops.rejected_loads") == [(bad,)]

    with pytest.raises(ValueError, match="not a load the landing gate refused"):
        accept_load(url, good, accepted_by="data-eng", reason="looked fine")
    with pytest.raises(ValueError, match="who accepts it and why"):
        accept_load(url, bad, accepted_by="data-eng", reason=" ")
    accept_load(
        url, bad, accepted_by="김담당", reason="9-digit BRNs are the partner's test rows; checked by phone"
    )
    assert query(url, "select load_id from ops.rejected_loads") == []
    again = run_gate(url, "landing", run_id="r3", business_day=DAY, load_ids=[bad])
    assert again.success and again.validations == []  # accepted: not validated again
    assert query(url, "select accepted_by from ops.load_acceptances") == [("김담당",)]


def o2o(n: int, status: str) -> dict:
    """A 소상공인24 export line (the partner's Korean header)."""
    return {
        "접수번호": f"O2O-{n:04d}",
        "처리상태": status,
        "신청일시": "2024-03-05 09:30:00",
        "사업자등록번호": "120-81-47521",
    }


def workbook_row(name: str) -> dict:
    """A 소담스퀘어 workbook row as staff type it."""
    return {
        "신청일시": "2024.03.05 14:20",
        "사업자등록번호": "120-81-47521",
        "상호": name,
        "개인정보동의": "Y",
    }


def test_incremental_staging_and_quarantine_equal_a_full_build(fresh_db, state_dir, monkeypatch):
    """The row-by-row staging models and quarantine_holds read only the raw rows they have not read; what
    they hold after incremental builds is what a full build makes of the same raw and ops tables: new
    loads, a refused load accepted later, a released row, and a load refused after it was staged."""
    from panro.quality import accept_load
    from panro.quarantine import decide

    url = fresh_db
    ensure_schema(url)
    settings = dataclasses.replace(load_settings(), state_dir=state_dir)
    dbt_vars = {"round_date": DAY.isoformat(), "run_id": "inc"}

    def build(*extra: str) -> None:
        run_dbt(["build", "--select", "staging", "quarantine", *extra], url, dbt_vars, settings)

    def contents() -> dict[str, list[tuple]]:
        return {
            table: query(url, f"select * from {table} order by {key}")
            for table, key in (
                ("staging.stg_portal__applications", "raw_id"),
                ("staging.stg_evaluation__scores", "raw_id"),
                ("staging.base_sbiz24__o2o_application_rows", "raw_id"),
                ("staging.stg_sbiz24__o2o_applications", "application_id, version_no"),
                ("staging.base_kakao__application_rows", "raw_id"),
                ("staging.stg_kakao__applications", "application_id, version_no"),
                ("staging.base_edu__completion_rows", "raw_id"),
                ("staging.stg_edu__completions", "raw_id"),
                ("quarantine.quarantined_rows", "raw_table, raw_id"),
            )
        }

    def portal_raw_ids(load_id: str) -> set[int]:
        return {
            r[0]
            for r in query(url, "select raw_id from raw.portal_applications where load_id = %s", (load_id,))
        }

    def staged_portal() -> set[int]:
        return {r[0] for r in query(url, "select raw_id from staging.stg_portal__applications")}

    run_dbt(["seed"], url, dbt_vars, settings)
    first = land_portal(url, [application(i) for i in range(1, 6)], run_id="r1")
    assert run_gate(url, "landing", run_id="r1", business_day=DAY, load_ids=[first]).success
    build()  # the first build is a full one (no tables yet)

    # day 2: a load the gate refuses (half the BRNs unreadable), a clean load with one row held for a
    # control character, a score file
    refused = land_portal(
        url, [application(100 + i, brn="120-81" if i % 2 else None) for i in range(20)], run_id="r2"
    )
    held = land_portal(url, [application(30), application(31, product={"name": "제품\x07"})], run_id="r2")
    scored = land_file(
        url,
        "evaluation",
        "raw.evaluation_scores",
        "scores_20240308-2-5.csv",
        scores("FF24-0000001", "20240308-2-5", [80] * 3),
    )
    assert not run_gate(url, "landing", run_id="r2", business_day=DAY, load_ids=[refused]).success
    assert run_gate(url, "landing", run_id="r2", business_day=DAY, load_ids=[held, scored]).success
    # partner files whose rows collapse into versions across files (typed row by row, incrementally)
    land_file(
        url, "sbiz24", "raw.sbiz24_o2o_applications", "o2o_20240305.csv", [o2o(1, "접수"), o2o(2, "접수")]
    )
    land_file(
        url,
        "kakao",
        "raw.kakao_applications",
        "busan_20240305.xlsx",
        [workbook_row("가"), workbook_row("가")],
    )
    edu_day2 = land_file(url, "edu", "raw.edu_completions", "completions_20240305.csv", completions(2))
    build()
    assert not staged_portal() & portal_raw_ids(refused)
    bell = max(portal_raw_ids(held))
    assert staged_portal() >= portal_raw_ids(first) | (portal_raw_ids(held) - {bell})
    assert query(url, "select reason_code from quarantine.quarantined_rows where raw_id = %s", (bell,)) == [
        ("CONTROL_CHARACTER",)
    ]
    assert query(url, "select count(*) from staging.stg_evaluation__scores") == query(
        url, "select count(*) from raw.evaluation_scores"
    )

    # day 3: a person accepts the refused load and releases the held row; a load lands that a later
    # gate run refuses after the transform has staged it (the transform raced its gate)
    accept_load(url, refused, accepted_by="김담당", reason="파트너 확인: 시험 행")
    decide(url, "raw.portal_applications", bell, "release", decided_by="김담당", reason="벨 문자는 무해")
    land_file(
        url, "sbiz24", "raw.sbiz24_o2o_applications", "o2o_20240306.csv", [o2o(1, "접수"), o2o(2, "취소")]
    )
    land_file(
        url,
        "kakao",
        "raw.kakao_applications",
        "busan_20240312.xlsx",
        [workbook_row("가"), workbook_row("나")],
    )
    # completions sent again (one of them) with one more: typed once per line, collapsed whole
    edu_day3 = land_file(url, "edu", "raw.edu_completions", "completions_20240306.csv", completions(3)[1:])
    raced = land_portal(
        url, [application(200 + i, brn="120-81" if i % 2 else None) for i in range(20)], run_id="r3"
    )
    build()
    assert staged_portal() >= portal_raw_ids(refused) | {bell} | portal_raw_ids(raced)
    assert not run_gate(url, "landing", run_id="r3", business_day=DAY, load_ids=[raced]).success
    build()
    assert not staged_portal() & portal_raw_ids(raced)
    # the repeat of day 2 is the same version; the changed lines are new versions
    assert query(
        url,
        "select application_id, version_no, times_received from staging.stg_sbiz24__o2o_applications order by 1, 2",
    ) == [("O2O-0001", 1, 2), ("O2O-0002", 1, 1), ("O2O-0002", 2, 1)]
    assert query(
        url, "select business_name, times_received from staging.stg_kakao__applications order by 1"
    ) == [
        ("가", 3),
        ("나", 1),
    ]
    edu_first, edu_again = (
        [
            r
            for (r,) in query(
                url, "select raw_id from raw.edu_completions where load_id = %s order by 1", (load,)
            )
        ]
        for load in (edu_day2, edu_day3)
    )
    assert query(
        url, "select learner_id, times_received, raw_ids from staging.stg_edu__completions order by 1"
    ) == [
        ("L0000", 1, [edu_first[0]]),
        ("L0001", 2, [edu_first[1], edu_again[0]]),
        ("L0002", 1, [edu_again[1]]),
    ]

    incremental = contents()
    # what operations run after a change of a staging model: every row re-read from raw
    from panro.cli import main

    monkeypatch.setenv("WAREHOUSE_URL", url)
    assert main(["rebuild-staging"]) == 0
    assert contents() == incremental
    # the current versions' fold made again keeps its view (a table made again drops the views on it)
    assert query(url, "select to_regclass('intermediate.int_applications_current') is not null") == [(True,)]

    # every received partner row stands in exactly one version: a version lost (its rows in none), or a
    # version doubled (its rows in two), fails the staging build's test, which names the raw rows
    with connect(url) as conn:
        conn.execute(
            "delete from staging.stg_sbiz24__o2o_applications where application_id = 'O2O-0002' and version_no = 2"
        )
        conn.execute(
            "insert into staging.stg_kakao__applications"
            " select * from staging.stg_kakao__applications where business_name = '나'"
        )
    for model in ("stg_sbiz24__o2o_applications", "stg_kakao__applications"):
        with pytest.raises(DbtError, match=f"stands_for_each_row_once_{model}"):
            run_dbt(["test", "--select", model], url, dbt_vars, settings)
