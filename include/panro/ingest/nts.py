"""국세청 business status -> raw.nts_status_answers, one business day at a time.

The API answers the status *now*; the warehouse keeps each day's answers so the status on an
application deadline can be read later. The job asks only for the BRNs it needs: the well-formed
BRNs of every application channel landed in raw that have no answer for the day yet, 100 a call.
Each call's answers are committed as they arrive, so a load killed half way resumes where it
stopped: its rerun asks only for the rest.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone

from panro.connectors.nts import NtsClient
from panro.loaders.raw import (
    LoadResult,
    canonical_json,
    copy_nts_answers,
    ledger_finish,
    ledger_start,
    new_load_id,
)
from panro.warehouse import connect, ensure_schema

log = logging.getLogger(__name__)

SOURCE = "nts"
KST = timezone(timedelta(hours=9))

# Every channel's BRN known by the end of the day, normalised to its digits; well-formed = 10 digits
# (the check digit is judged later). "Known by the day" is business time (the version's updated_at, the
# file's date), not load time, so a rerun or backfill of a day asks for exactly what that day asked.
NEEDED_BRNS = """
with seen as (
    select regexp_replace(record -> 'business' ->> 'brn', '[^0-9]', '', 'g') as b_no
      from raw.portal_applications
     where updated_at_text ~ '^\\d{4}-\\d{2}-\\d{2}T' and updated_at_text::timestamptz < %(day_end)s
    union
    select regexp_replace(record ->> '사업자등록번호', '[^0-9]', '', 'g')
      from raw.sbiz24_o2o_applications
     where substring(source_file from '(\\d{8})\\.csv$') <= %(day_key)s
    union
    select regexp_replace(record ->> '사업자등록번호', '[^0-9]', '', 'g')
      from raw.kakao_applications
     where substring(source_file from '(\\d{8})\\.xlsx$') <= %(day_key)s
)
select b_no from seen
 where length(b_no) = 10
   and not exists (select 1 from raw.nts_status_answers a where a.asked_on = %(day)s and a.b_no = seen.b_no)
 order by b_no
"""


def needed_brns(url: str, day: date) -> list[str]:
    day_end = datetime.combine(day + timedelta(days=1), time.min, KST)
    params = {"day": day, "day_end": day_end, "day_key": day.strftime("%Y%m%d")}
    with connect(url) as conn:
        return [b for (b,) in conn.execute(NEEDED_BRNS, params)]


def ingest_nts(url: str, client: NtsClient, day: date, run_id: str | None) -> LoadResult:
    ensure_schema(url)
    result = LoadResult(new_load_id(SOURCE), SOURCE, source_file=f"status@{day.isoformat()}")
    with connect(url) as conn:
        ledger_start(conn, result, run_id=run_id)
    try:
        brns = needed_brns(url, day)
        for _batch, answer in client.status(brns):
            rows = answer.get("data", [])
            result.rows_received += len(rows)
            result.bytes_received += len(canonical_json(answer).encode())
            with connect(url) as conn:
                result.rows_inserted += copy_nts_answers(conn, result.load_id, day, rows)
        result.outcome = "success"
        result.message = f"{len(brns)} numbers asked"
        with connect(url) as conn:
            ledger_finish(conn, result)
    except Exception as exc:
        result.outcome, result.message = "failed", f"{type(exc).__name__}: {exc}"
        with connect(url) as conn:
            ledger_finish(conn, result)
        raise
    log.info("nts %s: %d numbers asked, %d answers kept", day, len(brns), result.rows_inserted)
    return result
