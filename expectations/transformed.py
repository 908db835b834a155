"""Transformed gate: staging and intermediate, after dbt built them and before the marts read them.

- ``intermediate.int_applications_current``: one row per application (unique, not null), and that row
  is the latest version received by the end of the round day; every application with a version has
  one; BRN check digits and KSIC codes mostly valid.
- ``intermediate.int_committee_scores_aggregated``: one score per application, in range, and scores
  refer to applications that exist.
- ``intermediate.int_applications_checked_for_eligibility``: exactly the current applications judged.
- partner channels in staging (소상공인24, 소담스퀘어, completions): BRN check digits and KSIC codes.
- every raw table, per accepted load: raw rows = staged rows + quarantined rows, and no row both (a hard
  failure: a row lost or counted twice between raw and staging; counted per load on indexes, so it
  stays cheap over the whole history), and open quarantined rows as a warning (reported, never
  stopping the run: quarantine is where rows that cannot be typed go instead of failing it).

dbt's own tests stay for per-model invariants; these are the cross-model and share-based checks.
"""

from __future__ import annotations

from datetime import date

import great_expectations.expectations as gxe

from ._base import HARD, KSIC, WARNING, Check, expect, literal, suite, tiered, unexpected_rows

# --- thresholds ---------------------------------------------------------------------------------------
# Applications whose BRN has a right check digit (domain-facts §4.1):
BRN_VALID_HARD = 0.80  # under 80% the normalisation or the check-digit macro is broken
BRN_VALID_WARN = 0.95  # the sources run at ~2% wrong check digits; 5% is worth a look
BRN_VALID_TYPED_HARD = 0.70  # 소담스퀘어 workbooks are typed by hand (dotted numbers do not normalise)
BRN_VALID_TYPED_WARN = 0.90
# KSIC codes of 5 digits among the codes given (a missing code is judged by eligibility, not here):
KSIC_HARD = 0.90  # a column mix-up or a code-list change
KSIC_WARN = 0.98
# Committee scores that refer to a portal application:
SCORED_KNOWN_HARD = 0.95  # a score file for another programme year or a wrong id column
SCORED_KNOWN_WARN = 1.00  # one unknown application id is worth a look (its score is dropped)
# Reviewers counted per scored application (3 to 5 score it; conflicts of interest do not count):
MIN_REVIEWERS = 2  # under 2 counted reviewers the committee score is one person's opinion
MIN_REVIEWERS_WARN = 0.95  # warn when more than 5% of the scored applications have fewer


def _brn_valid(hard: float = BRN_VALID_HARD, warn: float = BRN_VALID_WARN) -> list:
    return tiered(
        gxe.ExpectColumnValuesToBeInSet,
        column="brn_is_valid",
        value_set=[True],
        hard=hard,
        warn=warn,
        description="사업자등록번호 검증번호가 맞는 비율",
        why="BRN present, 10 digits and its check digit right (a missing BRN counts as not valid)",
    )


def _ksic() -> list:
    return tiered(
        gxe.ExpectColumnValuesToMatchRegex,
        column="ksic_code",
        regex=KSIC,
        hard=KSIC_HARD,
        warn=KSIC_WARN,
        description="업종코드가 KSIC 5자리",
        why="a KSIC code is 5 digits; anything else cannot be matched to the excluded industries",
    )


def _unique(column: str, label: str) -> list:
    return [
        expect(
            gxe.ExpectColumnValuesToNotBeNull,
            HARD,
            f"{label} 값이 있음",
            f"{column} is the key of the model",
            column=column,
        ),
        expect(
            gxe.ExpectColumnValuesToBeUnique,
            HARD,
            f"{label} 중복 없음",
            f"{column} is the key of the model: one row each",
            column=column,
        ),
    ]


# The end of the round day the snapshot is as of, in KST, as timestamptz (dbt: round_end_kst()).
_ROUND_END = "(cast(c.as_of_round_date + 1 as timestamp) at time zone 'Asia/Seoul')"


def current_applications() -> Check:
    table = "intermediate.int_applications_current"
    return Check(
        suite(
            f"transformed.{table}",
            [
                *_unique("application_id", "신청번호"),
                # every channel (portal, sbiz24, kakao) numbers its own raw rows: the key is (channel, raw_id)
                expect(
                    gxe.ExpectColumnValuesToNotBeNull,
                    HARD,
                    "원본 행 번호(raw_id) 값이 있음",
                    "raw_id is the row of the channel's raw table the current version comes from",
                    column="raw_id",
                ),
                unexpected_rows(
                    HARD,
                    "채널별 원본 행 번호(raw_id) 중복 없음",
                    "each channel's raw table numbers its rows itself: (channel, raw_id) is the key",
                    """select c.channel, c.raw_id, count(*) as current_rows
                         from {batch} as c
                        group by c.channel, c.raw_id
                       having count(*) > 1""",
                ),
                expect(
                    gxe.ExpectColumnValuesToNotBeNull,
                    HARD,
                    "현재 버전의 변경일시가 있음",
                    "the current version is chosen by updated_at",
                    column="updated_at",
                ),
                unexpected_rows(
                    HARD,
                    "현재 버전이 회차일까지 받은 최신 버전임",
                    "no version of the application received before the end of the round day is later than the one chosen",
                    f"""select c.application_id, c.updated_at as current_updated_at,
                               max(s.updated_at) as latest_updated_at
                          from {{batch}} as c
                          join staging.stg_portal__applications as s
                            on s.application_id = c.application_id
                         where s.updated_at < {_ROUND_END}
                         group by c.application_id, c.updated_at
                        having max(s.updated_at) > c.updated_at""",
                ),
                unexpected_rows(
                    HARD,
                    "버전이 있는 모든 신청에 현재 버전이 하나 있음",
                    "every application id with a readable version by the end of the round day has its current row",
                    """select s.application_id, count(*) as versions
                         from staging.stg_portal__applications as s
                        where s.application_id is not null
                          and s.updated_at < (select cast(max(as_of_round_date) + 1 as timestamp)
                                                         at time zone 'Asia/Seoul' from {batch})
                          and not exists (select 1 from {batch} as c where c.application_id = s.application_id)
                        group by s.application_id""",
                ),
                _brn_valid(),
                _ksic(),
            ],
            gate="transformed",
            table=table,
        ),
        table,
    )


def committee_scores() -> list[Check]:
    table = "intermediate.int_committee_scores_aggregated"
    return [
        Check(
            suite(
                f"transformed.{table}",
                [
                    *_unique("application_id", "신청번호"),
                    expect(
                        gxe.ExpectColumnValuesToBeBetween,
                        HARD,
                        "심사 점수가 0~100점",
                        "the committee score is a mean of rubric totals out of 100",
                        column="committee_score",
                        min_value=0,
                        max_value=100,
                    ),
                    expect(
                        gxe.ExpectColumnValuesToBeBetween,
                        WARNING,
                        f"반영된 심사위원이 {MIN_REVIEWERS}명 이상 ({MIN_REVIEWERS_WARN:.0%})",
                        "3 to 5 reviewers score each application; conflicts of interest and incomplete rubrics drop out",
                        column="reviewer_count",
                        min_value=MIN_REVIEWERS,
                        mostly=MIN_REVIEWERS_WARN,
                    ),
                ],
                gate="transformed",
                table=table,
            ),
            table,
        ),
        Check(
            suite(
                f"transformed.{table}.references",
                tiered(
                    gxe.ExpectColumnValuesToBeInSet,
                    column="has_application",
                    value_set=[True],
                    hard=SCORED_KNOWN_HARD,
                    warn=SCORED_KNOWN_WARN,
                    description="심사 점수의 신청번호가 판판대로 신청에 있음",
                    why="a score for an unknown application is dropped by fct_score; many mean a wrong file",
                ),
                gate="transformed",
                table=table,
            ),
            table,
            # A join, not `exists (...)` in the select list: that is a subplan run once per score row.
            f"""select s.application_id, a.application_id is not null as has_application
                  from {table} as s
                  left join (select distinct application_id from intermediate.int_applications_current) as a
                    on a.application_id = s.application_id""",
        ),
    ]


def eligibility_checks() -> Check:
    table = "intermediate.int_applications_checked_for_eligibility"
    return Check(
        suite(
            f"transformed.{table}",
            [
                *_unique("application_id", "신청번호"),
                unexpected_rows(
                    HARD,
                    "모든 현재 신청이 자격 판정을 받음",
                    "every current application has its row of rule results, and no other application does",
                    """select coalesce(a.application_id, c.application_id) as application_id,
                              case when c.application_id is null then 'not judged' else 'not current' end as problem
                         from intermediate.int_applications_current as a
                         full join {batch} as c on c.application_id = a.application_id
                        where a.application_id is null or c.application_id is null""",
                ),
            ],
            gate="transformed",
            table=table,
        ),
        table,
    )


def channel_checks() -> list[Check]:
    out = []
    for table, brn, ksic in [
        ("staging.stg_sbiz24__o2o_applications", _brn_valid(), True),
        ("staging.stg_kakao__applications", _brn_valid(BRN_VALID_TYPED_HARD, BRN_VALID_TYPED_WARN), False),
        ("staging.stg_edu__completions", _brn_valid(), False),
    ]:
        out.append(
            Check(
                suite(
                    f"transformed.{table}", [brn, *(_ksic() if ksic else [])], gate="transformed", table=table
                ),
                table,
            )
        )
    return out


# raw table -> the staging model that stands for its rows one to one (raw_id, load_id copied from raw,
# raw_id unique by index): the row-by-row models, and the base/ rows of the channels whose staging
# model collapses repeated rows.
STAGED_FROM = {
    "raw.portal_applications": "staging.stg_portal__applications",
    "raw.sbiz24_o2o_applications": "staging.base_sbiz24__o2o_application_rows",
    "raw.kakao_applications": "staging.base_kakao__application_rows",
    "raw.edu_completions": "staging.base_edu__completion_rows",
    "raw.evaluation_scores": "staging.stg_evaluation__scores",
    "raw.nts_status_answers": "staging.stg_nts__status_answers",
    **{
        f"raw.reference_{entity}": f"staging.stg_reference__{entity}"
        for entity in (
            "credit_checks",
            "fair_trade_violations",
            "certifications",
            "mail_order_registry",
            "onnuri_listings",
        )
    },
}


def reconciliation_query(raw_table: str) -> str:
    """One row per load of ``raw_table`` that is accepted or still has staged rows: its raw rows, the
    staged rows that stand for them, the quarantined ones (open: not dismissed) with their reasons, and
    the rows both staged and quarantined. A load the landing gate refused is held whole, in neither.

    Counted per load, never joined row by row with raw: staging rows carry their raw row's load_id and a
    unique raw_id, so raw = staged + quarantined per load, with nothing both staged and quarantined, is
    the row-by-row statement (each raw row once, in one place), at the cost of counting the indexes."""
    model = STAGED_FROM[raw_table]
    staged = f"select load_id, count(*) as staged_rows from {model} group by load_id"
    both = f"""select held.load_id, count(*) as rows_both
                 from quarantine.quarantined_rows as held
                 join {model} as s on s.raw_id = held.raw_id
                where held.raw_table = {literal(raw_table)}
                group by held.load_id"""
    # GX takes a batch query only when it starts with SELECT: derived tables, not a WITH
    return f"""select coalesce(landed.load_id, staged.load_id, held.load_id) as load_id,
       coalesce(landed.raw_rows, 0) as raw_rows,
       coalesce(staged.staged_rows, 0) as staged_rows,
       coalesce(held.quarantined_rows, 0) as quarantined_rows,
       coalesce(held.open_quarantined_rows, 0) as open_quarantined_rows,
       held.open_reasons,
       coalesce(both_places.rows_both, 0) as rows_both
  from (select r.load_id, count(*) as raw_rows
          from {raw_table} as r
         where not exists (select 1 from ops.rejected_loads as j where j.load_id = r.load_id)
         group by r.load_id) as landed
  full join ({staged}) as staged
    on staged.load_id = landed.load_id
  full join (select load_id,
                    count(*) as quarantined_rows,
                    count(*) filter (where not is_dismissed) as open_quarantined_rows,
                    string_agg(distinct reason_code, ', ' order by reason_code)
                        filter (where not is_dismissed) as open_reasons
               from quarantine.quarantined_rows
              where raw_table = {literal(raw_table)}
              group by load_id) as held
    on held.load_id = coalesce(landed.load_id, staged.load_id)
  left join ({both}) as both_places
    on both_places.load_id = coalesce(landed.load_id, staged.load_id, held.load_id)"""


def reconciliation() -> list[Check]:
    out = []
    for raw_table, model in STAGED_FROM.items():
        out.append(
            Check(
                suite(
                    f"transformed.{model}.reconciliation",
                    [
                        unexpected_rows(
                            HARD,
                            "적재별 원본 행 = 스테이징 행 + 격리 행",
                            f"every row of an accepted load of {raw_table} is staged once or quarantined"
                            " (macros/quarantine.sql), never lost, never both",
                            """select r.load_id, r.raw_rows, r.staged_rows, r.quarantined_rows, r.rows_both
                                 from {batch} as r
                                where r.raw_rows <> r.staged_rows + r.quarantined_rows or r.rows_both > 0""",
                        ),
                        unexpected_rows(
                            WARNING,
                            "격리된 행이 없음 (quarantine.quarantined_rows 확인)",
                            "rows that cannot be typed wait in quarantine for a corrected delivery,"
                            " a release or a dismissal (docs/operations.md); the run goes on",
                            """select r.load_id, r.open_quarantined_rows, r.open_reasons
                                 from {batch} as r
                                where r.open_quarantined_rows > 0""",
                        ),
                    ],
                    gate="transformed",
                    table=model,
                ),
                model,
                reconciliation_query(raw_table),
            )
        )
    return out


def checks(business_day: date) -> list[Check]:
    """The transformed checks (the models carry their own round day; ``business_day`` is recorded)."""
    return [
        current_applications(),
        *committee_scores(),
        eligibility_checks(),
        *channel_checks(),
        *reconciliation(),
    ]
