"""The daily selection extract for programme staff (선정 결과 일일 추출).

For a business day D, per sub-programme with decisions made on D: one XLSX (Korean headers, frozen
header row, fitted widths) and one CSV (UTF-8 with BOM, so Excel reads the Hangul), plus a manifest with
file names, row counts, SHA-256 and the run that made the decisions, in ``<outbox>/<D>/``.

Everything written is a function of the decision ledger only: a rerun of D rewrites the same bytes
(no clock in the files: the XLSX timestamps are pinned to D).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import unicodedata
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from panro.warehouse import connect

DECISION_KO = {"selected": "선정", "waitlisted": "예비(대기)", "not_selected": "미선정", "withdrawn": "포기"}

# (column in the query, header staff read)
COLUMNS = [
    ("application_id", "접수번호"),
    ("program_code", "세부사업코드"),
    ("program_name_ko", "세부사업명"),
    ("track_code", "트랙"),
    ("decision_ko", "결정"),
    ("rank", "순위"),
    ("total_score", "총점"),
    ("committee_score", "평가위원 평균점수"),
    ("bonus_points", "가점"),
    ("cut_line", "선정 기준점수"),
    ("reason_ko", "사유"),
    ("gov_support_krw", "정부지원금(원)"),
    ("self_pay_krw", "자부담금(원)"),
    ("business_name", "상호"),
    ("representative_name", "대표자명"),
    ("brn", "사업자등록번호"),
    ("phone", "연락처"),
    ("email", "이메일"),
    ("sido", "시도"),
    ("round_date", "결정일"),
]

QUERY = """
select d.application_id, d.program_code, p.name_ko as program_name_ko, coalesce(d.track_code, '') as track_code,
       d.decision, d.rank, d.total_score, s.committee_score, s.bonus_points, d.cut_line,
       d.gov_support_krw, d.self_pay_krw, c.business_name, c.representative_name, c.brn, c.phone, c.email,
       c.sido, d.round_date, d.decided_in_run
  from marts.fct_allocation_decision d
  join (select program_code, program_name_ko as name_ko from marts.dim_program where is_programme_level) p
    using (program_code)
  left join marts.fct_score s using (application_id)
  left join restricted.applicant_contacts c using (application_id)
 where d.round_date = %s
 order by d.program_code,
          case d.decision when 'selected' then 1 when 'waitlisted' then 2 when 'not_selected' then 3 else 4 end,
          d.rank, d.application_id
"""


def _reason_ko(row: dict, min_score: int) -> str:
    decision = row["decision"]
    if decision == "selected":
        return "정원 내 순위"
    if decision == "waitlisted":
        return "정원 초과: 예비 순번 대기"
    if decision == "not_selected":
        return f"최저 점수({min_score}점) 미달"
    return "선정 후 포기"


def _cell(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return "" if value is None else value


def _display_width(value) -> int:
    text = str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _safe_name(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z가-힣_-]+", "_", text).strip("_")


def _pin_zip(data: bytes, day: date) -> bytes:
    """Rewrite an XLSX (a zip) with every timestamp pinned to ``day``, so equal content = equal bytes."""
    stamp = f"{day.isoformat()}T00:00:00Z"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                    rb"\g<1>" + stamp.encode() + rb"\2",
                    body,
                )
            pinned = zipfile.ZipInfo(info.filename, date_time=(day.year, day.month, day.day, 0, 0, 0))
            pinned.compress_type = zipfile.ZIP_DEFLATED
            pinned.external_attr = 0o600 << 16
            dst.writestr(pinned, body)
    return out.getvalue()


def render_xlsx(rows: list[list], headers: list[str], day: date, sheet_title: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_title[:31]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    ws.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        width = max([_display_width(header)] + [_display_width(r[index - 1]) for r in rows])
        ws.column_dimensions[ws.cell(row=1, column=index).column_letter].width = min(width + 2, 60)
    wb.properties.creator = "panro"
    buffer = io.BytesIO()
    wb.save(buffer)
    return _pin_zip(buffer.getvalue(), day)


def render_csv(rows: list[list], headers: list[str]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_daily_extract(url: str, outbox: Path, day: date, *, min_score: int = 60) -> dict | None:
    """Write the extract of ``day``. Returns the manifest, or None when no decision was made that day."""
    with connect(url) as conn:
        cur = conn.execute(QUERY, (day,))
        names = [c.name for c in cur.description]
        records = [dict(zip(names, r)) for r in cur.fetchall()]
    if not records:
        return None
    folder = outbox / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    headers = [h for _, h in COLUMNS]
    by_program: dict[str, list[dict]] = {}
    for record in records:
        record["decision_ko"] = DECISION_KO.get(record["decision"], record["decision"])
        record["reason_ko"] = _reason_ko(record, min_score)
        by_program.setdefault(record["program_code"], []).append(record)
    files = []
    for program_code, program_rows in sorted(by_program.items()):
        rows = [[_cell(r[key]) for key, _ in COLUMNS] for r in program_rows]
        stem = f"{day:%Y%m%d}_{_safe_name(program_code)}_{_safe_name(program_rows[0]['program_name_ko'])}_선정결과"
        for suffix, data in (
            (".xlsx", render_xlsx(rows, headers, day, f"{program_code} 선정결과")),
            (".csv", render_csv(rows, headers)),
        ):
            _write_atomic(folder / (stem + suffix), data)
            counts = {k: sum(1 for r in program_rows if r["decision"] == k) for k in DECISION_KO}
            files.append(
                {
                    "file": stem + suffix,
                    "program_code": program_code,
                    "rows": len(rows),
                    "decisions": {k: v for k, v in counts.items() if v},
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
    manifest = {
        "business_day": day.isoformat(),
        "decided_in_runs": sorted({r["decided_in_run"] for r in records}),
        "files": files,
    }
    _write_atomic(
        folder / "manifest.json",
        (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8"),
    )
    return manifest
