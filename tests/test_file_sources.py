"""Readers of the partner files: what the contract says is read; what cannot be read is refused whole,
with the file and the problem named."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import Workbook

from panro.connectors.files import RefusedFile, blank_repeated_lines
from panro.ingest.files import KAKAO_HEADER, SBIZ24_HEADER, SOURCES

SBIZ24_ROW = "O2O24-0000001,120-81-47521,한빛식품,김하늘,56111,서울특별시,마포구,배달의민족,2024-03-04 10:15:00,접수,2,120000000,010-1234-5678"


def sbiz24(lines: list[str], encoding: str = "cp949") -> bytes:
    return ("\r\n".join([SBIZ24_HEADER, *lines]) + "\r\n").encode(encoding)


def test_sbiz24_cp949_with_crlf_is_read_with_korean_keys():
    rows = list(SOURCES["sbiz24"].read(sbiz24([SBIZ24_ROW, SBIZ24_ROW]), "o2o_20240304.csv"))
    assert [line for line, _ in rows] == [2, 3]
    assert rows[0][1]["상호명"] == "한빛식품" and rows[0][1]["처리상태"] == "접수"


@pytest.mark.parametrize(
    "data, problem",
    [
        (sbiz24([SBIZ24_ROW], "utf-8"), "UTF-8, the contract says CP949"),
        (sbiz24([SBIZ24_ROW])[:-30], "truncated"),
        (sbiz24([SBIZ24_ROW]).replace("상호명".encode("cp949"), "상호".encode("cp949")), "header"),
        (b"", "empty"),
        (b"\xff\xfe\x00\x00junk\r\n", "not CP949"),
        (sbiz24(["O2O24-1,1208147521"]), "line 2 has 2 fields"),
    ],
)
def test_sbiz24_files_that_cannot_be_read_are_refused(data, problem):
    with pytest.raises(RefusedFile, match=problem) as info:
        list(SOURCES["sbiz24"].read(data, "o2o_20240305.csv"))
    assert "o2o_20240305.csv" in str(info.value)


def workbook(title_rows: int = 2, sheet: str = "신청목록") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for n in range(title_rows):
        ws.append([f"2024년 3월 소담스퀘어 성수 신청 현황 {n}"])
        ws.merge_cells(start_row=n + 1, start_column=1, end_row=n + 1, end_column=8)
    ws.append(KAKAO_HEADER.split(","))
    ws.append(
        [
            datetime(2024, 3, 5, 14, 20),
            " 120-81-47521 ",
            "한빛식품",
            "김하늘",
            "010-1234-5678",
            "서울",
            "라이브",
            "Y",
        ]
    )
    ws.append(
        [
            "2024.03.06 09:00",
            "1208147521",
            "바다상회",
            "이바다",
            "010-2222-3333",
            "부산",
            "상세페이지",
            "동의",
        ]
    )
    ws.append([None] * 8)  # the blank trailing row staff leave
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("title_rows", [0, 1, 2])
def test_kakao_workbooks_are_read_under_merged_title_rows(title_rows):
    rows = SOURCES["kakao"].read(workbook(title_rows), "seoul_seongsu_20240310.xlsx")
    assert len(rows) == 2
    (line1, first), (_, second) = rows
    assert line1 == title_rows + 2
    assert first["신청일시"] == "2024-03-05T14:20:00"  # a date cell, as ISO text
    assert second["신청일시"] == "2024.03.06 09:00"  # typed text, as typed
    assert first["사업자등록번호"] == " 120-81-47521 "  # raw keeps the stray spaces; staging trims


@pytest.mark.parametrize(
    "data, problem",
    [
        (workbook()[:-200], "not a readable XLSX"),
        (workbook(sheet="Sheet1"), "no sheet '신청목록'"),
        (b"", "empty"),
        (b"PK\x03\x04garbage", "not a readable XLSX"),
    ],
)
def test_kakao_workbooks_that_cannot_be_read_are_refused(data, problem):
    with pytest.raises(RefusedFile, match=problem) as info:
        SOURCES["kakao"].read(data, "busan_20240310.xlsx")
    assert "busan_20240310.xlsx" in str(info.value)


def test_kakao_workbook_without_the_header_is_refused():
    wb = Workbook()
    wb.active.title = "신청목록"
    wb.active.append(["신청일시", "사업자번호"])
    buffer = io.BytesIO()
    wb.save(buffer)
    with pytest.raises(RefusedFile, match="no header row") as info:
        SOURCES["kakao"].read(buffer.getvalue(), "daegu_20240310.xlsx")
    assert "not a readable" not in str(info.value)  # a header problem is not called a broken file


def test_reference_lists_read_as_utf8_csv():
    data = "brn,checked_on,national_tax_arrears,local_tax_arrears,financial_default\n1208147521,2024-03-01,N,N,Y\n"
    rows = list(SOURCES["reference_credit_checks"].read(data.encode(), "credit_checks_20240304.csv"))
    assert rows == [
        (
            2,
            {
                "brn": "1208147521",
                "checked_on": "2024-03-01",
                "national_tax_arrears": "N",
                "local_tax_arrears": "N",
                "financial_default": "Y",
            },
        )
    ]
    assert SOURCES["reference_credit_checks"].dedupe == "content"


VIOLATIONS_HEADER = "brn,decided_on,case_no,violation_type"


def violations(*lines: str, end: str = "\n") -> bytes:
    return end.join([VIOLATIONS_HEADER, *lines, ""]).encode()


def test_a_snapshot_is_read_without_the_lines_of_the_last_one_at_their_own_line_numbers():
    old, new = "1208147521,2023-03-10,2023-001,unfair", "1168200276,2024-03-04,2024-017,unfair"
    quoted = '1168200276,2024-03-05,"2024-018, 2024-019",unfair'
    yesterday = violations(old, quoted, "", ",,,")
    today = violations(new, old, "", ",,,", quoted, new)
    blanked, repeated = blank_repeated_lines(today, yesterday)
    assert repeated == 2  # the blank and comma-only lines are no records, so not counted
    rows = list(
        SOURCES["reference_fair_trade_violations"].read(blanked, "fair_trade_violations_20240305.csv")
    )
    assert [(line, row["case_no"]) for line, row in rows] == [(2, "2024-017"), (7, "2024-017")]
    assert blank_repeated_lines(today, violations()) == (today, 0)


@pytest.mark.parametrize(
    "yesterday, today",
    [
        # a line break inside a quoted field: yesterday's second physical line is part of a record,
        # and the same text on its own line today is a new record
        (
            violations('1208147521,2023-03-10,"2023-001', '1168200276,2024-03-04,2024-017,unfair",unfair'),
            violations("1168200276,2024-03-04,2024-017,unfair"),
        ),
        (
            violations("1168200276,2024-03-04,2024-017,unfair"),
            violations('1208147521,2023-03-10,"2023-001', '1168200276,2024-03-04,2024-017,unfair",unfair'),
        ),
        # a bare carriage return ends a line for the CSV reader, not for the comparison
        (
            violations("1168200276,2024-03-04,2024-017,unfair", end="\r"),
            violations("1168200276,2024-03-04,2024-017,unfair"),
        ),
    ],
)
def test_a_snapshot_whose_records_may_span_lines_is_read_whole(yesterday, today):
    assert blank_repeated_lines(today, yesterday) == (today, 0)
