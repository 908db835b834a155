"""국세청 business status -> raw.nts_status_answers, one business day at a time.

The API answers the status *now*; the warehouse keeps each day's answers so the status on an
application deadline can be read later. The job asks only for the BRNs it needs: the well-formed
BRNs whose status a decision may still read (see ``STATUS_REFRESH_DAYS``) and that have no answer for
the day yet, 100 a call.
Each call's answers are committed as they arrive, so a load killed half way resumes where it
stopped: its rerun asks only for the rest.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone

from psycopg import sql

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

# The status must be fresh whenever a round may decide on it (eligibility reads the latest answer on
# or before the round day). Asking every number ever landed, each day, would make the daily load grow
# with the history held (issue 7: at 200,000 applications, 2,000 calls a day mostly for the same
# answers), so a day asks for the numbers of:
#  - every channel's applications with a version or file dated within the last STATUS_REFRESH_DAYS
#    days (new and changed applications; supplements come within a week, rounds are weekly);
#  - applications still to be decided, from the warehouse as the last transform left it: waitlisted
#    ones (a promotion re-checks eligibility, weeks later) and, outside the ledger, every one not
#    withdrawn that is eligible (awaiting its committee score), under review, or not judged yet.
#    A selection is final as far as the status goes: the ledger ends one only by a withdrawal, which
#    comes from the portal. Incomplete ones (documents missing) change only with a new version or
#    file, which is in the window; ineligible ones too, except for a verdict changed by a reference
#    list alone (a credit check cleared weeks later), whose first round reads an older status.
# A warehouse that cannot tell what is undecided (no earlier answers, or no ledger or eligibility
# tables yet) asks for every number known by the day.
STATUS_REFRESH_DAYS = 14

# Every channel's BRN known by the end of the day and dated on or after the window's start,
# normalised to its digits; well-formed = 10 digits (the check digit is judged later). "Known by the
# day" is business time (the version's updated_at, the file's date), not load time, so a rerun or
# backfill of a day asks for what that day asked. The window is tested on the text columns first, so
# the JSON of older rows is never read.
RECENT_BRNS = """
    select regexp_replace(record -> 'business' ->> 'brn', '[^0-9]', '', 'g') as b_no
      from raw.portal_applications
     where updated_at_text ~ '^\\d{4}-\\d{2}-\\d{2}T'
       and updated_at_text::timestamptz < %(day_end)s
       and updated_at_text::timestamptz >= %(window_start)s
    union
    select regexp_replace(record ->> '사업자등록번호', '[^0-9]', '', 'g')
      from raw.sbiz24_o2o_applications
     where substring(source_file from '(\\d{8})\\.csv$') between %(window_key)s and %(day_key)s
    union
    select regexp_replace(record ->> '사업자등록번호', '[^0-9]', '', 'g')
      from raw.kakao_applications
     where substring(source_file from '(\\d{8})\\.xlsx$') between %(window_key)s and %(day_key)s
"""

# The applications still to be decided (see above), from the tables the transform builds.
UNDECIDED_TABLES = (
    "intermediate.int_applications_current",
    "marts.fct_allocation_current",
    "marts.fct_eligibility",
)
UNDECIDED_BRNS = """
    select regexp_replace(a.brn, '[^0-9]', '', 'g')
      from intermediate.int_applications_current as a
      left join marts.fct_allocation_current as l on l.application_id = a.application_id
      left join marts.fct_eligibility as e on e.application_id = a.application_id
     where a.brn is not null
       and not coalesce(a.is_withdrawn, false)
       and (l.current_decision = 'waitlisted'
            or (l.application_id is null and coalesce(e.verdict, '') not in ('ineligible', 'incomplete')))
"""

NEEDED_BRNS = """
with seen as ({seen})
select b_no from seen
 where length(b_no) = 10
   and not exists (select 1 from raw.nts_status_answers a where a.asked_on = %(day)s and a.b_no = seen.b_no)
 order by b_no
"""


def needed_brns(url: str, day: date) -> list[str]:
    day_end = datetime.combine(day + timedelta(days=1), time.min, KST)
    start = day - timedelta(days=STATUS_REFRESH_DAYS - 1)
    with connect(url) as conn:
        answered = conn.execute(
            "select exists (select 1 from raw.nts_status_answers where asked_on < %s)", (day,)
        ).fetchone()[0]
        built = all(
            conn.execute("select to_regclass(%s) is not null", (t,)).fetchone()[0] for t in UNDECIDED_TABLES
        )
        everything = not (answered and built)
        params = {
            "day": day,
            "day_end": day_end,
            "day_key": day.strftime("%Y%m%d"),
            "window_start": datetime(1900, 1, 1, tzinfo=KST)
            if everything
            else datetime.combine(start, time.min, KST),
            "window_key": "00000000" if everything else start.strftime("%Y%m%d"),
        }
        # constant SQL only: the undecided part joins tables that may not exist yet
        seen = sql.SQL(RECENT_BRNS if everything else RECENT_BRNS + "    union\n" + UNDECIDED_BRNS)
        return [b for (b,) in conn.execute(sql.SQL(NEEDED_BRNS).format(seen=seen), params)]


def ingest_nts(url: str, client: NtsClient, day: date, run_id: str | None) -> LoadResult:
    ensure_schema(url)
    result = LoadResult(new_load_id(SOURCE), SOURCE, source_file=f"status@{day.isoformat()}")
    with connect(url) as conn:
        ledger_start(conn, result, run_id=run_id)
    try:
        brns = needed_brns(url, day)
        with connect(url) as conn:  # one connection; each call's answers committed as they arrive
            for _batch, answer in client.status(brns):
                rows = answer.get("data", [])
                result.rows_received += len(rows)
                result.bytes_received += len(canonical_json(answer).encode())
                result.rows_inserted += copy_nts_answers(conn, result.load_id, day, rows)
                conn.commit()
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
