"""The dbt project end to end on a real PostgreSQL: hand-made raw rows -> seeds, staging, eligibility,
scores, the decision ledger (first round, rerun, later round, earlier day) and the personal-data split.

Each test gets a fresh database (``fresh_db``), lands raw rows the way the loaders do (plain inserts
into the tables of include/panro/sql/warehouse.sql) and runs the real ``dbt`` of this environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg

from panro.warehouse import dbt_env, ensure_schema

PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))
KST = timezone(timedelta(hours=9))
SEED = "test-seed"
SALT = "panro-dev-salt"  # the project's default var business_key_salt

PERSONAL_COLUMNS = {"brn", "brn_text", "business_name", "representative_name", "phone", "email", "address"}


# --- helpers ----------------------------------------------------------------------------------------


def run_dbt(url: str, work: Path, *args: str, round_date: str, run_id: str) -> str:
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
    proc = subprocess.run(command, check=False, env=env, capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


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
        "documents": [],
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
    application("A15", submitted="2024-03-09T10:00:00+09:00"),
    application("A16"),  # scored under 60
    application("A17"),  # scored only in a later round
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
SECOND_LOAD = [application("A21", program="2-8", track=None, submitted="2024-03-13T10:00:00+09:00")]

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
# 2-8: 3,200 백만원 / 3,500 = 914,286 KRW, no self-pay.
O2O_EXPO_GOV = 914286


def test_eligibility_scores_and_decision_ledger(fresh_db, tmp_path):
    url = fresh_db
    ensure_schema(url)
    land(url, FIRST_LOAD, FIRST_SCORES, "load-1")

    run_dbt(url, tmp_path, "seed", round_date=ROUND_1, run_id="run-1")
    run_dbt(url, tmp_path, "build", round_date=ROUND_1, run_id="run-1")

    # -- eligibility: a verdict and sorted reason codes for every application present on ROUND_1
    verdicts = {
        app_id: (verdict, reasons)
        for app_id, verdict, reasons, judged_at, version in query(
            url,
            "select application_id, verdict, reason_codes, judged_at, rule_version from marts.fct_eligibility",
        )
    }
    assert verdicts == EXPECTED_VERDICTS
    assert query(url, "select distinct judged_at::text, rule_version from marts.fct_eligibility") == [
        (ROUND_1, "foundation-2024.1")
    ]
    checks = query(
        url,
        "select rule_code, result, reason_code, reason from marts.fct_eligibility_check"
        " where application_id = 'A02' order by rule_order",
    )
    assert [c[0] for c in checks] == [
        "brn_valid",
        "industry_not_excluded",
        "consent_given",
        "submitted_at_valid",
        "not_withdrawn",
        "program_known",
    ]
    assert checks[0] == ("brn_valid", "fail", "BRN_INVALID", "사업자등록번호 형식 또는 검증번호 오류")
    assert all(c[1] == "pass" and c[2] is None for c in checks[1:])

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
            "select application_id, program_code, track_code, decision, rank, total_score, cut_line,"
            " gov_support_krw, self_pay_krw, round_date::text, decided_in_run from marts.fct_allocation_decision",
        )
    }
    assert first == {
        "A01": ("2-5", "planned", "selected", 1, 85, 71, LIVE_GOV, LIVE_SELF, ROUND_1, "run-1"),
        "A06": ("2-5", "self_produced", "selected", 2, 80, 71, LIVE_GOV, LIVE_SELF, ROUND_1, "run-1"),
        "A12": ("2-5", "planned", "selected", 3, 80, 71, LIVE_GOV, LIVE_SELF, ROUND_1, "run-1"),
        "A13": ("2-5", "planned", "selected", 4, 71, 71, LIVE_GOV, LIVE_SELF, ROUND_1, "run-1"),
        "A16": ("2-5", "planned", "not_selected", 5, 55, 71, None, None, ROUND_1, "run-1"),
        "A18": ("2-8", None, "selected", 1, None, None, O2O_EXPO_GOV, 0, ROUND_1, "run-1"),
    }

    # -- a rerun of the same round adds nothing and changes nothing
    before = ledger(url)
    run_dbt(url, tmp_path, "build", round_date=ROUND_1, run_id="run-1-again")
    assert ledger(url) == before

    # -- a later round: only new applications are decided (A13's later withdrawal changes nothing)
    land(url, SECOND_LOAD, [], "load-2")
    run_dbt(url, tmp_path, "build", round_date=ROUND_2, run_id="run-2")
    after = ledger(url)
    assert [r for r in after if r[0] in first] == before
    added = {
        r[0]: r[1:]
        for r in query(
            url,
            "select application_id, decision, rank, cut_line, decided_in_run from marts.fct_allocation_decision"
            " where round_date = %s",
            (ROUND_2,),
        )
    }
    assert added == {
        "A17": ("selected", 1, 65, "run-2"),
        "A15": ("selected", 2, 65, "run-2"),
        "A21": ("selected", 1, None, "run-2"),
    }
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
        "fct_application",
        "fct_eligibility",
        "fct_eligibility_check",
        "fct_score",
        "fct_allocation_decision",
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


def test_oversubscribed_pilot_fills_its_quota_in_rank_order(fresh_db, tmp_path):
    """P-1 (quota 50): 57 scored candidates at or above 60 and 3 under it, in pairs of equal total and
    submission time, so that the seeded hash decides inside each pair, including for the 50th seat."""
    url = fresh_db
    ensure_schema(url)
    base = datetime(2024, 3, 4, 9, 0, tzinfo=KST)
    records, score_rows, expected = [], [], []
    for i in range(60):
        app_id = f"P1-{i:03d}"
        total = 99 - (i + 1) // 2 if i < 57 else 50
        submitted = (base + timedelta(minutes=(i + 1) // 2)).isoformat()
        records.append(application(app_id, program="P-1", track=None, submitted=submitted, brn="1208147521"))
        score_rows += scores(app_id, "20240308-P-1", [total, total, total])
        expected.append((-total, submitted, hashlib.md5((SEED + app_id).encode()).hexdigest(), app_id, total))
    land(url, records, score_rows, "load-p1")

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
