"""The daily selection extract for programme staff (선정 결과 일일 추출).

For a business day D, per sub-programme with news on D: one XLSX (Korean headers, frozen header row,
fitted widths) and one CSV (UTF-8 with BOM, so Excel reads the Hangul) of the decision events of D's
round (selections, promotions from the waiting list, waiting list, not selected, withdrawals) with
Korean labels and reasons, plus a manifest with file names, row counts per kind of event, SHA-256, the
runs that made the decisions and the published tie-break seed they used, in ``<outbox>/<D>/``.

Everything written is a function of the ledger up to D and the marts as of D: a rerun of D rewrites the same bytes
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
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from panro.warehouse import connect

# What staff read for each kind of event of the decision ledger, in the order the files list them.
EVENT_KO = {
    "selected": "선정",
    "promoted": "추가선정(예비 승계)",
    "waitlisted": "예비(대기)",
    "not_selected": "미선정",
    "withdrawn_selected": "선정 포기(철회)",
    "withdrawn_waitlisted": "예비 포기(철회)",
}
REASON_KO = {
    "WITHIN_QUOTA": "정원 내 순위",
    "PROMOTED_FROM_WAITLIST": "선정 포기로 생긴 자리: 예비 순번 승계",
    "QUOTA_FULL": "정원 초과: 예비 순번 대기",
    "TRACK_QUOTA_FULL": "세부유형(트랙) 정원 초과: 예비 순번 대기",
    "BUDGET_EXHAUSTED": "사업 예산 소진: 예비 순번 대기",
    "PARTICIPATION_LIMIT": "중복참여 제한: 같은 사업자가 제한 대상 사업에 선정되어 있음 (대기)",
    "PARTICIPATION_PRIORITY": "중복참여 제한: 같은 사업자의 먼저 접수된 신청 우선 (대기)",
    "BELOW_MIN_SCORE": "최저 점수({min_score}점) 미달",
    "WITHDRAWN_AFTER_SELECTION": "선정 후 신청 철회: 정원에 자리 반환",
    "WITHDRAWN_FROM_WAITLIST": "예비 대기 중 신청 철회",
}

# (column in the query, header staff read)
COLUMNS = [
    ("application_id", "접수번호"),
    ("program_code", "세부사업코드"),
    ("program_name_ko", "세부사업명"),
    ("track_code", "트랙"),
    ("event_ko", "결정"),
    ("reason_ko", "사유"),
    ("rank", "순위"),
    ("waitlist_position", "예비 순번"),
    ("total_score", "총점"),
    ("committee_score", "평가위원 평균점수"),
    ("bonus_points", "가점"),
    ("cut_line", "선정 기준점수"),
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

# The events of the round day, with the waiting-list position as of the end of that day (from the
# ledger up to the day, never from later rounds, so a rerun of the day reads the same).
QUERY = """
with standing as (
    select distinct on (application_id) application_id, program_code, round_date, rank, decision
      from marts.fct_allocation_decision
     where round_date <= %(day)s
     order by application_id, event_seq desc
), waiting as (
    select application_id,
           row_number() over (partition by program_code order by round_date, rank, application_id) as position
      from standing
     where decision = 'waitlisted'
)
select d.application_id, d.program_code, p.name_ko as program_name_ko, coalesce(d.track_code, '') as track_code,
       d.decision, d.previous_decision, d.reason_code, d.rank, w.position as waitlist_position, d.total_score,
       s.committee_score, s.bonus_points, d.cut_line, d.gov_support_krw, d.self_pay_krw, d.min_score,
       c.business_name, c.representative_name, c.brn, c.phone, c.email, c.sido, d.round_date, d.decided_in_run,
       d.allocation_seed
  from marts.fct_allocation_decision d
  join (select program_code, program_name_ko as name_ko from marts.dim_program where is_programme_level) p
    using (program_code)
  left join waiting w using (application_id)
  left join marts.fct_score s using (application_id)
  left join restricted.applicant_contacts c using (application_id)
 where d.round_date = %(day)s
"""


def event_kind(record: dict) -> str:
    """The key of EVENT_KO: a ledger decision, with promotions and the two kinds of withdrawal apart."""
    decision, previous = record["decision"], record["previous_decision"]
    if decision == "selected" and previous == "waitlisted":
        return "promoted"
    if decision == "withdrawn":
        return f"withdrawn_{previous}"
    return decision


def _reason_ko(record: dict) -> str:
    text = REASON_KO.get(record["reason_code"], record["reason_code"] or "")
    return text.format(min_score=_cell(record["min_score"]))


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
    # Write-only: rows are streamed to the file instead of held as cell objects (a round of 280,000
    # decisions took 2.4 GB that way); widths and the frozen header are set before the first row.
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet_title[:31])
    ws.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        width = max([_display_width(header)] + [_display_width(r[index - 1]) for r in rows])
        ws.column_dimensions[get_column_letter(index)].width = min(width + 2, 60)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(ws, value=header)
        cell.font = Font(bold=True)
        header_cells.append(cell)
    ws.append(header_cells)
    for row in rows:
        ws.append(row)
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


def write_daily_extract(url: str, outbox: Path, day: date) -> dict | None:
    """Write the extract of ``day``. Returns the manifest, or None when the round of that day made no event."""
    with connect(url) as conn:
        cur = conn.execute(QUERY, {"day": day})
        names = [c.name for c in cur.description]
        records = [dict(zip(names, r)) for r in cur.fetchall()]
    if not records:
        return None
    folder = outbox / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    headers = [h for _, h in COLUMNS]
    order = list(EVENT_KO)
    by_program: dict[str, list[dict]] = {}
    for record in records:
        record["kind"] = event_kind(record)
        record["event_ko"] = EVENT_KO.get(record["kind"], record["decision"])
        record["reason_ko"] = _reason_ko(record)
        by_program.setdefault(record["program_code"], []).append(record)
    files = []
    for program_code, program_rows in sorted(by_program.items()):
        program_rows.sort(key=lambda r: (order.index(r["kind"]), r["rank"], r["application_id"]))
        rows = [[_cell(r[key]) for key, _ in COLUMNS] for r in program_rows]
        counts = {k: sum(1 for r in program_rows if r["kind"] == k) for k in order}
        stem = f"{day:%Y%m%d}_{_safe_name(program_code)}_{_safe_name(program_rows[0]['program_name_ko'])}_선정결과"
        for suffix, data in (
            (".xlsx", render_xlsx(rows, headers, day, f"{program_code} 선정결과")),
            (".csv", render_csv(rows, headers)),
        ):
            _write_atomic(folder / (stem + suffix), data)
            files.append(
                {
                    "file": stem + suffix,
                    "program_code": program_code,
                    "rows": len(rows),
                    "events": {k: v for k, v in counts.items() if v},
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
    manifest = {
        "business_day": day.isoformat(),
        "decided_in_runs": sorted({r["decided_in_run"] for r in records}),
        # the published seed of the ranking's last tie-break, so anyone can recompute the order
        "allocation_seeds": sorted({r["allocation_seed"] for r in records}),
        "files": files,
    }
    _write_atomic(
        folder / "manifest.json",
        (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8"),
    )
    return manifest
