"""The bad-input corpus (issue 8): malformed inputs across every source, each with its expected outcome.

Everything goes through what the DAG tasks call, on a real PostgreSQL: the portal through
``ingest_portal`` against the simulated portal (records the simulator cannot serve, such as one without
an updated_at, through the same loader, ``copy_portal_versions``), partner files through ``ingest_files``
on a drop folder, the tax office's answers through the connector's own check and the loader; then the
landing gate, ``dbt seed``, ``dbt build`` of staging, quarantine and intermediate, the transformed gate and
the marts, as the transform DAG runs them.

Each input ends in exactly one of:
- ``quarantined``: the row is in quarantine.quarantined_rows with the expected reason code and field, and
  not in staging;
- ``refused``: the file (or the tax office's answer) is refused whole, with a message naming the file and
  the problem, and nothing of it is in raw;
- ``verdict``: the value is typed to null (or kept) and eligibility gives the application the expected
  reason code (a business verdict the applicant is told, never a quarantine);
- ``staged``: read as it should be (a specific check).
And for the whole corpus: no load is rejected by the landing gate, the transformed gate passes (the run
goes on), the valid rows that came with a bad one are staged, and every load reconciles:
raw = staged + quarantined.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from openpyxl import Workbook
from test_eligibility_rules import application as eligible_application

from panro.brn import brn_check_digit
from panro.config import load_settings
from panro.connectors.nts import NtsError, check_answer
from panro.connectors.portal import PortalClient
from panro.dbt import run_dbt
from panro.ingest.files import KAKAO_HEADER, SBIZ24_HEADER, SOURCES, ingest_files
from panro.ingest.portal import ingest_portal
from panro.loaders.raw import (
    LoadResult,
    canonical_json,
    copy_nts_answers,
    copy_portal_versions,
    ledger_finish,
    ledger_start,
    new_load_id,
    sha256_text,
)
from panro.quality import enforce, load_suites, run_gate
from panro.servers.portal import PortalServer, PortalState
from panro.warehouse import ensure_schema

KST = timezone(timedelta(hours=9))
DAY = date(2024, 3, 8)  # the round day
RUN = "corpus-run"
WINDOW = (datetime(2024, 3, 5, tzinfo=KST), datetime(2024, 3, 6, tzinfo=KST))


def brn(n: int) -> str:
    """A valid BRN of its own for each business of the corpus (n < 10**8)."""
    first9 = f"3{n:08d}"
    return first9 + str(brn_check_digit(first9))


def wrong_check_digit(n: int) -> str:
    valid = brn(n)
    return valid[:9] + str((int(valid[9]) + 3) % 10)


# --- cases --------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One malformed input and what must become of it.

    ``expect``: quarantined / refused / verdict / staged. ``code``: the quarantine reason, the verdict's
    reason code, or a regex the refusal message must match. ``field``: the quarantined field.
    ``check``: for ``staged``, a function of (url, case) that asserts what was read."""

    id: str
    source: str
    expect: str
    code: str | None = None
    field: str | None = None
    file: str | None = None  # the delivered file (file sources)
    application_id: str | None = None  # the application judged (verdicts) or checked
    record_hash: str | None = None  # the quarantined portal record / nts answer
    line_no: int | None = None  # the quarantined line of the file
    check: Callable | None = None
    extra: dict = dataclasses.field(default_factory=dict)


CASES: list[Case] = []


def case(**kwargs) -> Case:
    c = Case(**kwargs)
    assert c.id not in {x.id for x in CASES}, c.id
    CASES.append(c)
    return c


# --- portal (판판대로) -----------------------------------------------------------------------------------


def application(app_id: str, n: int, minute: int, **changes) -> dict:
    """A version that passes every rule (test_eligibility_rules' record) with its own BRN and time;
    ``changes`` replace top-level keys or merge into business / product."""
    at = (WINDOW[0] + timedelta(hours=10, minutes=minute)).isoformat()
    business = {
        "brn": brn(n),
        "name": f"상호 {n}",
        "representative_name": f"대표 {n}",
        **changes.pop("business", {}),
    }
    return eligible_application(
        app_id, 0, business=business, **{"submitted_at": at, "updated_at": at, **changes}
    )


SERVED: list[dict] = [application(f"FF24-09{i:05d}", 900 + i, i) for i in range(30)]  # valid companions
LOADED: list[object] = [application(f"FF24-08{i:05d}", 800 + i, i) for i in range(3)]


def portal_case(n: int, *, served: bool = True, **kwargs) -> Case:
    """Add the record ``kwargs['record']`` to the served pages (or the loader-only batch)."""
    record = kwargs.pop("record")
    (SERVED if served else LOADED).append(record)
    app_id = record.get("application_id") if isinstance(record, dict) else None
    return case(
        source="portal",
        application_id=kwargs.pop("application_id", app_id),
        record_hash=sha256_text(canonical_json(record)),
        **kwargs,
    )


def pid(n: int) -> str:
    return f"FF24-07{n:05d}"


portal_case(
    1,
    id="portal_id_with_sql",
    expect="quarantined",
    code="APPLICATION_ID_MALFORMED",
    field="application_id",
    record=application("FF24-0'; DROP TABLE raw.portal_applications; --", 1, 1),
)
portal_case(
    2,
    id="portal_id_blank",
    expect="quarantined",
    code="APPLICATION_ID_MISSING",
    field="application_id",
    record=application("   ", 2, 2),
)
portal_case(
    3,
    id="portal_status_unknown",
    expect="quarantined",
    code="STATUS_UNKNOWN",
    field="status",
    record=application(pid(3), 3, 3, status="deleted"),
)
portal_case(
    4,
    id="portal_nul_in_name",
    expect="quarantined",
    code="CONTROL_CHARACTER",
    field="business",
    record=application(pid(4), 4, 4, business={"name": "한빛\x00식품"}),
)
portal_case(
    5,
    id="portal_bell_in_product",
    expect="quarantined",
    code="CONTROL_CHARACTER",
    field="product",
    record=application(pid(5), 5, 5, product={"name": "제품\x07"}),
)
portal_case(
    6,
    id="portal_1mb_field",
    expect="quarantined",
    code="RECORD_TOO_LARGE",
    field="product",
    record=application(pid(6), 6, 6, product={"name": "가" * 350_000}),
)
portal_case(
    7,
    id="portal_utf8_read_as_latin1",
    expect="quarantined",
    code="CONTROL_CHARACTER",
    field="business",
    record=application(pid(7), 7, 7, business={"name": "한빛식품".encode().decode("latin-1")}),
)
portal_case(
    8,
    id="portal_bad_check_digit",
    expect="verdict",
    code="BRN_INVALID",
    record=application(pid(8), 8, 8, business={"brn": wrong_check_digit(8)}),
)
portal_case(
    9,
    id="portal_impossible_submission_time",
    expect="verdict",
    code="SUBMITTED_AT_INVALID",
    record=application(pid(9), 9, 9, submitted_at="2024-02-30T10:00:00+09:00"),
)
# without the small-business certificate, which would prove the size by itself (has_valid_certificate)
NO_CERTIFICATE = [
    {"type": "national_tax_cert", "issued_on": "2024-03-01", "valid_until": "2024-03-31"},
    {"type": "local_tax_cert", "issued_on": "2024-03-01", "valid_until": "2024-03-31"},
]
portal_case(
    10,
    id="portal_negative_revenue",
    expect="verdict",
    code="REVENUE_MISSING",
    record=application(
        pid(10), 10, 10, business={"annual_revenue_krw": -412000000}, documents=NO_CERTIFICATE
    ),
)
portal_case(
    11,
    id="portal_absurd_revenue",
    expect="verdict",
    code="REVENUE_OVER_CAP",
    record=application(pid(11), 11, 11, business={"annual_revenue_krw": 10**15}, documents=NO_CERTIFICATE),
)
portal_case(
    12,
    id="portal_absurd_employees",
    expect="verdict",
    code="EMPLOYEES_OVER_LIMIT",
    record=application(pid(12), 12, 12, business={"employees": 1_000_000}, documents=NO_CERTIFICATE),
)
portal_case(
    13,
    id="portal_unknown_programme",
    expect="verdict",
    code="PROGRAM_UNKNOWN",
    record=application(pid(13), 13, 13, program_code="9-9"),
)
portal_case(
    14,
    id="portal_unknown_ksic_code",
    expect="verdict",
    code="KSIC_MISSING",
    record=application(pid(14), 14, 14, business={"ksic_code": "ABCDE"}),
)


def staged_portal_name(expected: str) -> Callable:
    def check(url: str, c: Case) -> None:
        assert query(
            url,
            "select business_name from staging.stg_portal__applications where application_id = %s",
            (c.application_id,),
        ) == [(expected,)]

    return check


NFD_NAME = unicodedata.normalize("NFD", "한빛식품")
portal_case(
    15,
    id="portal_hangul_nfd",
    expect="staged",
    check=staged_portal_name(NFD_NAME),
    record=application(pid(15), 15, 15, business={"name": NFD_NAME}),
)
SQL_TEXT = "x'); DROP TABLE raw.portal_applications; --"
portal_case(
    16,
    id="portal_sql_in_text",
    expect="staged",
    check=staged_portal_name(SQL_TEXT),
    record=application(pid(16), 16, 16, business={"name": SQL_TEXT}),
)


def later_landed_version_is_current(url: str, c: Case) -> None:
    versions = query(
        url,
        "select raw_id, product_name from staging.stg_portal__applications where application_id = %s"
        " order by raw_id",
        (c.application_id,),
    )
    assert [name for _, name in versions] == ["첫 제품", "둘째 제품"]  # both staged, in landing order
    current = query(
        url,
        "select raw_id, product_name from intermediate.int_applications_current where application_id = %s",
        (c.application_id,),
    )
    assert current == [versions[-1]]  # same updated_at: the later landed version is current


portal_case(
    17,
    id="portal_duplicate_id_same_time_other_content",
    expect="staged",
    check=later_landed_version_is_current,
    record=application(pid(17), 17, 17, product={"name": "첫 제품"}),
)
SERVED.append(application(pid(17), 17, 17, product={"name": "둘째 제품"}))

portal_case(
    20,
    served=False,
    id="portal_record_is_a_list",
    expect="quarantined",
    code="RECORD_NOT_OBJECT",
    field="record",
    record=[pid(20), "submitted"],
)
portal_case(
    21,
    served=False,
    id="portal_record_is_a_string",
    expect="quarantined",
    code="RECORD_NOT_OBJECT",
    field="record",
    record=pid(21),
)
portal_case(
    22,
    served=False,
    id="portal_id_missing",
    expect="quarantined",
    code="APPLICATION_ID_MISSING",
    field="application_id",
    record={k: v for k, v in application(pid(22), 22, 22).items() if k != "application_id"},
)
portal_case(
    23,
    served=False,
    id="portal_updated_at_missing",
    expect="quarantined",
    code="UPDATED_AT_UNREADABLE",
    field="updated_at",
    record={k: v for k, v in application(pid(23), 23, 23).items() if k != "updated_at"},
)
portal_case(
    24,
    served=False,
    id="portal_updated_at_impossible",
    expect="quarantined",
    code="UPDATED_AT_UNREADABLE",
    field="updated_at",
    record=application(pid(24), 24, 24, updated_at="2024-02-30T10:00:00+09:00"),
)
portal_case(
    25,
    served=False,
    id="portal_updated_at_not_iso",
    expect="quarantined",
    code="UPDATED_AT_UNREADABLE",
    field="updated_at",
    record=application(pid(25), 25, 25, updated_at="2024/03/05 10:25"),
)

# --- 소상공인24 O2O export (CP949 CSV) ----------------------------------------------------------------------

SBIZ24_COLUMNS = SBIZ24_HEADER.split(",")


def sbiz24_row(n: int, **changes) -> dict:
    row = dict(
        zip(
            SBIZ24_COLUMNS,
            [
                f"O2O24-{n:07d}",
                brn(n),
                f"가게 {n}",
                f"사장 {n}",
                "56111",
                "서울특별시",
                "마포구",
                "배달의민족",
                "2024-03-05 09:00:00",
                "접수",
                "2",
                "120,000,000",
                "010-1234-5678",
            ],
            strict=True,
        )
    )
    return {**row, **changes}


def csv_bytes(
    header: list[str], rows: list[dict], *, encoding: str, newline: str = "\r\n", delimiter: str = ","
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue().encode(encoding)


FILES: dict[str, tuple[str, bytes]] = {}  # file name -> (drop sub-folder, bytes)


def file_case(folder: str, name: str, data: bytes, **kwargs) -> Case:
    assert name not in FILES, name
    FILES[name] = (folder, data)
    return case(file=name, **kwargs)


def sbiz24_case(n: int, data: bytes | None = None, *, rows: list[dict] | None = None, **kwargs) -> Case:
    name = f"o2o_c{n:02d}_20240305.csv"
    rows = rows if rows is not None else [sbiz24_row(100 * n + 1), sbiz24_row(100 * n + 2)]
    return file_case(
        "sbiz24",
        name,
        data if data is not None else csv_bytes(SBIZ24_COLUMNS, rows, encoding="cp949"),
        source="sbiz24",
        **kwargs,
    )


def two_valid(n: int) -> list[dict]:
    return [sbiz24_row(100 * n + 1), sbiz24_row(100 * n + 2)]


sbiz24_case(
    1,
    csv_bytes(SBIZ24_COLUMNS, two_valid(1), encoding="utf-8"),
    id="sbiz24_utf8_not_cp949",
    expect="refused",
    code="the file is UTF-8, the contract says CP949",
)
sbiz24_case(
    2,
    b"\xef\xbb\xbf" + csv_bytes(SBIZ24_COLUMNS, two_valid(2), encoding="cp949"),
    id="sbiz24_utf8_bom",
    expect="refused",
    code="byte-order mark",
)
sbiz24_case(
    3,
    csv_bytes(SBIZ24_COLUMNS, two_valid(3), encoding="cp949", delimiter=";"),
    id="sbiz24_semicolon_delimiter",
    expect="refused",
    code="header is",
)
sbiz24_case(
    4,
    csv_bytes(SBIZ24_COLUMNS[:-1], two_valid(4), encoding="cp949"),
    id="sbiz24_missing_column",
    expect="refused",
    code="header is .*expected",
)
sbiz24_case(
    5,
    csv_bytes([*SBIZ24_COLUMNS, "비고"], two_valid(5), encoding="cp949"),
    id="sbiz24_extra_column",
    expect="refused",
    code="header is .*expected",
)
sbiz24_case(
    6,
    csv_bytes(SBIZ24_COLUMNS, two_valid(6), encoding="cp949").replace(
        b"010-1234-5678\r\n", b"010-1234-5678,x\r\n", 1
    ),
    id="sbiz24_row_with_extra_field",
    expect="refused",
    code="line 2 has 14 fields, expected 13",
)
sbiz24_case(
    7,
    csv_bytes(SBIZ24_COLUMNS, two_valid(7), encoding="cp949")[:-20],
    id="sbiz24_truncated",
    expect="refused",
    code="truncated",
)
sbiz24_case(8, b"", id="sbiz24_empty_file", expect="refused", code="empty file")


def rows_staged(table: str, count: int) -> Callable:
    def check(url: str, c: Case) -> None:
        assert query(url, f"select count(*) from {table} where source_file = %s", (c.file,)) == [(count,)]

    return check


sbiz24_case(
    9,
    csv_bytes(SBIZ24_COLUMNS, two_valid(9), encoding="cp949", newline="\n"),
    id="sbiz24_lf_line_endings",
    expect="staged",
    check=rows_staged("staging.stg_sbiz24__o2o_applications", 2),
)
sbiz24_case(
    10,
    rows=[sbiz24_row(1001), sbiz24_row(1002, 접수번호=""), sbiz24_row(1003)],
    id="sbiz24_id_missing",
    expect="quarantined",
    code="APPLICATION_ID_MISSING",
    field="접수번호",
    line_no=3,
)
sbiz24_case(
    11,
    rows=[sbiz24_row(1101, 처리상태="삭제"), sbiz24_row(1102)],
    id="sbiz24_status_unknown",
    expect="quarantined",
    code="STATUS_UNKNOWN",
    field="처리상태",
    line_no=2,
)
sbiz24_case(
    13,
    rows=[sbiz24_row(1301, 사업자등록번호=wrong_check_digit(1301))],
    id="sbiz24_bad_check_digit",
    expect="verdict",
    code="BRN_INVALID",
    application_id="O2O24-0001301",
)
sbiz24_case(
    14,
    rows=[sbiz24_row(1401, 상시근로자수="-3")],
    id="sbiz24_negative_employees",
    expect="verdict",
    code="EMPLOYEES_MISSING",
    application_id="O2O24-0001401",
)
sbiz24_case(
    15,
    rows=[sbiz24_row(1501, 연매출액="사억")],
    id="sbiz24_revenue_in_words",
    expect="verdict",
    code="REVENUE_MISSING",
    application_id="O2O24-0001501",
)
sbiz24_case(
    16,
    rows=[sbiz24_row(1601, 신청일시="2024-13-45 25:61:00")],
    id="sbiz24_impossible_submission_time",
    expect="verdict",
    code="SUBMITTED_AT_INVALID",
    application_id="O2O24-0001601",
)


def later_line_is_current(url: str, c: Case) -> None:
    versions = query(
        url,
        "select version_no, status from staging.stg_sbiz24__o2o_applications where application_id = %s"
        " order by version_no",
        (c.application_id,),
    )
    assert versions == [(1, "submitted"), (2, "withdrawn")]
    assert query(
        url,
        "select status from intermediate.int_applications_current where application_id = %s",
        (c.application_id,),
    ) == [("withdrawn",)]


sbiz24_case(
    17,
    rows=[sbiz24_row(1701), sbiz24_row(1701, 처리상태="취소")],
    id="sbiz24_duplicate_id_other_content",
    expect="staged",
    application_id="O2O24-0001701",
    check=later_line_is_current,
)


def staged_sbiz24_name(expected: str) -> Callable:
    def check(url: str, c: Case) -> None:
        assert query(
            url,
            "select business_name from staging.stg_sbiz24__o2o_applications where application_id = %s",
            (c.application_id,),
        ) == [(expected,)]

    return check


sbiz24_case(
    18,
    rows=[sbiz24_row(1801, 상호명=SQL_TEXT)],
    id="sbiz24_sql_in_text",
    expect="staged",
    application_id="O2O24-0001801",
    check=staged_sbiz24_name(SQL_TEXT),
)

# --- 소담스퀘어 workbooks (XLSX) ---------------------------------------------------------------------------


def kakao_row(n: int, **changes) -> list:
    row = dict(
        zip(
            KAKAO_HEADER.split(","),
            [
                "2024-03-05 14:20",
                brn(n),
                f"가게 {n}",
                f"사장 {n}",
                "010-2222-3333",
                "서울 성동구",
                "라이브커머스 촬영",
                "Y",
            ],
            strict=True,
        )
    )
    row.update(changes)
    return list(row.values())


def workbook(rows: list[list], sheet: str = "신청목록", header: bool = True, form: str = "NFC") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(["2024년 3월 소담스퀘어 신청 현황"])
    if header:
        ws.append([unicodedata.normalize(form, h) for h in KAKAO_HEADER.split(",")])
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def kakao_case(n: int, data: bytes, name: str | None = None, **kwargs) -> Case:
    return file_case("kakao", name or f"c{n:02d}_20240305.xlsx", data, source="kakao", **kwargs)


kakao_case(
    1,
    workbook([kakao_row(2001)], sheet="Sheet1"),
    id="kakao_wrong_sheet",
    expect="refused",
    code="no sheet '신청목록'",
)
kakao_case(
    2,
    workbook([kakao_row(2101)])[:-300],
    id="kakao_truncated_workbook",
    expect="refused",
    code="not a readable XLSX",
)
kakao_case(
    3,
    csv_bytes(KAKAO_HEADER.split(","), [], encoding="utf-8"),
    id="kakao_csv_named_xlsx",
    expect="refused",
    code="not a readable XLSX",
)
kakao_case(
    4,
    workbook([kakao_row(2301)], header=False),
    id="kakao_no_header_row",
    expect="refused",
    code="no header row",
)
kakao_case(
    5,
    workbook([kakao_row(2401), ["\u200b", "\u200b"], kakao_row(2402)]),
    id="kakao_zero_width_row",
    expect="quarantined",
    code="BLANK_ROW",
    field="record",
    line_no=4,
)
kakao_case(
    6,
    workbook([kakao_row(2501), ["2024-03-05 10:00", None, None, None, None, "부산", "상세페이지", "Y"]]),
    id="kakao_unidentifiable_row",
    expect="quarantined",
    code="APPLICANT_UNIDENTIFIABLE",
    field="사업자등록번호",
    line_no=4,
)
kakao_case(
    7,
    workbook([kakao_row(2601), kakao_row(2602)]),
    name="신청목록_최종.xlsx",
    id="kakao_site_not_in_name",
    expect="quarantined",
    code="SITE_UNKNOWN",
    field="source_file",
    line_no=3,
    extra={"also_lines": [4]},
)


def one_application_from_nfc_and_nfd(url: str, c: Case) -> None:
    rows = query(
        url,
        "select application_id, business_name, times_received from staging.stg_kakao__applications"
        " where source_file = %s",
        (c.file,),
    )
    assert len(rows) == 1 and rows[0][1] == "한빛식품" and rows[0][2] == 2  # NFD composed: one applicant


nfc = kakao_row(0, 사업자등록번호=None, 상호="한빛식품", 대표자명="김하늘")
nfd = [unicodedata.normalize("NFD", v) if isinstance(v, str) else v for v in nfc]
kakao_case(
    8,
    workbook([nfc, nfd]),
    id="kakao_same_applicant_in_nfc_and_nfd",
    expect="staged",
    check=one_application_from_nfc_and_nfd,
)
kakao_case(
    11,
    workbook([kakao_row(3001), kakao_row(3002)], form="NFD"),
    id="kakao_header_in_nfd",
    expect="staged",
    check=rows_staged("staging.stg_kakao__applications", 2),
)
kakao_case(
    9,
    workbook([kakao_row(2801, 신청일시="어제 오후")]),
    id="kakao_unreadable_date",
    expect="verdict",
    code="SUBMITTED_AT_INVALID",
    application_id=f"KAKAO-c09-{brn(2801)}",
)
kakao_case(
    10,
    workbook([kakao_row(2901, 개인정보동의="몰라요")]),
    id="kakao_unknown_consent",
    expect="verdict",
    code="CONSENT_MISSING",
    application_id=f"KAKAO-c10-{brn(2901)}",
)

# --- education completions (UTF-8 CSV) ----------------------------------------------------------------

EDU_COLUMNS = "brn,learner_id,course_type,course_code,course_name,completed_on".split(",")


def edu_row(n: int, **changes) -> dict:
    row = dict(
        zip(
            EDU_COLUMNS,
            [brn(n), f"L{n}", "elearning", "EL-1101", "온라인 판매 첫걸음", "2024-02-20"],
            strict=True,
        )
    )
    return {**row, **changes}


def edu_case(n: int, rows: list[dict] | None = None, data: bytes | None = None, **kwargs) -> Case:
    data = data if data is not None else csv_bytes(EDU_COLUMNS, rows or [], encoding="utf-8", newline="\n")
    return file_case("edu", f"completions_c{n:02d}_20240306.csv", data, source="edu", **kwargs)


edu_case(
    1,
    data=csv_bytes(EDU_COLUMNS, [edu_row(3001)], encoding="cp949", newline="\n"),
    id="edu_cp949_not_utf8",
    expect="refused",
    code="not UTF-8",
)
edu_case(
    2,
    data=b"\xef\xbb\xbf" + csv_bytes(EDU_COLUMNS, [edu_row(3101)], encoding="utf-8", newline="\n"),
    id="edu_utf8_bom",
    expect="staged",
    check=rows_staged("staging.stg_edu__completions", 1),
)
edu_case(
    3,
    [edu_row(3201), edu_row(3202, brn="12345")],
    id="edu_brn_too_short",
    expect="quarantined",
    code="BRN_UNREADABLE",
    field="brn",
    line_no=3,
    extra={"value": "99999"},
)
edu_case(
    4,
    [edu_row(3301, course_type="webinar"), edu_row(3302)],
    id="edu_course_type_unknown",
    expect="quarantined",
    code="COURSE_TYPE_UNKNOWN",
    field="course_type",
    line_no=2,
)
edu_case(
    5,
    [edu_row(3401), edu_row(3402, completed_on="2024-02-30")],
    id="edu_impossible_date",
    expect="quarantined",
    code="DATE_UNREADABLE",
    field="completed_on",
    line_no=3,
)
edu_case(
    6,
    [edu_row(3501), edu_row(3501)],
    id="edu_duplicate_rows",
    expect="staged",
    check=lambda url, c: _one_completion_of_two(url, c),
)
edu_case(
    7,
    data=csv_bytes(EDU_COLUMNS, [edu_row(3601)], encoding="utf-8", newline="\n", delimiter="\t"),
    id="edu_tab_delimiter",
    expect="refused",
    code="header is",
)


def _one_completion_of_two(url: str, c: Case) -> None:
    assert query(
        url,
        "select times_received, jsonb_array_length(raw_ids) from staging.stg_edu__completions"
        " where source_file = %s",
        (c.file,),
    ) == [(2, 2)]


# --- committee scores ---------------------------------------------------------------------------------

SCORE_COLUMNS = (
    "application_id,round_id,reviewer_id,criterion,score,max_score,conflict_of_interest,scored_at".split(",")
)


def score_row(**changes) -> dict:
    row = dict(
        zip(
            SCORE_COLUMNS,
            [
                SERVED[0]["application_id"],
                "20240308-2-5",
                "R01",
                "product",
                "32",
                "40",
                "N",
                "2024-03-08T15:00:00+09:00",
            ],
            strict=True,
        )
    )
    return {**row, **changes}


def score_case(n: int, bad: dict | None, **kwargs) -> Case:
    rows = [score_row(reviewer_id=f"R{n:02d}", criterion="growth", score="20", max_score="30")]
    if bad is not None:
        rows.insert(0, score_row(reviewer_id=f"R{n:02d}", **bad))
    header = kwargs.pop("header", SCORE_COLUMNS)
    data = csv_bytes(header, rows, encoding="utf-8", newline="\n")
    return file_case(
        "evaluation", f"scores_c{n:02d}_20240308-2-5.csv", data, source="evaluation", line_no=2, **kwargs
    )


score_case(
    1,
    {"score": "abc"},
    id="score_not_a_number",
    expect="quarantined",
    code="SCORE_NOT_A_NUMBER",
    field="score",
)
score_case(
    2, {"score": "-5"}, id="score_negative", expect="quarantined", code="SCORE_OUT_OF_RANGE", field="score"
)
score_case(
    3, {"score": "400"}, id="score_absurd", expect="quarantined", code="SCORE_OUT_OF_RANGE", field="score"
)
score_case(
    4,
    {"application_id": ""},
    id="score_application_id_missing",
    expect="quarantined",
    code="APPLICATION_ID_MISSING",
    field="application_id",
)
score_case(
    5,
    {"round_id": "2024-03-08"},
    id="score_round_id_malformed",
    expect="quarantined",
    code="ROUND_ID_UNREADABLE",
    field="round_id",
)
score_case(
    6,
    {"criterion": "design"},
    id="score_criterion_unknown",
    expect="quarantined",
    code="CRITERION_UNKNOWN",
    field="criterion",
)
score_case(7, None, header=SCORE_COLUMNS[:-1], id="score_missing_column", expect="refused", code="header is")

# --- reference lists ----------------------------------------------------------------------------------


def reference_case(n: int, entity: str, header: str, good: list, bad: list, **kwargs) -> Case:
    columns = header.split(",")
    rows = [dict(zip(columns, good, strict=True)), dict(zip(columns, bad, strict=True))]
    return file_case(
        "reference",
        f"{entity}_c{n:02d}_20240307.csv",
        csv_bytes(columns, rows, encoding="utf-8", newline="\n"),
        source=f"reference_{entity}",
        line_no=3,
        **kwargs,
    )


reference_case(
    1,
    "credit_checks",
    "brn,checked_on,national_tax_arrears,local_tax_arrears,financial_default",
    [brn(4001), "2024-03-01", "N", "N", "N"],
    [brn(4002), "2024-13-01", "N", "N", "N"],
    id="credit_check_impossible_date",
    expect="quarantined",
    code="DATE_UNREADABLE",
    field="checked_on",
)
reference_case(
    2,
    "fair_trade_violations",
    "brn,decided_on,case_no,violation_type",
    [brn(4101), "2023-05-01", "2023-001", "표시광고"],
    ["", "2023-06-01", "2023-002", "표시광고"],
    id="violation_without_brn",
    expect="quarantined",
    code="BRN_UNREADABLE",
    field="brn",
)
reference_case(
    3,
    "mail_order_registry",
    "brn,registered_on,status",
    [brn(4201), "2023-11-02", "정상영업"],
    [brn(4202), "2023-11-02", "말소"],
    id="mail_order_unknown_status",
    expect="quarantined",
    code="STATUS_UNKNOWN",
    field="status",
)
reference_case(
    4,
    "certifications",
    "brn,cert_type,cert_no,valid_from,valid_to",
    [brn(4301), "venture", "V-1", "2023-01-01", "2025-12-31"],
    [brn(4302), "venture", "V-2", "2023-01-01", "무기한"],
    id="certification_valid_to_in_words",
    expect="quarantined",
    code="DATE_UNREADABLE",
    field="valid_to",
)
reference_case(
    5,
    "onnuri_listings",
    "brn,listed_from,listed_to",
    [brn(4401), "2023-03-01", ""],
    [brn(4402), "", ""],
    id="onnuri_listing_without_start",
    expect="quarantined",
    code="DATE_UNREADABLE",
    field="listed_from",
)

# --- 국세청 status answers ----------------------------------------------------------------------------------

NTS_ASKED = [brn(5001), brn(5002)]
NTS_REFUSED = {
    "nts_unknown_status_code": (
        {
            "status_code": "OK",
            "data": [{"b_no": NTS_ASKED[0], "b_stt_cd": "04"}, {"b_no": NTS_ASKED[1], "b_stt_cd": "01"}],
        },
        r"data\[0\] \(b_no \d{10}\) has b_stt_cd '04'",
    ),
    "nts_answer_without_b_no": (
        {"status_code": "OK", "data": [{"b_stt_cd": "01"}, {"b_no": NTS_ASKED[1], "b_stt_cd": "01"}]},
        r"data\[0\] answers b_no None, which was not asked",
    ),
    "nts_data_not_a_list": ({"status_code": "OK", "data": "none"}, r"'data' is not a list"),
    "nts_answer_not_json_object": (["OK"], r"the answer is not a JSON object"),
}
for name, (_, problem) in NTS_REFUSED.items():
    case(id=name, source="nts", expect="refused", code=problem)
NTS_ANSWERS = [
    {
        "b_no": NTS_ASKED[0],
        "b_stt": "계속사업자",
        "b_stt_cd": "01",
        "tax_type": "부가가치세 일반\x00과세자",
        "tax_type_cd": "01",
        "end_dt": "",
    },
    {
        "b_no": NTS_ASKED[1],
        "b_stt": "계속사업자",
        "b_stt_cd": "01",
        "tax_type": "부가가치세 일반과세자",
        "tax_type_cd": "01",
        "end_dt": "",
    },
]
case(
    id="nts_nul_in_answer",
    source="nts",
    expect="quarantined",
    code="CONTROL_CHARACTER",
    field="tax_type",
    record_hash=sha256_text(canonical_json(NTS_ANSWERS[0])),
)


# --- running the corpus -------------------------------------------------------------------------------


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def land_with_ledger(url: str, source: str, land: Callable) -> str:
    """A load the way the ingest jobs record one: ledger row, landing, outcome."""
    result = LoadResult(new_load_id(source), source)
    with psycopg.connect(url) as conn:
        ledger_start(conn, result, run_id=RUN)
        result.rows_received, result.rows_inserted = land(conn, result.load_id)
        result.outcome = "success"
        ledger_finish(conn, result)
    return result.load_id


@pytest.fixture(scope="module")
def corpus(pg_server, tmp_path_factory):
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = urlunparse(urlparse(pg_server)._replace(path=f"/{name}"))
    work = tmp_path_factory.mktemp("corpus")
    monkey = pytest.MonkeyPatch()
    monkey.setenv("PANRO_STATE_DIR", str(work / "state"))
    try:
        ensure_schema(url)
        outcome = {"refused_nts": {}}
        # the portal: the simulated API serves what it can; the rest through the same loader
        with PortalServer(PortalState(SERVED, token="tk")) as server:
            ingest_portal(url, PortalClient(server.base_url, "tk", page_size=7), *WINDOW, RUN)
        land_with_ledger(
            url,
            "portal",
            lambda conn, load_id: copy_portal_versions(conn, load_id, [("page-x", r) for r in LOADED]),
        )
        # partner files from the drop folder
        drop = work / "drop"
        for file_name, (folder, data) in FILES.items():
            (drop / folder).mkdir(parents=True, exist_ok=True)
            (drop / folder / file_name).write_bytes(data)
        for source in SOURCES.values():
            ingest_files(url, source, drop, RUN)
        # the tax office: answers out of contract are refused by the connector's check
        for case_id, (answer, _) in NTS_REFUSED.items():
            with pytest.raises(NtsError) as refused:
                check_answer(NTS_ASKED, answer)
            outcome["refused_nts"][case_id] = str(refused.value)
        check_answer(NTS_ASKED, {"status_code": "OK", "data": NTS_ANSWERS})
        land_with_ledger(
            url, "nts", lambda conn, load_id: (2, copy_nts_answers(conn, load_id, DAY, NTS_ANSWERS))
        )

        outcome["landing"] = run_gate(url, "landing", run_id=RUN, business_day=DAY)
        settings = dataclasses.replace(load_settings(), state_dir=work / "state")
        dbt_vars = {"round_date": DAY.isoformat(), "run_id": RUN}
        run_dbt(["seed"], url, dbt_vars, settings)
        run_dbt(["build", "--select", "staging", "quarantine", "intermediate"], url, dbt_vars, settings)
        outcome["transformed"] = run_gate(url, "transformed", run_id=RUN, business_day=DAY)
        run_dbt(["build", "--select", "marts", "restricted"], url, dbt_vars, settings)
        outcome["url"] = url
        yield outcome
    finally:
        monkey.undo()
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


RAW_TABLE = {
    "portal": "raw.portal_applications",
    "sbiz24": "raw.sbiz24_o2o_applications",
    "kakao": "raw.kakao_applications",
    "edu": "raw.edu_completions",
    "evaluation": "raw.evaluation_scores",
    "nts": "raw.nts_status_answers",
}


def raw_table(c: Case) -> str:
    return RAW_TABLE.get(c.source) or f"raw.{c.source}"


def test_the_corpus_has_at_least_40_distinct_inputs():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.expect for c in CASES} == {"quarantined", "refused", "verdict", "staged"}
    assert {c.source.split("_")[0] for c in CASES} >= {
        "portal",
        "sbiz24",
        "kakao",
        "edu",
        "evaluation",
        "reference",
        "nts",
    }


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_each_bad_input_has_its_outcome(corpus, c: Case):
    url = corpus["url"]
    table = raw_table(c)
    if c.expect == "quarantined":
        if c.record_hash is not None:
            raw_ids = [
                r[0]
                for r in query(url, f"select raw_id from {table} where record_hash = %s", (c.record_hash,))
            ]
        else:
            lines = [c.line_no, *c.extra.get("also_lines", [])]
            raw_ids = [
                r[0]
                for r in query(
                    url,
                    f"select raw_id from {table} where source_file = %s and line_no = any(%s) order by line_no",
                    (c.file, lines),
                )
            ]
            assert len(raw_ids) == len(lines), f"{c.file}: lines {lines} not landed"
        assert len(raw_ids) >= 1, f"{c.id}: not landed in {table}"
        held = query(
            url,
            "select raw_id, reason_code, field, value, reason_ko from quarantine.quarantined_rows"
            " where raw_table = %s and raw_id = any(%s) order by raw_id",
            (table, raw_ids),
        )
        assert [(r[0], r[1], r[2]) for r in held] == [(i, c.code, c.field) for i in sorted(raw_ids)]
        assert all(r[4] for r in held)  # a Korean reason for staff
        if "value" in c.extra:
            assert held[0][3] == c.extra["value"]
        if (
            c.file is not None
        ):  # exactly the bad lines are held; the valid ones that came with them are staged
            assert query(
                url,
                f"select count(*) from quarantine.quarantined_rows q join {table} r"
                " on r.raw_id = q.raw_id where q.raw_table = %s and r.source_file = %s",
                (table, c.file),
            ) == [(len(raw_ids),)]
    elif c.expect == "refused":
        if c.source == "nts":
            message = corpus["refused_nts"][c.id]
            assert re.search(c.code, message), message
            assert "batch of 2" in message  # names the call it refused
            return
        ledger = query(url, "select outcome, message from ops.load_ledger where source_file = %s", (c.file,))
        assert len(ledger) == 1 and ledger[0][0] == "refused", ledger
        assert ledger[0][1].startswith(f"{c.file}: ") and re.search(c.code, ledger[0][1]), ledger[0][1]
        assert query(url, f"select count(*) from {table} where source_file = %s", (c.file,)) == [(0,)]
    elif c.expect == "verdict":
        codes = [
            r[0]
            for r in query(
                url,
                "select reason_code from marts.fct_eligibility_check where application_id = %s"
                " and reason_code is not null",
                (c.application_id,),
            )
        ]
        assert c.code in codes, f"{c.application_id}: {codes}"
        assert query(
            url,
            "select count(*) from quarantine.quarantined_rows q join {} r on r.raw_id = q.raw_id"
            " where q.raw_table = %s and {}".format(
                table, "r.source_file = %s" if c.file else "r.application_id = %s"
            ),
            (table, c.file or c.application_id),
        ) == [(0,)]
    else:
        c.check(url, c)


def test_the_run_goes_on_and_every_load_reconciles(corpus):
    url = corpus["url"]
    landing, transformed = corpus["landing"], corpus["transformed"]
    assert landing.success, landing.failures
    assert query(url, "select count(*) from ops.rejected_loads") == [(0,)]  # no valid row held back
    enforce(transformed)
    reconciled = [v for v in transformed.validations if v.suite.endswith(".reconciliation")]
    assert len(reconciled) == 11 and all(v.success for v in reconciled)
    # quarantined rows are reported (warnings), never a failure
    warned = {w.split(":")[0] for w in transformed.warnings if "격리된 행이 없음" in w}
    assert warned >= {
        "staging.stg_portal__applications",
        "staging.base_sbiz24__o2o_application_rows",
        "staging.base_kakao__application_rows",
        "staging.base_edu__completion_rows",
        "staging.stg_evaluation__scores",
        "staging.stg_nts__status_answers",
    }
    # the gate counts per load; here the same statement row by row: every raw row of an accepted load
    # is staged once or quarantined, and nothing else is in either
    for table, model in load_suites().transformed.STAGED_FROM.items():
        landed = query(
            url,
            f"select raw_id from {table} where load_id not in (select load_id from ops.rejected_loads)",
        )
        staged = query(url, f"select raw_id from {model}")
        held = query(url, "select raw_id from quarantine.quarantined_rows where raw_table = %s", (table,))
        assert landed, table
        assert Counter(r[0] for r in staged + held) == Counter(r[0] for r in landed), table
    # SQL in text fields stays text
    assert query(url, "select to_regclass('raw.portal_applications') is not null") == [(True,)]


def test_loads_with_a_nul_did_not_fail(corpus):
    """jsonb cannot hold NUL: the loader stores U+FFFD instead and the load succeeds."""
    url = corpus["url"]
    assert query(url, "select count(*) from ops.load_ledger where outcome = 'failed'") == [(0,)]
    stored = query(
        url,
        "select record -> 'business' ->> 'name' from raw.portal_applications where application_id = %s",
        (pid(4),),
    )
    assert stored == [("한빛\ufffd식품",)]


def test_a_person_releases_or_dismisses_a_quarantined_row(corpus, tmp_path):
    """Runs last (it changes the corpus database): a releasable row is staged after a release, a dismissed
    row stays listed but is no longer reported, and a row that needs a corrected delivery cannot be
    released."""
    from panro.quarantine import decide, open_rows

    url = corpus["url"]

    def raw_id_of(case_id: str) -> int:
        c = next(c for c in CASES if c.id == case_id)
        return query(
            url, "select raw_id from raw.portal_applications where record_hash = %s", (c.record_hash,)
        )[0][0]

    bell, missing = raw_id_of("portal_bell_in_product"), raw_id_of("portal_updated_at_missing")
    listed = {(r["raw_table"], r["raw_id"]): r for r in open_rows(url, limit=500)}
    assert listed[("raw.portal_applications", bell)]["is_releasable"]
    with pytest.raises(ValueError, match="held for UPDATED_AT_UNREADABLE, which cannot be released"):
        decide(url, "raw.portal_applications", missing, "release", decided_by="김담당", reason="looks fine")
    with pytest.raises(ValueError, match="needs who decides and why"):
        decide(url, "raw.portal_applications", bell, "release", decided_by="김담당", reason=" ")
    decide(
        url,
        "raw.portal_applications",
        bell,
        "release",
        decided_by="김담당",
        reason="벨 문자만 있음, 상품명 확인",
    )
    decide(
        url,
        "raw.portal_applications",
        missing,
        "dismiss",
        decided_by="김담당",
        reason="포털이 수정본을 다시 보냄",
    )

    settings = dataclasses.replace(load_settings(), state_dir=tmp_path / "state")
    run_dbt(
        ["build", "--select", "staging", "quarantine"],
        url,
        {"round_date": DAY.isoformat(), "run_id": "r2"},
        settings,
    )
    assert query(url, "select count(*) from staging.stg_portal__applications where raw_id = %s", (bell,)) == [
        (1,)
    ]
    assert query(
        url,
        "select count(*) from quarantine.quarantined_rows where raw_id = %s"
        " and raw_table = 'raw.portal_applications'",
        (bell,),
    ) == [(0,)]
    assert query(
        url,
        "select is_dismissed, decided_by from quarantine.quarantined_rows where raw_id = %s"
        " and raw_table = 'raw.portal_applications'",
        (missing,),
    ) == [(True, "김담당")]
    assert ("raw.portal_applications", missing) not in {
        (r["raw_table"], r["raw_id"]) for r in open_rows(url, 500)
    }
    # the load still reconciles: the released row is staged, the dismissed one still counted as held
    transformed = load_suites().transformed
    for load_id, raw_rows, staged, held, open_held, _, both in query(
        url, transformed.reconciliation_query("raw.portal_applications")
    ):
        assert raw_rows == staged + held and open_held <= held and both == 0, load_id
