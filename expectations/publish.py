"""Publish gate: the marts, before the daily extract is written and BI reads them.

- ``marts.fct_allocation_decision`` (the decision ledger): one decision per application and round,
  selections within every sub-programme and track quota and within the budget, only selections carry
  money, every eligible scored application at or above the minimum score (and every eligible
  first-come application) decided, every decision traced to an application, and **no decision
  published earlier changed or removed**: the gate compares the ledger with ``ops.published_decisions``,
  the snapshot it fills itself after each pass (``SNAPSHOT_SQL``).
- ``marts.fct_eligibility``: one verdict per application, from the contract's list, and consistent
  with its reasons (eligible exactly when there is no reason code).
- ``marts.fct_score``: one score per application, in range, total = committee + bonus, and scores
  refer to applications.

Nearly everything here is a hard failure: these are the invariants of DESIGN.md ("Invariants").
"""

from __future__ import annotations

from datetime import date

import great_expectations.expectations as gxe

from ._base import HARD, WARNING, Check, expect, literal, suite, unexpected_rows

# --- thresholds ---------------------------------------------------------------------------------------
DEFAULT_MIN_SCORE = 60  # program-2024.md's default; the ledger's own min_score column wins when present
SCORE_MAX = 100  # committee score: mean of rubric totals out of 100

DECISIONS = ["selected", "waitlisted", "not_selected", "withdrawn"]
VERDICTS = ["eligible", "ineligible", "needs_review", "incomplete"]

# A ledger row `d` that holds a place now: a selection with no withdrawal of its application in a later
# round. Goes into the queries as is, so `{batch}` stays for GX to fill.
PLACE_HELD = (
    "d.decision = 'selected' and not exists (select 1 from {batch} as w"
    " where w.application_id = d.application_id and w.decision = 'withdrawn' and w.round_date > d.round_date)"
)

# After a pass, the gate records every decision of the ledger it has not recorded yet: from then on
# that decision is published and must never change. Parameters: run_id, business_day.
SNAPSHOT_SQL = """
insert into ops.published_decisions
    (application_id, program_code, track_code, round_date, decision, rank, decided_in_run,
     published_at, published_in_run, business_day)
select application_id, program_code, track_code, round_date, decision, rank, decided_in_run,
       now(), %(run_id)s, %(business_day)s
  from marts.fct_allocation_decision
on conflict (application_id, round_date) do nothing
"""


def _not_null(columns: list[str], why: str) -> list:
    return [
        expect(gxe.ExpectColumnValuesToNotBeNull, HARD, f"{column} 값이 있음", why, column=column)
        for column in columns
    ]


def decision_ledger(business_day: date) -> Check:
    table = "marts.fct_allocation_decision"
    day = f"cast({literal(business_day.isoformat())} as date)"
    min_score = (
        f"coalesce((select max(l.min_score) from {{batch}} as l"
        f" where l.round_date = (select max(round_date) from {{batch}})), {DEFAULT_MIN_SCORE})"
    )
    return Check(
        suite(
            f"publish.{table}",
            [
                expect(
                    gxe.ExpectCompoundColumnsToBeUnique,
                    HARD,
                    "신청·회차마다 결정이 하나",
                    "the ledger holds one event per application and round (a withdrawal or a promotion is a"
                    " later round's event)",
                    column_list=["application_id", "round_date"],
                ),
                *_not_null(
                    ["application_id", "program_code", "round_date", "decision", "rank", "decided_in_run"],
                    "every decision names its application, programme, round, rank and run",
                ),
                expect(
                    gxe.ExpectColumnValuesToBeInSet,
                    HARD,
                    "결정 값이 정해진 목록 안에 있음",
                    f"decision is one of {DECISIONS}",
                    column="decision",
                    value_set=DECISIONS,
                ),
                unexpected_rows(
                    HARD,
                    "세부사업별 선정 수가 정원 이하",
                    "places held (selections not withdrawn since), over every round so far, never exceed the quota in marts.dim_program",
                    f"""select d.program_code, count(*) as selected, max(p.program_quota) as quota
                         from {{batch}} as d
                         left join marts.dim_program as p
                           on p.program_code = d.program_code and p.is_programme_level
                        where {PLACE_HELD}
                        group by d.program_code
                       having max(p.program_quota) is null or count(*) > max(p.program_quota)""",
                ),
                unexpected_rows(
                    HARD,
                    "트랙별 선정 수가 트랙 정원 이하",
                    "selections of a track never exceed the track's quota where the notice gives one",
                    f"""select d.program_code, d.track_code, count(*) as selected, max(p.track_quota) as quota
                         from {{batch}} as d
                         join marts.dim_program as p
                           on p.program_code = d.program_code and p.track_code = d.track_code
                        where {PLACE_HELD}
                          and p.track_quota is not null
                        group by d.program_code, d.track_code
                       having count(*) > max(p.track_quota)""",
                ),
                unexpected_rows(
                    HARD,
                    "세부사업별 정부지원금 합계가 예산 이하",
                    "state support committed to selections never exceeds the sub-programme's budget",
                    f"""select d.program_code, sum(d.gov_support_krw) as gov_support_krw,
                               cast(max(p.budget_million_krw) as bigint) * 1000000 as budget_krw
                          from {{batch}} as d
                          join marts.dim_program as p
                            on p.program_code = d.program_code and p.is_programme_level
                         where {PLACE_HELD}
                           and p.budget_million_krw is not null
                         group by d.program_code
                        having sum(d.gov_support_krw) > cast(max(p.budget_million_krw) as bigint) * 1000000""",
                ),
                unexpected_rows(
                    HARD,
                    "선정된 신청에만 지원금·자부담 금액이 있음",
                    "money is committed only to selections",
                    """select d.application_id, d.decision, d.gov_support_krw, d.self_pay_krw
                         from {batch} as d
                        where d.decision <> 'selected'
                          and (d.gov_support_krw is not null or d.self_pay_krw is not null)""",
                ),
                unexpected_rows(
                    HARD,
                    "최저점 이상인 적격 신청은 모두 결정됨",
                    "every eligible, not withdrawn application of an application programme with a quota is decided:"
                    " committee programmes once scored at or above the minimum, first-come ones always"
                    " (not judged on a day before the ledger's latest round, which decides nothing)",
                    f"""select a.application_id, a.program_code, p.selection_method, s.total_score
                          from marts.fct_application as a
                          join marts.fct_eligibility as e on e.application_id = a.application_id
                          join marts.dim_program as p
                            on p.program_code = a.program_code and p.is_programme_level
                          left join marts.fct_score as s on s.application_id = a.application_id
                         where e.verdict = 'eligible'
                           and not a.is_withdrawn
                           and p.is_application_programme
                           and p.program_quota is not null
                           and (p.selection_method = 'first_come'
                                or (p.selection_method = 'committee' and s.total_score >= {min_score}))
                           and not exists (select 1 from {{batch}} as d where d.application_id = a.application_id)
                           and not exists (select 1 from {{batch}} as l where l.round_date > {day})""",
                ),
                unexpected_rows(
                    HARD,
                    "모든 결정의 신청이 fct_application에 있음",
                    "every decision up to the business day traces to its application",
                    f"""select d.application_id, d.round_date
                          from {{batch}} as d
                         where d.round_date <= {day}
                           and not exists (select 1 from marts.fct_application as a
                                            where a.application_id = d.application_id)""",
                ),
                unexpected_rows(
                    HARD,
                    "이미 공표된 결정이 바뀌거나 사라지지 않음",
                    "a decision recorded in ops.published_decisions by an earlier pass is still in the ledger,"
                    " unchanged (programme, track, decision, rank)",
                    """select p.application_id, p.round_date, p.program_code,
                              p.decision as published_decision, d.decision as current_decision,
                              p.rank as published_rank, d.rank as current_rank, p.published_in_run
                         from ops.published_decisions as p
                         left join {batch} as d
                           on d.application_id = p.application_id and d.round_date = p.round_date
                        where d.application_id is null
                           or d.program_code is distinct from p.program_code
                           or d.track_code is distinct from p.track_code
                           or d.decision is distinct from p.decision
                           or d.rank is distinct from p.rank""",
                ),
                unexpected_rows(
                    WARNING,
                    "선정 후 철회한 신청 (대기자 추가 선정 필요)",
                    "a selected business withdrew since; the next waitlisted one should be selected in the next round",
                    f"""select d.application_id, d.program_code, d.round_date
                         from {{batch}} as d
                         join marts.fct_application as a on a.application_id = d.application_id
                        where {PLACE_HELD} and a.is_withdrawn""",
                ),
            ],
            gate="publish",
            table=table,
        ),
        table,
    )


def eligibility() -> Check:
    table = "marts.fct_eligibility"
    return Check(
        suite(
            f"publish.{table}",
            [
                expect(
                    gxe.ExpectColumnValuesToBeUnique,
                    HARD,
                    "신청마다 판정이 하나",
                    "one verdict per application",
                    column="application_id",
                ),
                expect(
                    gxe.ExpectColumnValuesToBeInSet,
                    HARD,
                    "판정 값이 정해진 목록 안에 있음",
                    f"verdict is one of {VERDICTS}",
                    column="verdict",
                    value_set=VERDICTS,
                ),
                unexpected_rows(
                    HARD,
                    "적격 판정과 사유 코드가 일치 (적격이면 사유 없음, 아니면 사유 있음)",
                    "verdict = eligible exactly when reason_codes is empty",
                    """select e.application_id, e.verdict, e.reason_codes
                         from {batch} as e
                        where (e.verdict = 'eligible') <> (coalesce(cardinality(e.reason_codes), 0) = 0)""",
                ),
                unexpected_rows(
                    HARD,
                    "모든 신청이 판정을 받음",
                    "every application of fct_application has a verdict",
                    """select a.application_id
                         from marts.fct_application as a
                        where not exists (select 1 from {batch} as e where e.application_id = a.application_id)""",
                ),
            ],
            gate="publish",
            table=table,
        ),
        table,
    )


def scores() -> Check:
    table = "marts.fct_score"
    return Check(
        suite(
            f"publish.{table}",
            [
                expect(
                    gxe.ExpectColumnValuesToBeUnique,
                    HARD,
                    "신청마다 점수가 하나",
                    "one score per application",
                    column="application_id",
                ),
                expect(
                    gxe.ExpectColumnValuesToBeBetween,
                    HARD,
                    f"심사 점수가 0~{SCORE_MAX}점",
                    "the committee score is a mean of rubric totals",
                    column="committee_score",
                    min_value=0,
                    max_value=SCORE_MAX,
                ),
                unexpected_rows(
                    HARD,
                    "총점 = 심사 점수 + 가점",
                    "total_score adds the bonus to the committee score",
                    """select s.application_id, s.committee_score, s.bonus_points, s.total_score
                         from {batch} as s
                        where s.total_score is distinct from s.committee_score + s.bonus_points""",
                ),
                unexpected_rows(
                    HARD,
                    "점수의 신청이 fct_application에 있음",
                    "every score refers to an application",
                    """select s.application_id
                         from {batch} as s
                        where not exists (select 1 from marts.fct_application as a
                                           where a.application_id = s.application_id)""",
                ),
            ],
            gate="publish",
            table=table,
        ),
        table,
    )


def checks(business_day: date) -> list[Check]:
    """The publish checks for the round of ``business_day``."""
    return [decision_ledger(business_day), eligibility(), scores()]
