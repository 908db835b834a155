"""`panro explain` against a real warehouse: a small scenario landed with the raw loaders and built by the
real dbt project, then explained from the marts (the verdict, every rule with its Korean reason and
detail, the reviewers, each bonus claim and the total)."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from test_eligibility_rules import DOCS, EVIDENCE, application, brn, land_file, run_dbt, scores

from panro.cli import main
from panro.explain import explain
from panro.loaders.raw import copy_nts_answers, copy_portal_versions
from panro.warehouse import connect, ensure_schema

RECORDS = [
    # scored 80 by three reviewers (a fourth has a conflict of interest); ① online-early verified,
    # ③ Smart Store claimed without a store
    application("X01", 61, bonus_claims=["online_early", "smartstore"], documents=DOCS + EVIDENCE[:1]),
    application("X02", 62),  # closed on the cut-off
]


@pytest.fixture(scope="module")
def warehouse(pg_server, tmp_path_factory) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = urlunparse(urlparse(pg_server)._replace(path=f"/{name}"))
    ensure_schema(url)
    with connect(url) as conn:
        copy_portal_versions(conn, "load-portal", [("page-1", r) for r in RECORDS])
    with connect(url) as conn:
        copy_nts_answers(
            conn,
            "load-nts",
            "2024-03-08",
            [
                {"b_no": brn(61), "b_stt_cd": "01", "end_dt": ""},
                {"b_no": brn(62), "b_stt_cd": "03", "end_dt": "20240308"},
            ],
        )
    land_file(url, "raw.evaluation_scores", "scores_20240308-2-5.csv", scores("X01", [80, 80, 80, 10], (4,)))
    work = tmp_path_factory.mktemp("explain-dbt")
    run_dbt(url, work, "seed")
    run_dbt(url, work, "run")  # the models only: the rules' tests run in test_eligibility_rules
    yield url
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def test_an_eligible_scored_application(warehouse):
    text = explain(warehouse, "X01")
    lines = text.splitlines()
    assert (
        lines[0] == "신청 X01 · 2-5 라이브커머스 제작·운영 지원 · 트랙 planned · 채널 portal · 상태 submitted"
    )
    assert lines[1] == "접수 2024-03-04 10:00 KST · 기준일(마감) 2024-03-08"
    assert "판정: eligible (적격) · 판정일 2024-03-08 · 규칙 notice-2024.2" in lines
    # every rule of the rule seed, in order, with its result
    start = lines.index("규칙별 결과") + 1
    block = lines[start : lines.index("", start)]
    rule_lines = [line for line in block if not line.startswith(" " * 7)]  # details are indented further
    assert len(rule_lines) == 16 and all("pass   (통과)" in line for line in rule_lines)
    assert "       business_active: 국세청 2024-03-08 이후 조회: 계속사업자" in lines
    # the score: who counted and why not, each claim and why, the rows and the total
    assert "  심사위원 R04: 제품 4 + 온라인 준비 3 + 성장성 3 = 10  제외: 이해충돌" in lines
    assert "  심사 점수 80 (반영 심사위원 3명의 평균)" in lines
    claims = [
        line for line in lines if line.startswith("    online_early") or line.startswith("    smartstore")
    ]
    assert len(claims) == 2
    assert "인정: 서약서 제출, 자사몰 없음, 통신판매업 미신고" in claims[0]
    assert "불인정: 스마트스토어 URL 없음" in claims[1]
    assert "  가점 = A 3 + B 0 (최대 5) = 3  (A: ①② 중 하나 이상 1회, B: ③ 1회)" in lines
    assert "  총점 = 80 + 3 = 83" in lines
    assert lines[lines.index("결정 (선정 원장)") + 1].startswith("  2024-03-08 selected (선정), 순위 1")


def test_an_ineligible_application_names_its_reason(warehouse):
    lines = explain(warehouse, "X02").splitlines()
    assert "판정: ineligible (부적격) · 판정일 2024-03-08 · 규칙 notice-2024.2" in lines
    assert "  주 사유: BUSINESS_CLOSED 마감일 현재 폐업 사업자 (국세청)" in lines
    (closed,) = [line for line in lines if "BUSINESS_CLOSED:" in line]
    assert closed.startswith(" ✗  9 마감일 현재 휴업·폐업 아님") and "fail   (탈락)" in closed
    assert "       business_active: 국세청 2024-03-08 이후 조회: 폐업자 (폐업일 2024-03-08)" in lines
    assert "점수: 심사 점수 없음 (선착순 세부사업이거나 아직 심사 전)" in lines
    assert lines[-1] == "  없음"  # never decided


def test_the_command(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("WAREHOUSE_URL", warehouse)
    assert main(["explain", "X02"]) == 0
    assert "BUSINESS_CLOSED" in capsys.readouterr().out
    assert explain(warehouse, "NO-SUCH") is None
    assert main(["explain", "NO-SUCH"]) == 1
    assert "NO-SUCH: no such application" in capsys.readouterr().err
