"""Landing gate: every raw batch, one load (``load_id``) at a time, right after it landed.

Three suites per raw table, each on a batch cut from that one load:
- ``landing.<table>``: the table's columns are there, the load metadata and the record are filled;
- ``landing.<table>.fields``: the record carries its keys, and the fields inside it have their formats
  (a query over the JSON: BRN shapes, ids, dates, codes);
- ``landing.<table>.volume``: the load is in ``ops.load_ledger``, raw holds what the ledger says it
  inserted, and the rows received are not far below (or far above) the trailing loads of the same
  source and file series.

Raw keeps defective records on purpose (they are judged by eligibility, or quarantined row by row when
they cannot be typed: macros/quarantine.sql), so the format checks are shares: a few bad records warn, many fail the gate, because then the delivery or the
connector is broken rather than the applicants' data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from ._base import (
    HARD,
    ISO_DATE,
    ISO_DATETIME,
    KSIC,
    TEN_DIGITS,
    WARNING,
    Check,
    brn_mask,
    expect,
    literal,
    suite,
    tiered,
)

# --- thresholds ---------------------------------------------------------------------------------------
# Records carrying every required key (present, not null). JSON from the portal API:
KEYS_HARD = 0.95  # a connector or API change drops keys for everyone, a defect for a few
KEYS_WARN = 0.97  # the portal loses a key (consents) in 1-2% of versions; more than 3% is worth a look
# BRNs that normalise to 10 digits (separators removed):
BRN_HARD = 0.90  # under 90% the column is mapped wrong or the export is broken
BRN_WARN = 0.98  # typing errors stay under 2% in every source but the hand-typed workbooks
BRN_TYPED_HARD = 0.80  # 소담스퀘어 workbooks are typed by site staff (dots, stray characters)
BRN_TYPED_WARN = 0.90  # ~5% of them are typed with dots; past 10% the site's habits changed
# Ids, codes and statuses of a closed vocabulary:
CODE_HARD = 0.95  # a different code list or id scheme, not a typo
CODE_WARN = 1.00  # a single unknown code is worth a look
# Dates and timestamps that read as ISO-8601 (or the source's documented shape):
DATE_HARD = 0.90  # malformed dates are ~0.5% of records; 10% means a format change
DATE_WARN = 0.97  # daily batches of a few dozen rows carry one or two malformed dates by chance
TYPED_DATE_HARD = 0.80  # hand-typed dates in the workbooks come in several shapes
TYPED_DATE_WARN = 0.95  # staging reads those shapes; more than 5% unreadable is worth a look
# KSIC industry codes (5 digits; a missing code goes to manual review later, not here):
KSIC_HARD = 0.90  # a column mix-up or a code-list change, not typing
KSIC_WARN = 0.98  # the sources drop a KSIC code in ~0.5% of records
# Hand-typed codes of the 소담스퀘어 workbooks (consent Y / N / 동의 / 미동의, with stray spaces):
TYPED_CODE_HARD = 0.90  # a new way of writing consent, not a typo: staging would read it as missing
TYPED_CODE_WARN = 0.99  # a few stray spellings are expected from hand typing
# The version clock of the portal (updated_at) orders every version: nearly all must read.
VERSION_CLOCK_HARD = 0.99  # unreadable updated_at drops the version from intermediate
VERSION_CLOCK_WARN = 1.00  # the API sets it itself: a single unreadable one is worth a look
# Row volume of a load against the trailing loads of the same source and file series:
VOLUME_TRAILING_LOADS = 7  # about a week of daily loads
VOLUME_MIN_TRAILING = 3  # the first loads of a source have nothing to compare with
VOLUME_MIN_RATIO = 0.10  # under 10% of the trailing median: a truncated delivery or a broken window
VOLUME_MAX_RATIO = 10.0  # over 10x the median: a re-delivery or a paging loop (warning only)
# Committee score files follow the rounds (a late round scores a handful) and 소담스퀘어 workbooks the
# site-weeks (cut at the season's edges): for them a low volume only warns.

FILE_METADATA = ("load_id", "loaded_at", "source_file", "file_sha256", "line_no", "record_hash")
PROGRAM_CODE = r"^([1-3]-[0-9]|P-[0-9])$"
PORTAL_STATUSES = ["submitted", "supplement_requested", "supplemented", "withdrawn"]
BONUS_CERT_TYPES = [
    "century_store",
    "local_creator",
    "brand_k",
    "eco_store",
    "venture",
    "innobiz",
    "mainbiz",
    "good_design",
    "net",
    "nep",
    "patent",
    "utility_model",
    "rnd_product",
]


@dataclass(frozen=True)
class RawTable:
    """A raw table as the landing gate sees it (columns as in include/panro/sql/warehouse.sql)."""

    name: str
    metadata: tuple[str, ...]  # load metadata that must be filled
    keys: tuple[str, ...]  # keys every record carries (present and not null)
    keys_hard: float  # share of records with every key under which the gate fails
    keys_warn: float | None
    fields: dict[str, str]  # column alias -> SQL over the raw row (record is the jsonb)
    expectations: Callable[[], list]  # expectations over those columns
    volume_severity: FailureSeverity = HARD  # of a load under VOLUME_MIN_RATIO of its trailing median


def _field(key: str) -> str:
    """A record value as trimmed text, '' as null."""
    return f"nullif(btrim(record ->> {literal(key)}), '')"


def _brn(column: str, hard: float = BRN_HARD, warn: float = BRN_WARN) -> list:
    return tiered(
        gxe.ExpectColumnValuesToMatchRegex,
        column=column,
        regex=TEN_DIGITS,
        hard=hard,
        warn=warn,
        description="사업자등록번호가 10자리 숫자로 정규화됨 (값은 가림)",
        why="BRN present and 10 digits once spaces, hyphens and dots are removed; shape only, the number is personal data",
    )


def _date(column: str, label: str, regex: str = ISO_DATE, hard: float = DATE_HARD, warn: float = DATE_WARN):
    return tiered(
        gxe.ExpectColumnValuesToMatchRegex,
        column=column,
        regex=regex,
        hard=hard,
        warn=warn,
        description=f"{label} 날짜 형식",
        why=f"{column} reads as a date in the documented format (empty values are not judged here)",
    )


def _in_set(column: str, values: list, label: str, hard: float = CODE_HARD, warn: float = CODE_WARN):
    return tiered(
        gxe.ExpectColumnValuesToBeInSet,
        column=column,
        value_set=values,
        hard=hard,
        warn=warn,
        description=f"{label} 값이 정해진 목록 안에 있음",
        why=f"{column} is one of {values}",
    )


def _regex(column: str, regex: str, label: str, hard: float = CODE_HARD, warn: float = CODE_WARN):
    return tiered(
        gxe.ExpectColumnValuesToMatchRegex,
        column=column,
        regex=regex,
        hard=hard,
        warn=warn,
        description=f"{label} 형식",
        why=f"{column} matches {regex}",
    )


def _file_table(
    name: str,
    keys: tuple[str, ...],
    fields: dict[str, str],
    expectations: Callable[[], list],
    volume_severity: FailureSeverity = HARD,
):
    # CSV and XLSX rows are keyed by the header the reader checked: a missing key is a reader bug.
    return RawTable(name, FILE_METADATA, keys, 1.0, None, fields, expectations, volume_severity)


def _reference(entity: str, keys: tuple[str, ...], fields: dict[str, str], expectations: Callable[[], list]):
    return _file_table(
        f"raw.reference_{entity}",
        keys,
        {"brn_mask": brn_mask("record ->> 'brn'"), **fields},
        lambda: [_brn("brn_mask"), *expectations()],
    )


TABLES: dict[str, RawTable] = {
    t.name: t
    for t in [
        RawTable(
            "raw.portal_applications",
            ("load_id", "loaded_at", "source_page", "record_hash"),
            (
                "application_id",
                "program_code",
                "status",
                "submitted_at",
                "updated_at",
                "business",
                "consents",
            ),
            KEYS_HARD,
            KEYS_WARN,
            {
                "application_id": "coalesce(application_id, record ->> 'application_id')",
                "program_code": "record ->> 'program_code'",
                "status": "record ->> 'status'",
                "submitted_at": "record ->> 'submitted_at'",
                "updated_at": "coalesce(record ->> 'updated_at', updated_at_text)",
                "brn_mask": brn_mask("record -> 'business' ->> 'brn'"),
                "ksic_code": "nullif(btrim(record -> 'business' ->> 'ksic_code'), '')",
            },
            lambda: [
                _regex("application_id", r"^FF24-[0-9]{7}$", "신청번호(FF24-0000000)"),
                _brn("brn_mask"),
                _date(
                    "updated_at",
                    "변경일시(ISO-8601)",
                    ISO_DATETIME,
                    VERSION_CLOCK_HARD,
                    VERSION_CLOCK_WARN,
                ),
                _date("submitted_at", "신청일시(ISO-8601)", ISO_DATETIME),
                _regex("program_code", PROGRAM_CODE, "세부사업 코드"),
                _in_set("status", PORTAL_STATUSES, "신청 상태"),
                _regex("ksic_code", KSIC, "업종코드(KSIC 5자리)", KSIC_HARD, KSIC_WARN),
            ],
        ),
        _file_table(
            "raw.evaluation_scores",
            (
                "application_id",
                "round_id",
                "reviewer_id",
                "criterion",
                "score",
                "max_score",
                "conflict_of_interest",
                "scored_at",
            ),
            {
                "application_id": _field("application_id"),
                "round_id": _field("round_id"),
                "criterion": _field("criterion"),
                "score": _field("score"),
                "conflict_of_interest": "upper(" + _field("conflict_of_interest") + ")",
                "scored_at": _field("scored_at"),
                "score_within_max": (
                    "case when record ->> 'score' ~ '^ *[0-9]+([.][0-9]+)? *$'"
                    " and record ->> 'max_score' ~ '^ *[0-9]+([.][0-9]+)? *$'"
                    " then cast(btrim(record ->> 'score') as numeric)"
                    " between 0 and cast(btrim(record ->> 'max_score') as numeric) end"
                ),
            },
            lambda: [
                _regex("application_id", r"^FF24-[0-9]{7}$", "신청번호(FF24-0000000)"),
                # a line with an unreadable round id is quarantined (ROUND_ID_UNREADABLE); many mean a
                # wrong file
                tiered(
                    gxe.ExpectColumnValuesToMatchRegex,
                    column="round_id",
                    regex=r"^[0-9]{8}-([1-3]-[0-9]|P-[0-9])$",
                    hard=CODE_HARD,
                    warn=CODE_WARN,
                    description="평가 회차 번호(YYYYMMDD-세부사업)",
                    why="round_id names the round day and the sub-programme; staging derives both from it",
                ),
                _in_set("criterion", ["product", "online_readiness", "growth"], "평가 항목"),
                _regex("score", r"^[0-9]+([.][0-9]+)?$", "점수 숫자 형식"),
                _in_set("score_within_max", [True], "점수가 0 이상 배점 이하"),
                _in_set("conflict_of_interest", ["Y", "N"], "이해충돌 표시(Y/N)"),
                _date("scored_at", "평가일시(ISO-8601)", ISO_DATETIME),
            ],
            WARNING,
        ),
        _file_table(
            "raw.sbiz24_o2o_applications",
            (
                "접수번호",
                "사업자등록번호",
                "상호명",
                "대표자명",
                "업종코드",
                "시도",
                "시군구",
                "신청플랫폼",
                "신청일시",
                "처리상태",
                "상시근로자수",
                "연매출액",
                "연락처",
            ),
            {
                "receipt_no": _field("접수번호"),
                "brn_mask": brn_mask("record ->> '사업자등록번호'"),
                "ksic_code": _field("업종코드"),
                "submitted_at": _field("신청일시"),
                "status": _field("처리상태"),
            },
            lambda: [
                _regex("receipt_no", r"^O2O24-[0-9]{7}$", "접수번호(O2O24-0000000)"),
                _brn("brn_mask"),
                _regex("ksic_code", KSIC, "업종코드(KSIC 5자리)", KSIC_HARD, KSIC_WARN),
                _date(
                    "submitted_at",
                    "신청일시(YYYY-MM-DD HH:MM:SS)",
                    r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?$",
                ),
                _in_set("status", ["접수", "보완요청", "취소"], "처리상태"),
            ],
        ),
        _file_table(
            "raw.kakao_applications",
            (
                "신청일시",
                "사업자등록번호",
                "상호",
                "대표자명",
                "연락처",
                "지역",
                "희망프로그램",
                "개인정보동의",
            ),
            {
                "brn_mask": brn_mask("record ->> '사업자등록번호'"),
                "submitted_at": _field("신청일시"),
                "consent": _field("개인정보동의"),
            },
            lambda: [
                _brn("brn_mask", BRN_TYPED_HARD, BRN_TYPED_WARN),
                _date(
                    "submitted_at",
                    "신청일시(날짜 또는 날짜와 시각)",
                    r"^[0-9]{4}[-.][0-9]{2}[-.][0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$",
                    TYPED_DATE_HARD,
                    TYPED_DATE_WARN,
                ),
                _in_set(
                    "consent", ["Y", "N", "동의", "미동의"], "개인정보동의", TYPED_CODE_HARD, TYPED_CODE_WARN
                ),
            ],
            WARNING,
        ),
        _file_table(
            "raw.edu_completions",
            ("brn", "learner_id", "course_type", "course_code", "course_name", "completed_on"),
            {
                "brn_mask": brn_mask("record ->> 'brn'"),
                "course_type": _field("course_type"),
                "completed_on": _field("completed_on"),
            },
            lambda: [
                _brn("brn_mask"),
                _in_set("course_type", ["elearning", "digital_univ"], "과정 구분"),
                _date("completed_on", "수료일(YYYY-MM-DD)"),
            ],
        ),
        RawTable(
            "raw.nts_status_answers",
            ("load_id", "loaded_at", "asked_on", "b_no", "record_hash"),
            ("b_no", "b_stt_cd", "end_dt"),
            KEYS_HARD,
            1.0,
            {
                "b_no_mask": brn_mask("b_no"),
                "b_no_matches": "record ->> 'b_no' = b_no",
                "b_stt_cd": "record ->> 'b_stt_cd'",
                "end_dt": "record ->> 'end_dt'",
            },
            lambda: [
                expect(
                    gxe.ExpectColumnValuesToMatchRegex,
                    HARD,
                    "조회한 사업자등록번호가 10자리 숫자",
                    "only 10-digit numbers are asked; another shape means the job or the API mapping broke",
                    column="b_no_mask",
                    regex=TEN_DIGITS,
                ),
                expect(
                    gxe.ExpectColumnValuesToBeInSet,
                    HARD,
                    "응답의 번호가 조회한 번호와 같음",
                    "the answer element is stored under the number it answers for",
                    column="b_no_matches",
                    value_set=[True],
                ),
                _in_set("b_stt_cd", ["01", "02", "03", ""], "사업자 상태 코드(01/02/03/빈 값)"),
                _regex("end_dt", r"^([0-9]{8})?$", "폐업일(YYYYMMDD 또는 빈 값)"),
            ],
            # How many numbers are asked is the job's own choice (the BRNs without an answer for the
            # day: none on a rerun), not the tax office's delivery: a low volume only warns.
            volume_severity=WARNING,
        ),
        _reference(
            "credit_checks",
            ("brn", "checked_on", "national_tax_arrears", "local_tax_arrears", "financial_default"),
            {
                "checked_on": _field("checked_on"),
                "flags": (
                    "concat(btrim(record ->> 'national_tax_arrears'), btrim(record ->> 'local_tax_arrears'),"
                    " btrim(record ->> 'financial_default'))"
                ),
            },
            lambda: [
                _date("checked_on", "조회일(YYYY-MM-DD)"),
                _regex("flags", r"^[YN]{3}$", "체납·채무불이행 표시(Y/N 세 개)"),
            ],
        ),
        _reference(
            "fair_trade_violations",
            ("brn", "decided_on", "case_no", "violation_type"),
            {"decided_on": _field("decided_on"), "case_no": _field("case_no")},
            lambda: [
                _date("decided_on", "의결일(YYYY-MM-DD)"),
                expect(
                    gxe.ExpectColumnValuesToNotBeNull,
                    HARD,
                    "사건번호가 있음",
                    "a decision without a case number cannot be traced",
                    column="case_no",
                ),
            ],
        ),
        _reference(
            "certifications",
            ("brn", "cert_type", "cert_no", "valid_from", "valid_to"),
            {
                "cert_type": _field("cert_type"),
                "valid_from": _field("valid_from"),
                "valid_to": _field("valid_to"),
            },
            lambda: [
                _in_set("cert_type", BONUS_CERT_TYPES, "인증 종류(가점 ③ 코드)"),
                _date("valid_from", "유효 시작일(YYYY-MM-DD)"),
                _date("valid_to", "유효 종료일(YYYY-MM-DD, 없으면 무기한)"),
            ],
        ),
        _reference(
            "mail_order_registry",
            ("brn", "registered_on", "status"),
            {"registered_on": _field("registered_on"), "status": _field("status")},
            lambda: [
                _date("registered_on", "신고일(YYYY-MM-DD)"),
                _in_set("status", ["정상영업", "휴업", "폐업"], "영업 상태"),
            ],
        ),
        _reference(
            "onnuri_listings",
            ("brn", "listed_from", "listed_to"),
            {"listed_from": _field("listed_from"), "listed_to": _field("listed_to")},
            lambda: [
                _date("listed_from", "입점일(YYYY-MM-DD)"),
                _date("listed_to", "퇴점일(YYYY-MM-DD, 없으면 입점 중)"),
            ],
        ),
    ]
}


def table_for_source(source: str) -> str:
    """The raw table a load of ``source`` (ops.load_ledger.source) lands in."""
    named = {
        "portal": "raw.portal_applications",
        "evaluation": "raw.evaluation_scores",
        "sbiz24": "raw.sbiz24_o2o_applications",
        "kakao": "raw.kakao_applications",
        "edu": "raw.edu_completions",
        "nts": "raw.nts_status_answers",
    }
    table = named.get(source) or (f"raw.{source}" if source.startswith("reference_") else None)
    if table not in TABLES:
        raise KeyError(f"no raw table known for source {source!r}")
    return table


# --- the three suites of a raw table ---------------------------------------------------------------


def rows_suite(table: RawTable):
    return suite(
        f"landing.{table.name}",
        [
            expect(
                gxe.ExpectTableColumnsToMatchSet,
                HARD,
                "적재 테이블의 열이 모두 있음",
                "the raw table still has the columns the loaders and dbt read",
                column_set=["raw_id", *table.metadata, "record"],
                exact_match=False,
            ),
            *[
                expect(
                    gxe.ExpectColumnValuesToNotBeNull,
                    HARD,
                    f"적재 메타데이터 {column} 값이 있음",
                    "every landed row names its load, time, origin and content hash",
                    column=column,
                )
                for column in table.metadata
            ],
            expect(
                gxe.ExpectColumnValuesToNotBeNull,
                HARD,
                "원본 레코드(record)가 있음",
                "raw keeps the record as received; a row without it cannot be rebuilt from",
                column="record",
            ),
        ],
        gate="landing",
        table=table.name,
    )


def fields_suite(table: RawTable):
    return suite(
        f"landing.{table.name}.fields",
        [
            # one stray item is quarantined (RECORD_NOT_OBJECT) while the rest of the load is staged;
            # many mean the connector or the API broke
            tiered(
                gxe.ExpectColumnValuesToBeInSet,
                column="record_is_object",
                value_set=[True],
                hard=CODE_HARD,
                warn=CODE_WARN,
                description="레코드가 JSON 객체",
                why="every record is a JSON object (a CSV row keyed by its header, or an API item)",
            ),
            tiered(
                gxe.ExpectColumnValuesToBeNull,
                column="missing_keys",
                hard=table.keys_hard,
                warn=table.keys_warn,
                description="레코드에 필수 항목이 모두 있음 (빠진 항목을 표시)",
                why=f"records carry {list(table.keys)} (present, not null); the observed values list the missing ones",
            ),
            *table.expectations(),
        ],
        gate="landing",
        table=table.name,
    )


def volume_suite(table: RawTable):
    return suite(
        f"landing.{table.name}.volume",
        [
            expect(
                gxe.ExpectTableRowCountToEqual,
                WARNING,
                "적재 원장(ops.load_ledger)에 기록된 적재",
                "a load outside the ledger cannot be compared with its source's earlier loads",
                value=1,
            ),
            expect(
                gxe.ExpectColumnPairValuesToBeEqual,
                HARD,
                "원장에 기록된 적재 행 수와 raw 행 수가 같음",
                "raw holds exactly the rows the ledger says the load inserted",
                column_A="raw_rows",
                column_B="rows_inserted",
            ),
            expect(
                gxe.ExpectColumnValuesToBeBetween,
                table.volume_severity,
                f"수신 행 수가 최근 {VOLUME_TRAILING_LOADS}회 적재 중앙값의 {VOLUME_MIN_RATIO:.0%} 이상",
                f"rows received / median of the trailing {VOLUME_TRAILING_LOADS} successful loads of the same"
                f" source and file series; not judged before {VOLUME_MIN_TRAILING} such loads",
                column="volume_ratio",
                min_value=VOLUME_MIN_RATIO,
            ),
            expect(
                gxe.ExpectColumnValuesToBeBetween,
                WARNING,
                f"수신 행 수가 최근 적재 중앙값의 {VOLUME_MAX_RATIO:g}배 이하",
                "a surge is more often a re-delivery or a paging loop than real demand",
                column="volume_ratio",
                max_value=VOLUME_MAX_RATIO,
            ),
        ],
        gate="landing",
        table=table.name,
    )


def fields_query(table: RawTable, load_id: str) -> str:
    keys = ", ".join(literal(k) for k in table.keys)
    columns = ",\n       ".join(f"{sql} as {alias}" for alias, sql in table.fields.items())
    return f"""select raw_id,
       jsonb_typeof(record) = 'object' as record_is_object,
       nullif(array_to_string(array(
           select k from unnest(array[{keys}]) as k
            where jsonb_typeof(record -> k) is null or jsonb_typeof(record -> k) = 'null'
       ), ', '), '') as missing_keys,
       {columns}
  from {table.name}
 where load_id = {literal(load_id)}"""


def volume_query(table: RawTable, load_id: str) -> str:
    # The file series: the file name without its digits (kakao: one series a site; evaluation: one a
    # sub-programme; portal and nts: the source). Only successful loads before this one count.
    return f"""select * from (
    with this_load as (
        select load_id, source, started_at, rows_received, rows_inserted,
               regexp_replace(coalesce(source_file, ''), '[0-9]', '', 'g') as series
          from ops.load_ledger
         where load_id = {literal(load_id)}
    ),
    earlier as (
        select l.rows_received
          from ops.load_ledger as l
          join this_load as t
            on l.source = t.source
           and regexp_replace(coalesce(l.source_file, ''), '[0-9]', '', 'g') = t.series
           and l.load_id <> t.load_id
           and l.started_at < t.started_at
         where l.outcome = 'success' and l.rows_received is not null
         order by l.started_at desc
         limit {VOLUME_TRAILING_LOADS}
    ),
    stats as (
        select count(*) as n, percentile_cont(0.5) within group (order by rows_received) as median
          from earlier
    )
    select t.load_id, t.source, t.rows_received, t.rows_inserted,
           (select count(*) from {table.name} as r where r.load_id = t.load_id) as raw_rows,
           s.n as trailing_loads,
           s.median as trailing_median,
           case when s.n >= {VOLUME_MIN_TRAILING} and s.median > 0
                then cast(t.rows_received / s.median as numeric(14, 4)) end as volume_ratio
      from this_load as t
     cross join stats as s
) as volume"""


def checks(table: str, load_ids: list[str]) -> list[Check]:
    """The landing checks of the loads ``load_ids`` of ``table``: the rows suite once over all of them
    (what it checks is the table's: its columns, and metadata its constraints hold; one validation per
    load cost a third of a replay's landing gates in GX's own Python), then each load's fields and
    volume, whose shares and counts are the load's own."""
    spec = TABLES[table]
    loads = ", ".join(literal(load_id) for load_id in load_ids)
    return [
        Check(
            rows_suite(spec),
            spec.name,
            f"select * from {spec.name} where load_id in ({loads})",
            tuple(load_ids),
        ),
        *(
            check
            for load_id in load_ids
            for check in (
                Check(fields_suite(spec), spec.name, fields_query(spec, load_id), (load_id,)),
                Check(volume_suite(spec), spec.name, volume_query(spec, load_id), (load_id,)),
            )
        ),
    ]
