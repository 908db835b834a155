"""The daily selection extract as staff open it: the file formats (Korean headers, frozen header, fitted
widths, UTF-8 BOM, fixed bytes), and the extract of a real decision ledger with withdrawals and
promotions, written after each round of real dbt on a real PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import date

import test_allocation_invariants as allocation
from openpyxl import load_workbook

from panro.extract import render_csv, render_xlsx, write_daily_extract

# The allocation tests' warehouse (one database, seeds, dbt in-process), a fixture of this module too.
rounds = allocation.rounds

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


# --- the daily extract of a real ledger, day by day ---------------------------------------------------


def _sheet(data: bytes) -> list[list]:
    return [[c.value for c in row] for row in load_workbook(io.BytesIO(data)).active.iter_rows()]


def test_the_daily_extract_shows_withdrawals_and_promotions_as_staff_open_it(rounds, tmp_path):
    """allocation.PROMOTION_SCENARIO decided by real dbt rounds; each day's extract is written after the round,
    written again after a rerun of the round (same bytes), and read back the way staff open it."""
    outbox = tmp_path / "outbox"
    written: dict[date, dict] = {}

    def extract(day: date) -> None:
        rounds.dbt("run", "--select", "dim_program applicant_contacts", day=day)
        written[day] = write_daily_extract(rounds.url, outbox, day)
        folder = outbox / day.isoformat()
        first = {p.name: p.read_bytes() for p in folder.iterdir()}
        rounds.rerun(day, f"extract-rerun-{day}")
        assert write_daily_extract(rounds.url, outbox, day) == written[day]
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == first

    allocation.replay(rounds, allocation.PROMOTION_SCENARIO, after_round=extract)
    days = [allocation.day_of(i) for i in range(allocation.PROMOTION_SCENARIO.days)]
    assert sorted(p.name for p in outbox.iterdir()) == [d.isoformat() for d in days]

    # day 1: only the sub-programmes with news (2-8: a withdrawal and a promotion; 2-5: a wait)
    folder = outbox / days[1].isoformat()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == written[days[1]]
    assert manifest["business_day"] == "2024-03-05" and manifest["decided_in_runs"] == ["run-1"]
    assert manifest["allocation_seeds"] == [allocation.SEED]  # published with the decisions
    assert {(f["program_code"], f["file"][-4:]) for f in manifest["files"]} == {
        ("2-5", "xlsx"),
        ("2-5", ".csv"),
        ("2-8", "xlsx"),
        ("2-8", ".csv"),
    }
    for entry in manifest["files"]:
        data = (folder / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["file"].startswith("20240305_" + entry["program_code"] + "_")
    expo = next(f for f in manifest["files"] if f["program_code"] == "2-8" and f["file"].endswith(".xlsx"))
    assert expo["rows"] == 2 and expo["events"] == {"promoted": 1, "withdrawn_selected": 1}

    workbook = load_workbook(io.BytesIO((folder / expo["file"]).read_bytes()))
    ws = workbook.active
    assert ws.title == "2-8 선정결과" and ws.freeze_panes == "A2"
    table = _sheet((folder / expo["file"]).read_bytes())
    header = table[0]
    assert header[:8] == [
        "접수번호",
        "세부사업코드",
        "세부사업명",
        "트랙",
        "결정",
        "사유",
        "순위",
        "예비 순번",
    ]
    col = {name: header.index(name) for name in header}
    promoted, withdrawn = table[1], table[2]
    assert promoted[col["결정"]] == "추가선정(예비 승계)"
    assert promoted[col["사유"]] == "선정 포기로 생긴 자리: 예비 순번 승계"
    assert promoted[col["순위"]] == 3 and promoted[col["정부지원금(원)"]] == 914285
    assert withdrawn[col["접수번호"]] == "H0000" and withdrawn[col["결정"]] == "선정 포기(철회)"
    assert withdrawn[col["사유"]] == "선정 후 신청 철회: 정원에 자리 반환"
    assert withdrawn[col["정부지원금(원)"]] in ("", None)
    assert withdrawn[col["세부사업명"]] == "O2O·융합 판매 기획전" and withdrawn[col["결정일"]] == "2024-03-05"
    assert withdrawn[col["사업자등록번호"]].count("-") == 2  # as staff type it: 000-00-00000
    # fitted widths: the Korean reason column is wider than the id column
    assert ws.column_dimensions["F"].width > ws.column_dimensions["A"].width >= len("H0000")
    # the CSV holds the same rows, for Excel: BOM, CRLF
    csv_bytes = (folder / expo["file"].replace(".xlsx", ".csv")).read_bytes()
    assert csv_bytes.startswith(b"\xef\xbb\xbf") and b"\r\n" in csv_bytes
    rows = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
    assert rows[0] == header and [r[0] for r in rows[1:]] == [promoted[0], "H0000"]

    # day 0: the waiting list in order with its positions; the one under the minimum says so
    folder = outbox / days[0].isoformat()
    first_day = {f["program_code"]: f for f in written[days[0]]["files"] if f["file"].endswith(".xlsx")}
    assert set(first_day) == {"2-4", "2-5", "2-8"}
    table = _sheet((folder / first_day["2-8"]["file"]).read_bytes())
    assert [(r[col["결정"]], r[col["예비 순번"]]) for r in table[1:]] == [
        ("선정", None),
        ("선정", None),
        ("예비(대기)", 1),
        ("예비(대기)", 2),
    ]
    table = _sheet((folder / first_day["2-4"]["file"]).read_bytes())
    assert [(r[col["접수번호"]], r[col["결정"]], r[col["사유"]]) for r in table[1:]] == [
        ("H0004", "선정", "정원 내 순위"),
        ("H0006", "예비(대기)", "사업 예산 소진: 예비 순번 대기"),
        ("H0007", "예비(대기)", "정원 초과: 예비 순번 대기"),
        ("H0008", "미선정", "최저 점수(60점) 미달"),
    ]

    # day 2: 2-4's selection withdrawn, its waiting list promoted; 2-5's participation wait ends
    labels = {
        f["program_code"]: [
            (r[col["접수번호"]], r[col["결정"]])
            for r in _sheet((outbox / days[2].isoformat() / f["file"]).read_bytes())[1:]
        ]
        for f in written[days[2]]["files"]
        if f["file"].endswith(".xlsx")
    }
    assert labels == {
        "2-4": [("H0006", "추가선정(예비 승계)"), ("H0004", "선정 포기(철회)")],
        "2-5": [("H0005", "추가선정(예비 승계)")],
    }
