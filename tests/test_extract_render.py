"""The extract's file formats as staff open them: Korean headers, frozen header, widths, BOM, fixed bytes."""

from __future__ import annotations

import io
import zipfile
from datetime import date

from openpyxl import load_workbook

from panro.extract import render_csv, render_xlsx

HEADERS = ["접수번호", "상호", "결정", "순위"]
ROWS = [
    ["FF24-0000001", "한빛식품", "선정", 1],
    ["FF24-0000002", "바다상회 주식회사 전주지점", "예비(대기)", 2],
]


def test_xlsx_opens_as_staff_see_it():
    data = render_xlsx(ROWS, HEADERS, date(2024, 3, 8), "P-1 선정결과")
    ws = load_workbook(io.BytesIO(data)).active
    assert ws.title == "P-1 선정결과"
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.freeze_panes == "A2"
    assert ws["B3"].value == "바다상회 주식회사 전주지점"
    assert ws["D2"].value == 1
    # fitted: the Hangul column is wider than the id column, each at least its longest text
    assert ws.column_dimensions["B"].width >= 2 * len("바다상회 주식회사 전주지점") - 4
    assert ws.column_dimensions["B"].width > ws.column_dimensions["A"].width >= len("FF24-0000001")
    assert ws["A1"].font.bold


def test_xlsx_bytes_depend_only_on_content_and_day():
    first = render_xlsx(ROWS, HEADERS, date(2024, 3, 8), "s")
    assert render_xlsx(ROWS, HEADERS, date(2024, 3, 8), "s") == first
    assert render_xlsx(ROWS, HEADERS, date(2024, 3, 9), "s") != first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        core = archive.read("docProps/core.xml").decode()
        assert "2024-03-08T00:00:00Z" in core
        assert {info.date_time for info in archive.infolist()} == {(2024, 3, 8, 0, 0, 0)}


def test_csv_is_utf8_with_bom_and_crlf_for_excel():
    data = render_csv(ROWS, HEADERS)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "접수번호,상호,결정,순위"
    assert text.count("\r\n") == 3
