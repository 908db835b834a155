"""The dbt project end to end on a real PostgreSQL: hand-made raw rows -> seeds, staging, eligibility,
scores, the decision ledger (first round, rerun, later round, earlier day), the personal-data split and
the dbt docs of the marts.

Each test gets a fresh database (``fresh_db``), lands raw rows the way the loaders do (plain inserts
into the tables of include/panro/sql/warehouse.sql) and runs the real ``dbt`` of this environment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from panro.brn import brn_check_digit
from panro.config import load_settings
from panro.dbt import (
    BUILD_MARTS,
    BUILD_STAGING_INTERMEDIATE,
    DOCS_FILES,
    SALT_PLACEHOLDER,
    DbtError,
    generate_docs,
    seed_if_changed,
)
from panro.dbt import run_dbt as panro_dbt
from panro.warehouse import dbt_env, ensure_schema

PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))
KST = timezone(timedelta(hours=9))
SEED = "test-seed"
SALT = "panro-dev-salt"  # the project's default var business_key_salt

PERSONAL_COLUMNS = {"brn", "brn_text", "business_name", "representative_name", "phone", "email", "address"}


# The required documents (small-business certificate, national and local tax certificates), valid
# through the rounds of these tests.
REQUIRED_DOCUMENTS = [
    {"type": "small_business_cert", "file_id": "f1", "issued_on": "2024-02-20", "valid_until": "2025-03-31"},
    {"type": "national_tax_cert", "file_id": "f2", "issued_on": "2024-03-01", "valid_until": "2024-03-31"},
    {"type": "local_tax_cert", "file_id": "f3", "issued_on": "2024-03-01", "valid_until": "2024-03-31"},
]

# --- helpers ----------------------------------------------------------------------------------------


def run_dbt(url: str, work: Path, *args: str, round_date: str, run_id: str) -> str:
    proc = dbt_process(url, work, *args, round_date=round_date, run_id=run_id)
    assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


def dbt_process(
    url: str, work: Path, *args: str, round_date: str, run_id: str
) -> subprocess.CompletedProcess:
    env = {**os.environ, **dbt_env(url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("PANRO_BUSINESS_KEY_SALT", None)  # the default salt, so business keys can be checked
    dbt_vars = {"round_date": round_date, "run_id": run_id, "allocation_seed": SEED}
    command = [
        DBT,
        *args,
        "--project-dir",
        str(PROJECT),
        "--profiles-dir",
        str(PROJECT),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--threads",
        "4",
        "--vars",
        json.dumps(dbt_vars),
    ]
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, cwd=PROJECT)


def application(
    app_id: str,
    *,
    program: str = "2-5",
    track: str | None = "planned",
    status: str = "submitted",
    submitted: str | None = "2024-03-04T10:15:22+09:00",
    updated: str | None = None,
    brn: str | None = "120-81-47521",
    ksic: str | None = "10711",
    ksic_revision: int | None = 10,
    consents: dict | None = None,
    documents: list[dict] | None = None,
    drop: tuple[str, ...] = (),
) -> dict:
    """One portal record (sources.md §1) with sensible defaults; ``drop`` removes top-level keys."""
    record = {
        "application_id": app_id,
        "program_code": program,
        "track_code": track,
        "status": status,
        "submitted_at": submitted,
        "updated_at": updated or submitted or "2024-03-04T10:15:22+09:00",
        "business": {
            "brn": brn,
            "corporate_no": None,
            "name": f"상호 {app_id}",
            "representative_name": f"대표 {app_id}",
            "business_type": "individual",
            "opened_on": "2019-05-01",
            "ksic_code": ksic,
            "ksic_revision": ksic_revision,
            "employees": 3.5,
            "annual_revenue_krw": 412000000,
            "sido": "전북특별자치도",
            "sigungu": "전주시 덕진구",
            "address": "전주시 덕진구 1",
            "phone": "010-1234-5678",
            "email": f"{app_id.lower()}@example.kr",
        },
        "online_presence": {
            "has_own_mall": False,
            "own_mall_url": None,
            "mail_order_registered": True,
            "mail_order_registered_on": "2023-11-02",
            "smartstore_url": None,
            "smartstore_opened_on": None,
        },
        "product": {
            "name": "제품",
            "category": "food",
            "is_imported": False,
            "is_large_company_product": False,
            "unit_price_krw": 18000,
        },
        "documents": documents if documents is not None else REQUIRED_DOCUMENTS,
        "bonus_claims": [],
        "program_answers": {},
        "consents": consents if consents is not None else {"privacy": True, "third_party": True},
    }
    for key in drop:
        record.pop(key)
    return record


def scores(app_id: str, round_id: str, totals: list[int], conflicted: tuple[int, ...] = ()) -> list[dict]:
    """Score-file rows (sources.md §6): one reviewer per total, split 40/30/30 over the criteria."""
    rows = []
    for n, total in enumerate(totals, start=1):
        cents = total * 100
        parts = {"product": cents * 40 // 100, "online_readiness": cents * 30 // 100}
        parts["growth"] = cents - sum(parts.values())
        for criterion, max_score in (("product", 40), ("online_readiness", 30), ("growth", 30)):
            rows.append(
                {
                    "application_id": app_id,
                    "round_id": round_id,
                    "reviewer_id": f"R{n:02d}",
                    "criterion": criterion,
                    "score": f"{parts[criterion] / 100:.2f}",
                    "max_score": str(max_score),
                    "conflict_of_interest": "Y" if n in conflicted else "N",
                    "scored_at": f"{round_id[:4]}-{round_id[4:6]}-{round_id[6:8]}T15:00:00+09:00",
                }
            )
    return rows


def land(url: str, records: list[dict], score_rows: list[dict], load_id: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        for record in records:
            text = json.dumps(record, ensure_ascii=False, sort_keys=True)
            conn.execute(
                """insert into raw.portal_applications
                       (load_id, loaded_at, source_page, record_hash, application_id, updated_at_text, record)
                   values (%s, %s, 'page-1', %s, %s, %s, %s::jsonb)""",
                (
                    load_id,
                    now,
                    hashlib.sha256(text.encode()).hexdigest(),
                    record["application_id"],
                    record["updated_at"],
                    text,
                ),
            )
        by_file: dict[str, list[dict]] = {}
        for row in score_rows:
            by_file.setdefault(f"scores_{row['round_id']}.csv", []).append(row)
        for name, rows in by_file.items():
            file_sha = hashlib.sha256((load_id + name).encode()).hexdigest()
            for line_no, row in enumerate(rows, start=2):
                text = json.dumps(row, sort_keys=True)
                conn.execute(
                    """insert into raw.evaluation_scores
                           (load_id, loaded_at, source_file, file_sha256, line_no, record_hash, record)
                       values (%s, %s, %s, %s, %s, %s, %s::jsonb)""",
                    (load_id, now, name, file_sha, line_no, hashlib.sha256(text.encode()).hexdigest(), text),
                )


def land_nts(url: str, brns: list[str], asked_on: str, load_id: str, status_code: str = "01") -> None:
    """The 국세청 answers of a day (sources.md §5): every number in business unless told otherwise."""
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        for brn in brns:
            record = {
                "b_no": brn,
                "b_stt": "계속사업자",
                "b_stt_cd": status_code,
                "tax_type": "부가가치세 일반과세자",
                "tax_type_cd": "01",
                "end_dt": "",
            }
            text = json.dumps(record, ensure_ascii=False, sort_keys=True)
            conn.execute(
                """insert into raw.nts_status_answers (load_id, loaded_at, asked_on, b_no, record_hash, record)
                   values (%s, %s, %s, %s, %s, %s::jsonb)""",
                (load_id, now, asked_on, brn, hashlib.sha256(text.encode()).hexdigest(), text),
            )


def defined_unit_tests() -> set[str]:
    """The names of the unit tests the project's yml files define."""
    import yaml

    return {
        test["name"]
        for path in (PROJECT / "models").rglob("*.yml")
        for test in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("unit_tests", [])
    }


def assert_every_unit_test_passed(run_results: Path) -> None:
    results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    ran = {
        r["unique_id"].rsplit(".", 1)[-1]: r["status"]
        for r in results
        if r["unique_id"].startswith("unit_test.")
    }
    assert set(ran) == defined_unit_tests() and len(ran) >= 30, sorted(set(ran) ^ defined_unit_tests())
    assert {name: status for name, status in ran.items() if status != "pass"} == {}


def test_daily_builds_select_every_model_and_data_test_but_no_unit_test(tmp_path):
    """The transform's two builds cover every model and every data test between them, bar the tests
    of the seeds (the seeds are code: `dbt seed` loads them when they change, and CI's builds test
    them), and leave the unit tests to CI."""

    def listed(*args: str) -> set[tuple[str, str]]:
        # dbt ls reads the project only: the URL names no server it would reach
        out = panro_dbt(
            ["ls", *args, "--output", "json", "--output-keys", "resource_type unique_id"],
            "postgresql://nobody@localhost:1/none",
            {"round_date": "2024-03-04", "run_id": "ls"},
            target=tmp_path / "target",
        )
        nodes = [json.loads(line) for line in out.splitlines() if line.startswith('{"')]
        return {(n["resource_type"], n["unique_id"]) for n in nodes if "unique_id" in n}

    daily = listed(*BUILD_STAGING_INTERMEDIATE[1:]) | listed(*BUILD_MARTS[1:])
    seed_tests = listed("--select", "path:seeds", "--resource-type", "test")
    everything = listed()
    assert {kind for kind, _ in daily} == {"model", "test"}
    assert seed_tests
    assert {n for n in everything if n[0] in ("model", "test")} - seed_tests == daily - seed_tests
    assert any(kind == "unit_test" for kind, _ in everything)


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def ledger(url: str) -> list[tuple]:
    return query(url, "select * from marts.fct_allocation_decision order by application_id")


# --- the hand-made scenario -------------------------------------------------------------------------

ROUND_1 = "2024-03-08"
ROUND_2 = "2024-03-15"

FIRST_LOAD = [
    # eligible; 3 reviewers count, R04 has a conflict of interest
    application("A01"),
    application("A02", brn="1208147522"),  # wrong check digit
    application("A03", brn=None),  # BRN missing
    application("A04", ksic="56211"),  # 일반유흥주점: excluded
    application("A05", ksic="47811"),  # pharmacy: partly excluded
    application(
        "A06",
        track="self_produced",
        brn="1168200276",
        ksic="68211",  # 6821 carved out of 68
        submitted="2024-03-04T09:00:00+09:00",
    ),
    application("A07", ksic=None),  # KSIC missing
    application("A08", drop=("consents",)),  # consents key missing
    application("A09", consents={"privacy": True, "third_party": False}),
    application("A10", submitted="2024/03/04 10:15", updated="2024-03-04T10:15:22+09:00"),
    # withdrawn in a later version (before the round)
    application("A11"),
    application("A11", status="withdrawn", updated="2024-03-06T09:00:00+09:00"),
    # consent fixed in a later version: the current version counts
    application("A12", brn=" 134 86 72683 ", submitted="2024-03-04T11:00:00+09:00", drop=("consents",)),
    application(
        "A12",
        brn=" 134 86 72683 ",
        submitted="2024-03-04T11:00:00+09:00",
        updated="2024-03-05T09:00:00+09:00",
    ),
    # withdrawn only after the round: eligible and decided on ROUND_1, and the decision stays
    application("A13", brn="1078153660", submitted="2024-03-05T10:00:00+09:00"),
    application(
        "A13",
        brn="1078153660",
        status="withdrawn",
        submitted="2024-03-05T10:00:00+09:00",
        updated="2024-03-09T10:00:00+09:00",
    ),
    application("A14", brn="1208147522", ksic="56211", consents={"privacy": False, "third_party": True}),
    # submitted after ROUND_1: not there yet on ROUND_1
    application("A15", brn="2208100016", submitted="2024-03-09T10:00:00+09:00"),
    application("A16"),  # scored under 60
    application("A17"),  # scored only in a later round; A01's business, which holds a 2-5 selection
    application("A18", program="2-8", track=None, submitted="2024-03-05T10:00:00+09:00"),  # first come
    application("A19", program="Z-9", track=None),  # unknown programme
    application("A20", ksic="63992", ksic_revision=11),  # virtual assets (KSIC 11)
]
FIRST_SCORES = [
    *scores("A01", "20240308-2-5", [80, 85, 90, 0], conflicted=(4,)),
    *scores("A02", "20240308-2-5", [99, 99, 99]),
    *scores("A06", "20240308-2-5", [80, 80, 80]),
    *scores("A12", "20240308-2-5", [80, 80, 80]),
    *scores("A13", "20240308-2-5", [70, 71, 72]),
    *scores("A16", "20240308-2-5", [50, 55, 60]),
    *scores("A15", "20240312-2-5", [65, 65, 65]),
    *scores("A17", "20240312-2-5", [77, 77, 77]),
]
SECOND_LOAD = [
    application("A21", brn="2208100020", program="2-8", track=None, submitted="2024-03-13T10:00:00+09:00")
]


def nts_numbers(records: list[dict]) -> list[str]:
    """The 10-digit numbers of the records, as the 국세청 job would ask them."""
    digits = {"".join(ch for ch in (r["business"]["brn"] or "") if ch.isdigit()) for r in records}
    return sorted(d for d in digits if len(d) == 10)


EXPECTED_VERDICTS = {
    "A01": ("eligible", []),
    "A02": ("ineligible", ["BRN_INVALID"]),
    "A03": ("ineligible", ["BRN_MISSING"]),
    "A04": ("ineligible", ["INDUSTRY_EXCLUDED"]),
    "A05": ("needs_review", ["INDUSTRY_PARTIAL_REVIEW"]),
    "A06": ("eligible", []),
    "A07": ("needs_review", ["KSIC_MISSING"]),
    "A08": ("ineligible", ["CONSENT_MISSING"]),
    "A09": ("ineligible", ["CONSENT_MISSING"]),
    "A10": ("ineligible", ["SUBMITTED_AT_INVALID"]),
    "A11": ("ineligible", ["WITHDRAWN"]),
    "A12": ("eligible", []),
    "A13": ("eligible", []),
    "A14": ("ineligible", ["BRN_INVALID", "CONSENT_MISSING", "INDUSTRY_EXCLUDED"]),
    "A16": ("eligible", []),
    "A17": ("eligible", []),
    "A18": ("eligible", []),
    "A19": ("ineligible", ["PROGRAM_UNKNOWN"]),
    "A20": ("ineligible", ["INDUSTRY_EXCLUDED"]),
}

# 2-5: support 5,833,333 KRW a company, self-pay 20% -> state 4,666,666 + business 1,166,667.
LIVE_GOV, LIVE_SELF = 4666666, 1166667
# 2-8: 3,200 백만원 / 3,500 = 914,285 KRW (rounded down: the whole quota fits the budget), no self-pay.
O2O_EXPO_GOV = 914285


def test_eligibility_scores_and_decision_ledger(fresh_db, tmp_path, monkeypatch):
    url = fresh_db
    ensure_schema(url)
    land(url, FIRST_LOAD, FIRST_SCORES, "load-1")
    land_nts(url, nts_numbers(FIRST_LOAD + SECOND_LOAD), "2024-03-04", "nts-1")

    run_dbt(url, tmp_path, "seed", round_date=ROUND_1, run_id="run-1")
    run_dbt(url, tmp_path, "build", round_date=ROUND_1, run_id="run-1")
    # the daily builds leave the unit tests out, so this build is where every one of them must pass
    assert_every_unit_test_passed(tmp_path / "target" / "run_results.json")

    # -- eligibility: a verdict and sorted reason codes for every application present on ROUND_1
    verdicts = {
        app_id: (verdict, reasons)
        for app_id, verdict, reasons, judged_at, version in query(
            url,
            "select application_id, verdict, reason_codes, judged_at, rule_version from marts.fct_eligibility",
        )
    }
    # each defect is caught with its reason (the eligibility rules may add review reasons of their own:
    # tests/test_eligibility_rules.py pins those)
    assert set(verdicts) == set(EXPECTED_VERDICTS)
    for app_id, (verdict, reasons) in EXPECTED_VERDICTS.items():
        assert verdicts[app_id][0] == verdict and set(reasons) <= set(verdicts[app_id][1]), (
            app_id,
            verdicts[app_id],
        )
    assert query(url, "select distinct judged_at::text from marts.fct_eligibility") == [(ROUND_1,)]
    checks = query(
        url,
        "select rule_code, result, reason_code, reason from marts.fct_eligibility_check where application_id = 'A02'",
    )
    assert ("brn_valid", "fail", "BRN_INVALID", "사업자등록번호 형식 또는 검증번호 오류") in checks

    # -- scores: conflicted reviewer left out; only rounds on or before the round day
    score = {
        a: (float(c), n, float(b), float(t))
        for a, c, n, b, t in query(
            url,
            "select application_id, committee_score, reviewer_count, bonus_points, total_score from marts.fct_score",
        )
    }
    assert score["A01"] == (85.0, 3, 0.0, 85.0)
    assert score["A13"] == (71.0, 3, 0.0, 71.0)
    assert "A17" not in score and "A15" not in score

    # -- the ledger after the first round
    first = {
        r[0]: r[1:]
        for r in query(
            url,
            "select application_id, program_code, track_code, decision, reason_code, rank, event_seq, total_score,"
            " cut_line, gov_support_krw, self_pay_krw, round_date::text, decided_in_run"
            " from marts.fct_allocation_decision",
        )
    }
    assert first == {
        "A01": (
            "2-5",
            "planned",
            "selected",
            "WITHIN_QUOTA",
            1,
            1,
            85,
            71,
            LIVE_GOV,
            LIVE_SELF,
            ROUND_1,
            "run-1",
        ),
        "A06": (
            "2-5",
            "self_produced",
            "selected",
            "WITHIN_QUOTA",
            2,
            1,
            80,
            71,
            LIVE_GOV,
            LIVE_SELF,
            ROUND_1,
            "run-1",
        ),
        "A12": (
            "2-5",
            "planned",
            "selected",
            "WITHIN_QUOTA",
            3,
            1,
            80,
            71,
            LIVE_GOV,
            LIVE_SELF,
            ROUND_1,
            "run-1",
        ),
        "A13": (
            "2-5",
            "planned",
            "selected",
            "WITHIN_QUOTA",
            4,
            1,
            71,
            71,
            LIVE_GOV,
            LIVE_SELF,
            ROUND_1,
            "run-1",
        ),
        "A16": (
            "2-5",
            "planned",
            "not_selected",
            "BELOW_MIN_SCORE",
            5,
            1,
            55,
            71,
            None,
            None,
            ROUND_1,
            "run-1",
        ),
        "A18": ("2-8", None, "selected", "WITHIN_QUOTA", 1, 1, None, None, O2O_EXPO_GOV, 0, ROUND_1, "run-1"),
    }

    # -- a rerun of the same round adds nothing and changes nothing
    before = ledger(url)
    run_dbt(url, tmp_path, "build", round_date=ROUND_1, run_id="run-1-again")
    assert ledger(url) == before

    # -- a later round: A13 withdrew after its selection (a new event; its selection row stays as it
    # was), A17's business (A01's) already holds a 2-5 selection, the others are new
    land(url, SECOND_LOAD, [], "load-2")
    run_dbt(url, tmp_path, "build", round_date=ROUND_2, run_id="run-2")
    after = ledger(url)
    assert set(before) <= set(after)
    added = {
        r[0]: r[1:]
        for r in query(
            url,
            "select application_id, decision, reason_code, rank, event_seq, previous_decision, cut_line,"
            " gov_support_krw, decided_in_run from marts.fct_allocation_decision where round_date = %s",
            (ROUND_2,),
        )
    }
    assert added == {
        "A13": ("withdrawn", "WITHDRAWN_AFTER_SELECTION", 4, 2, "selected", None, None, "run-2"),
        "A17": ("waitlisted", "PARTICIPATION_LIMIT", 1, 1, None, 65, None, "run-2"),
        "A15": ("selected", "WITHIN_QUOTA", 2, 1, None, 65, LIVE_GOV, "run-2"),
        "A21": ("selected", "WITHIN_QUOTA", 1, 1, None, None, O2O_EXPO_GOV, "run-2"),
    }
    # where each application stands now; the day's snapshot for BI; the businesses without personal data
    assert dict(query(url, "select application_id, current_decision from marts.fct_allocation_current")) == {
        "A01": "selected",
        "A06": "selected",
        "A12": "selected",
        "A13": "withdrawn",
        "A15": "selected",
        "A16": "not_selected",
        "A17": "waitlisted",
        "A18": "selected",
        "A21": "selected",
    }
    assert query(
        url,
        "select business_day::text, selected, waitlisted, not_selected, withdrawn, withdrawn_on_day, quota_left,"
        " budget_committed_krw from marts.agg_program_daily where program_code = '2-5' order by 1",
    ) == [(ROUND_1, 4, 0, 1, 0, 0, 1500 - 4, 4 * LIVE_GOV), (ROUND_2, 4, 1, 1, 1, 1, 1500 - 4, 4 * LIVE_GOV)]
    assert query(
        url,
        "select sido, ksic_section, size_band, revenue_band, application_count from marts.dim_business"
        " where business_key = %s",
        (hashlib.md5((SALT + "1208147521").encode()).hexdigest(),),
    ) == [("전북특별자치도", "C", "under_5", "100m_to_500m", 13)]
    assert query(url, "select is_withdrawn from marts.fct_application where application_id = 'A13'") == [
        (True,)
    ]

    # -- a day before the ledger's latest round decides nothing
    run_dbt(url, tmp_path, "build", round_date=ROUND_1, run_id="run-backfill")
    assert ledger(url) == after

    # -- personal data only in restricted; marts carry the salted business key
    mart_columns = {
        (t, c)
        for t, c in query(
            url, "select table_name, column_name from information_schema.columns where table_schema = 'marts'"
        )
    }
    assert {t for t, _ in mart_columns} >= {
        "dim_program",
        "dim_business",
        "fct_application",
        "fct_eligibility",
        "fct_eligibility_check",
        "fct_score",
        "fct_allocation_decision",
        "fct_allocation_current",
        "agg_program_daily",
    }
    assert not {c for _, c in mart_columns} & PERSONAL_COLUMNS
    assert query(url, "select business_key from marts.fct_application where application_id = 'A01'") == [
        (hashlib.md5((SALT + "1208147521").encode()).hexdigest(),)
    ]
    assert query(
        url,
        "select brn, business_name, representative_name, phone, email, sido, sigungu"
        " from restricted.applicant_contacts where application_id in ('A01', 'A12', 'A03') order by 1 nulls last",
    ) == [
        (
            "120-81-47521",
            "상호 A01",
            "대표 A01",
            "010-1234-5678",
            "a01@example.kr",
            "전북특별자치도",
            "전주시 덕진구",
        ),
        (
            "134-86-72683",
            "상호 A12",
            "대표 A12",
            "010-1234-5678",
            "a12@example.kr",
            "전북특별자치도",
            "전주시 덕진구",
        ),
        (None, "상호 A03", "대표 A03", "010-1234-5678", "a03@example.kr", "전북특별자치도", "전주시 덕진구"),
    ]

    # -- the dbt docs of this warehouse (what the panro_docs DAG writes), with a production-like salt
    check_dbt_docs(url, tmp_path, monkeypatch, mart_columns)


def check_dbt_docs(url: str, tmp_path: Path, monkeypatch, mart_columns: set[tuple[str, str]]) -> None:
    """The docs list every mart with the columns it has in the warehouse and its description, and never
    the business-key salt (compiled SQL shows a placeholder instead)."""
    secret_salt = "prod-salt-that-must-not-leak"
    monkeypatch.setenv("PANRO_BUSINESS_KEY_SALT", secret_salt)
    settings = dataclasses.replace(
        load_settings(), home=PROJECT.parent, state_dir=tmp_path / "state", business_key_salt=secret_salt
    )
    docs = generate_docs(url, settings)
    assert docs == tmp_path / "state" / "dbt_docs"
    assert {p.name for p in docs.iterdir()} == set(DOCS_FILES)

    catalog = json.loads((docs / "catalog.json").read_text(encoding="utf-8"))
    in_catalog = {
        (node["metadata"]["name"], column)
        for node in catalog["nodes"].values()
        if node["metadata"]["schema"] == "marts"
        for column in node["columns"]
    }
    assert in_catalog == mart_columns
    manifest = json.loads((docs / "manifest.json").read_text(encoding="utf-8"))
    ledger_doc = manifest["nodes"]["model.panro.fct_allocation_decision"]
    assert "DECISION LEDGER" in ledger_doc["description"]
    assert ledger_doc["columns"]["cut_line"]["description"]
    assert SALT_PLACEHOLDER in manifest["nodes"]["model.panro.fct_application"]["compiled_code"]
    for name in DOCS_FILES:
        assert secret_salt not in (docs / name).read_text(encoding="utf-8"), name


def pilot_brn(i: int) -> str:
    """A valid BRN of its own for the i-th pilot applicant (one selection per business in P-1)."""
    first9 = f"{201 + i:03d}01{1000 + i:04d}"
    return first9 + str(brn_check_digit(first9))


def test_oversubscribed_pilot_fills_its_quota_in_rank_order(fresh_db, tmp_path):
    """P-1 (quota 50): 57 scored candidates at or above 60 and 3 under it, in pairs of equal total and
    submission time, so that the seeded hash decides inside each pair, including for the 50th seat.
    Then two selected businesses withdraw, and the next round gives their places to the first two on
    the waiting list, in rank order."""
    url = fresh_db
    ensure_schema(url)
    base = datetime(2024, 3, 4, 9, 0, tzinfo=KST)
    records, score_rows, expected = [], [], []
    for i in range(60):
        app_id = f"P1-{i:03d}"
        total = 99 - (i + 1) // 2 if i < 57 else 50
        submitted = (base + timedelta(minutes=(i + 1) // 2)).isoformat()
        records.append(application(app_id, program="P-1", track=None, submitted=submitted, brn=pilot_brn(i)))
        score_rows += scores(app_id, "20240308-P-1", [total, total, total])
        expected.append((-total, submitted, hashlib.md5((SEED + app_id).encode()).hexdigest(), app_id, total))
    land(url, records, score_rows, "load-p1")
    land_nts(url, [pilot_brn(i) for i in range(60)], "2024-03-04", "nts-p1")

    run_dbt(url, tmp_path, "build", round_date=ROUND_1, run_id="run-p1")

    order = [e[3] for e in sorted(expected)]
    rows = query(
        url,
        "select application_id, decision, rank, total_score, cut_line from marts.fct_allocation_decision"
        " where program_code = 'P-1' order by rank",
    )
    assert [r[0] for r in rows] == order
    assert [r[2] for r in rows] == list(range(1, 61))
    assert [r[1] for r in rows] == ["selected"] * 50 + ["waitlisted"] * 7 + ["not_selected"] * 3
    totals = {e[3]: e[4] for e in expected}
    assert {float(r[4]) for r in rows} == {float(totals[order[49]])} == {74.0}
    # the 50th seat goes to one of the pair with total 74 by the seeded hash, the other is first in line
    pair = sorted(a for a, t in totals.items() if t == 74)
    assert {order[49], order[50]} == set(pair)
    assert order[49] == min(pair, key=lambda a: hashlib.md5((SEED + a).encode()).hexdigest())

    # two selected businesses withdraw; the next round promotes the first two on the waiting list
    gone = [order[0], order[10]]
    withdrawn = [r for r in records if r["application_id"] in gone]
    land(
        url,
        [{**r, "status": "withdrawn", "updated_at": "2024-03-09T10:00:00+09:00"} for r in withdrawn],
        [],
        "load-p1-withdrawals",
    )
    before = ledger(url)
    run_dbt(
        url, tmp_path, "run", "--select", "+fct_allocation_decision", round_date=ROUND_2, run_id="run-p1-2"
    )
    assert set(before) <= set(ledger(url))
    assert query(
        url,
        "select application_id, decision, reason_code, rank, previous_decision, cut_line"
        " from marts.fct_allocation_decision where round_date = %s order by decision desc, rank",
        (ROUND_2,),
    ) == [
        (order[0], "withdrawn", "WITHDRAWN_AFTER_SELECTION", 1, "selected", None),
        (order[10], "withdrawn", "WITHDRAWN_AFTER_SELECTION", 11, "selected", None),
        (order[50], "selected", "PROMOTED_FROM_WAITLIST", 51, "waitlisted", 73),
        (order[51], "selected", "PROMOTED_FROM_WAITLIST", 52, "waitlisted", 73),
    ]
    held = query(
        url,
        "select count(*) from (select distinct on (application_id) decision from marts.fct_allocation_decision"
        " where program_code = 'P-1' order by application_id, event_seq desc) s where decision = 'selected'",
    )
    assert held == [(50,)]


def test_round_date_reaches_sql_only_as_a_checked_date(fresh_db, tmp_path, monkeypatch):
    """round_date comes from outside (--vars here): anything but YYYY-MM-DD is refused at compile time,
    naming it, before any SQL runs. A var given comes before the environment's PANRO_ROUND_DATE."""
    monkeypatch.setenv("PANRO_ROUND_DATE", "2024-03-12")
    for bad in ["2024-03-08' or true --", "8 March 2024", "2024-3-8"]:
        proc = dbt_process(
            fresh_db, tmp_path, "compile", "--select", "fct_allocation_decision", round_date=bad, run_id="x"
        )
        assert proc.returncode != 0, bad
        assert "round_date must be a date YYYY-MM-DD" in proc.stdout, proc.stdout[-3000:]
        assert f"got '{bad}'" in proc.stdout, proc.stdout[-3000:]
    compiled = run_dbt(
        fresh_db,
        tmp_path,
        "compile",
        "--select",
        "fct_allocation_decision",
        round_date="2024-03-08",
        run_id="x",
    )
    assert "date '2024-03-08'" in compiled and "2024-03-12" not in compiled


def test_a_new_run_reaches_dbt_in_the_environment_and_parses_no_model_again(fresh_db, tmp_path, monkeypatch):
    """panro gives round_date and run_id in the environment (macro run_var), not in --vars, which dbt
    hashes: a new day's run compiles with its own day and run id, and dbt parses again only what
    read them at parse time (the filters of the 국세청 answers' tests), not the whole project. A value
    left in the caller's environment is never used."""
    url, target = fresh_db, tmp_path / "target"
    ensure_schema(url)
    settings = dataclasses.replace(load_settings(), state_dir=tmp_path / "state")
    models = ["fct_allocation_decision", "stg_nts__status_answers"]
    compiled = (
        target / "compiled" / "panro" / "models" / "marts" / "allocation" / "fct_allocation_decision.sql"
    )

    def compile_run(dbt_vars: dict) -> str:
        return panro_dbt(["compile", "--select", *models], url, dbt_vars, settings, target=target)

    def where_of_the_answers_tests() -> set[str]:
        nodes = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["nodes"].values()
        return {
            n["config"]["where"]
            for n in nodes
            if n["resource_type"] == "test"
            and n.get("attached_node") == "model.panro.stg_nts__status_answers"
            and n["config"].get("where")
        }

    compile_run({"round_date": "2024-03-08", "run_id": "run-1"})
    assert "date '2024-03-08'" in compiled.read_text() and "'run-1'" in compiled.read_text()
    assert where_of_the_answers_tests() == {"asked_on = '2024-03-08'"}

    output = compile_run({"round_date": "2024-03-11", "run_id": "run-2"})
    assert "Unable to do partial parsing" not in output, output[-3000:]
    text = compiled.read_text()
    assert "date '2024-03-11'" in text and "'run-2'" in text and "2024-03-08" not in text
    assert where_of_the_answers_tests() == {"asked_on = '2024-03-11'"}

    monkeypatch.setenv("PANRO_ROUND_DATE", "2024-03-12")  # left set in a shell
    with pytest.raises(DbtError, match="round_date must be a date YYYY-MM-DD"):
        compile_run({"run_id": "run-3"})


def test_seeds_are_reloaded_only_when_they_change(fresh_db, tmp_path):
    """The transform loads the rules (seeds) when their files, config or dbt changed, or a seed table is
    missing; an unchanged day costs no dbt run."""
    url = fresh_db
    ensure_schema(url)
    home = tmp_path / "home"
    shutil.copytree(
        load_settings().dbt_project_dir, home / "dbt_project", ignore=shutil.ignore_patterns("target", "logs")
    )
    settings = dataclasses.replace(load_settings(), home=home, state_dir=tmp_path / "state")
    assert seed_if_changed(url, settings=settings) is not None  # nothing loaded yet
    assert seed_if_changed(url, settings=settings) is None
    assert query(url, "select count(*) from ops.seed_state") == [(1,)]
    # every seed has statistics as loaded (autovacuum would never analyze the small ones)
    seeds = sorted(p.stem for p in (home / "dbt_project" / "seeds").rglob("*.csv"))
    analyzed = query(
        url,
        "select relname from pg_stat_user_tables where schemaname = 'reference' and last_analyze is not null",
    )
    assert sorted(set(seeds) - {name for (name,) in analyzed}) == []

    # a corrected reason text reaches the warehouse the next day
    csv = home / "dbt_project" / "seeds" / "reason_codes.csv"
    csv.write_text(
        csv.read_text(encoding="utf-8").replace("사업자등록번호 누락,", "사업자등록번호 미기재,"),
        encoding="utf-8",
    )
    assert seed_if_changed(url, settings=settings) is not None
    assert query(url, "select text_ko from reference.reason_codes where reason_code = 'BRN_MISSING'") == [
        ("사업자등록번호 미기재",)
    ]
    assert seed_if_changed(url, settings=settings) is None

    # a seed table lost (dropped by hand, a restore of part of the schema) is loaded again
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop table reference.ksic_sections")
    assert seed_if_changed(url, settings=settings) is not None
    assert query(url, "select count(*) > 0 from reference.ksic_sections") == [(True,)]
