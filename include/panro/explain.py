"""`panro explain <application_id>`: why an application has its verdict and its score, read from the marts.

Prints the verdict, every eligibility rule's result with its reason (Korean, as staff read it) and what
the rule found, then the score: each reviewer of the committee round and whether they count, every bonus
claim verified or not and why, the rows earned and the total, and the decisions of the ledger.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from panro.warehouse import connect

KST = timezone(timedelta(hours=9))
VERDICT_KO = {
    "eligible": "적격",
    "ineligible": "부적격",
    "needs_review": "담당자 검토",
    "incomplete": "서류 보완",
}
RESULT_KO = {"pass": "통과", "fail": "탈락", "review": "검토"}
DECISION_KO = {"selected": "선정", "waitlisted": "예비(대기)", "not_selected": "미선정", "withdrawn": "포기"}

APPLICATION = """
select a.application_id, a.channel, a.program_code, p.program_name_ko, a.track_code, a.status,
       a.submitted_at, a.as_of_round_date, a.site_code, a.o2o_platform
  from marts.fct_application a
  left join marts.dim_program p on p.program_code = a.program_code and p.is_programme_level
 where a.application_id = %s
"""
VERDICT = """
select verdict, reason_codes, judged_at, rule_version, primary_reason_code, primary_reason
  from marts.fct_eligibility where application_id = %s
"""
CHECKS = """
select rule_order, rule_code, rule_name_ko, result, reason_code, reason, detail
  from marts.fct_eligibility_check where application_id = %s order by rule_order
"""
SCORE = """
select round_id, round_date, committee_score, reviewer_count, bonus_row_a_points, bonus_row_b_points,
       bonus_max_points, bonus_points, total_score
  from marts.fct_score where application_id = %s
"""
REVIEWERS = """
select reviewer_id, product_score, online_readiness_score, growth_score, rubric_total,
       has_conflict_of_interest, is_complete, is_counted
  from marts.fct_score_reviewer where application_id = %s order by reviewer_id
"""
CLAIMS = """
select bonus_code, bonus_row, item_no, bonus_name_ko, claim_status, evidence_detail, row_points, applied_on
  from marts.fct_bonus_claim where application_id = %s order by bonus_row nulls last, bonus_code
"""
DECISIONS = """
select round_date, decision, rank from marts.fct_allocation_decision
 where application_id = %s order by round_date, decision
"""


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    """Pad to a display width (Hangul takes two columns)."""
    return text + " " * max(0, width - _width(text))


def _num(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


def _kst(value: datetime | None) -> str:
    return value.astimezone(KST).strftime("%Y-%m-%d %H:%M KST") if value else "없음"


def explain(url: str, application_id: str) -> str | None:
    """The explanation of ``application_id`` as text, or None when the marts do not hold it."""
    with connect(url) as conn:
        app = conn.execute(APPLICATION, (application_id,)).fetchone()
        if app is None:
            return None
        verdict = conn.execute(VERDICT, (application_id,)).fetchone()
        checks = conn.execute(CHECKS, (application_id,)).fetchall()
        score = conn.execute(SCORE, (application_id,)).fetchone()
        reviewers = conn.execute(REVIEWERS, (application_id,)).fetchall()
        claims = conn.execute(CLAIMS, (application_id,)).fetchall()
        has_ledger = conn.execute(
            "select to_regclass('marts.fct_allocation_decision') is not null"
        ).fetchone()[0]
        decisions = conn.execute(DECISIONS, (application_id,)).fetchall() if has_ledger else []
    return format_explanation(app, verdict, checks, score, reviewers, claims, decisions)


def format_explanation(app, verdict, checks, score, reviewers, claims, decisions) -> str:
    app_id, channel, program, program_name, track, status, submitted_at, as_of, site, platform = app
    where = {"kakao": f" ({site})" if site else "", "sbiz24": f" ({platform})" if platform else ""}.get(
        channel, ""
    )
    lines = [
        f"신청 {app_id} · {program or '-'} {program_name or ''}{f' · 트랙 {track}' if track else ''}"
        f" · 채널 {channel}{where} · 상태 {status or '-'}",
        f"접수 {_kst(submitted_at)} · 기준일(마감) {as_of}",
        "",
    ]
    if verdict is None:
        lines.append("판정: 없음 (아직 판정 전)")
    else:
        v, reason_codes, judged_at, rule_version, primary_code, primary = verdict
        lines.append(f"판정: {v} ({VERDICT_KO.get(v, v)}) · 판정일 {judged_at} · 규칙 {rule_version}")
        if primary_code:
            lines.append(f"  주 사유: {primary_code} {primary or ''}")
        if reason_codes:
            lines.append(f"  사유 코드: {', '.join(reason_codes)}")
    lines += ["", "규칙별 결과"]
    name_width = max((_width(c[2] or c[1]) for c in checks), default=10) + 2
    for order, rule_code, name_ko, result, reason_code, reason, detail in checks:
        mark = {"pass": " ", "fail": "✗", "review": "?"}.get(result, " ")
        line = f" {mark}{order:>3} {_pad(name_ko or rule_code, name_width)}{result:<6} ({RESULT_KO.get(result, result)})"
        if reason_code:
            line += f"  {reason_code}: {reason or ''}"
        lines.append(line)
        if detail:
            lines.append(f"{'':>7}{rule_code}: {detail}")
    lines += ["", *format_score(score, reviewers, claims)]
    lines += ["", "결정 (선정 원장)"]
    if decisions:
        for round_date, decision, rank in decisions:
            lines.append(
                f"  {round_date} {decision} ({DECISION_KO.get(decision, decision)}), 순위 {_num(rank)}"
            )
    else:
        lines.append("  없음")
    return "\n".join(lines)


def format_score(score, reviewers, claims) -> list[str]:
    lines = []
    if score is None:
        lines.append("점수: 심사 점수 없음 (선착순 세부사업이거나 아직 심사 전)")
    else:
        round_id, round_date, committee, count, row_a, row_b, max_points, bonus, total = score
        lines.append(f"점수 (심사 회차 {round_id}, {round_date})")
        for reviewer_id, product, online, growth, rubric, conflict, complete, counted in reviewers:
            why = (
                "반영"
                if counted
                else ("제외: 이해충돌" if conflict else "제외: 평가 항목 누락" if not complete else "제외")
            )
            lines.append(
                f"  심사위원 {reviewer_id}: 제품 {_num(product)} + 온라인 준비 {_num(online)} + 성장성 {_num(growth)}"
                f" = {_num(rubric)}  {why}"
            )
        lines.append(f"  심사 점수 {_num(committee)} (반영 심사위원 {count}명의 평균)")
    if claims:
        lines.append(f"  가점 신청 (증빙 기준: 신청일 {claims[0][7] or '없음'})")
        for code, row, item_no, name_ko, status, detail, row_points, _applied_on in claims:
            ok = {"verified": "인정", "not_verified": "불인정", "unknown_code": "항목 아님"}.get(
                status, status
            )
            label = f"{item_no or ''} {name_ko or code}".strip()
            worth = f"{row} {_num(row_points)}점" if row else "-"
            lines.append(f"    {_pad(code, 20)} {_pad(worth, 7)} {_pad(label, 26)} {ok}: {detail or ''}")
    elif score is not None:
        lines.append("  가점 신청 없음")
    if score is not None:
        lines.append(
            f"  가점 = A {_num(row_a)} + B {_num(row_b)} (최대 {_num(max_points)}) = {_num(bonus)}"
            "  (A: ①② 중 하나 이상 1회, B: ③ 1회)"
        )
        lines.append(f"  총점 = {_num(committee)} + {_num(bonus)} = {_num(total)}")
    return lines
