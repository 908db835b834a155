"""Quarantined raw rows (quarantine.quarantined_rows, built by dbt from macros/quarantine.sql): what
staff and engineers look at, and the decisions a person records about a row.

Raw is never changed. A row leaves quarantine by a corrected delivery (a new raw row that passes), by a
``release`` when its reason is releasable (the row is staged as it is from the next dbt build), or stays
out but is no longer reported after a ``dismiss``. Decisions are kept in ``ops.quarantine_decisions``
with who and why.
"""

from __future__ import annotations

from panro.warehouse import connect, ensure_schema

DECISIONS = ("release", "dismiss")


def open_rows(url: str, limit: int = 50) -> list[dict]:
    """The quarantined rows nobody dismissed, newest load first (no record content: see raw for that)."""
    with connect(url) as conn:
        if conn.execute("select to_regclass('quarantine.quarantined_rows')").fetchone()[0] is None:
            return []
        cur = conn.execute(
            """select raw_table, raw_id, load_id, received_in, line_no, reason_code, reason_ko, field, value,
                      is_releasable
                 from quarantine.quarantined_rows
                where not is_dismissed
                order by loaded_at desc, raw_table, raw_id
                limit %s""",
            (limit,),
        )
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def decide(url: str, raw_table: str, raw_id: int, decision: str, *, decided_by: str, reason: str) -> None:
    """Record ``release`` or ``dismiss`` for a quarantined row (as of the last dbt build). A release is
    refused when the row's reason cannot be released (the row needs a corrected delivery instead)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
    if not reason.strip() or not decided_by.strip():
        raise ValueError(f"a {decision} needs who decides and why")
    ensure_schema(url)
    with connect(url) as conn:
        row = conn.execute(
            """select reason_code, is_releasable from quarantine.quarantined_rows
                where raw_table = %s and raw_id = %s""",
            (raw_table, raw_id),
        ).fetchone()
        if row is None:
            raise ValueError(
                f"{raw_table} row {raw_id} is not in quarantine.quarantined_rows (not quarantined, or dbt"
                " has not been built since it landed)"
            )
        code, releasable = row
        if decision == "release" and not releasable:
            raise ValueError(
                f"{raw_table} row {raw_id} is held for {code}, which cannot be released as it is: ask the"
                " source for a corrected delivery, then dismiss this row"
            )
        conn.execute(
            """insert into ops.quarantine_decisions (raw_table, raw_id, decision, decided_by, reason)
               values (%s, %s, %s, %s, %s)
               on conflict (raw_table, raw_id) do update
                  set decision = excluded.decision, decided_by = excluded.decided_by,
                      reason = excluded.reason, decided_at = now()""",
            (raw_table, raw_id, decision, decided_by, reason),
        )
