"""Incremental load of the 판판대로 portal into raw.portal_applications.

The request window is ``[min(watermark, interval start), interval end)``: a normal daily run continues
from the persisted watermark (and so also closes any gap left by a missed day), while a rerun or
backfill of an earlier interval asks for that interval again. Raw keeps one row per distinct version
(record hash), so asking twice adds nothing. Pages, raw rows, watermark and ledger are committed in
one transaction: a load killed half way leaves no trace but its ledger row, and its rerun is complete.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from panro.connectors.http import read_ahead
from panro.connectors.portal import PortalClient
from panro.loaders.raw import (
    LoadResult,
    copy_new_portal_versions,
    copy_portal_versions,
    ledger_finish,
    ledger_start,
    new_load_id,
)
from panro.warehouse import connect, ensure_schema

log = logging.getLogger(__name__)

SOURCE = "portal"


def _request_window(
    url: str, interval_start: datetime, interval_end: datetime
) -> tuple[datetime, datetime, bool]:
    """``(since, until, forward)``: forward when the window starts at or after the watermark, so that
    no version in it can have been asked for before (or nothing was ever asked)."""
    with connect(url) as conn:
        row = conn.execute("select watermark from ops.watermarks where source = %s", (SOURCE,)).fetchone()
    since = min(row[0], interval_start) if row else interval_start
    return since, interval_end, row is None or since >= row[0]


def ingest_portal(
    url: str, client: PortalClient, interval_start: datetime, interval_end: datetime, run_id: str | None
) -> LoadResult:
    if interval_end <= interval_start:
        raise ValueError(f"empty interval: {interval_start.isoformat()} .. {interval_end.isoformat()}")
    ensure_schema(url)
    since, until, forward = _request_window(url, interval_start, interval_end)
    result = LoadResult(new_load_id(SOURCE), SOURCE)
    with connect(url) as conn:
        ledger_start(
            conn, result, run_id=run_id, interval=(interval_start, interval_end), requested=(since, until)
        )

    def versions() -> Iterator[tuple[str, object]]:
        result.bytes_received = 0
        for page in read_ahead(client.pages(since, until)):
            result.bytes_received += page.size_bytes
            for item in page.items:
                yield page.label, item

    try:
        with connect(url) as conn:
            # A forward window holds no version asked for before (sources.md: the windows do not
            # overlap), so it is copied straight into raw; if the portal did send one again, it is
            # asked again and landed the general way, which skips what raw holds.
            landed = copy_new_portal_versions(conn, result.load_id, versions()) if forward else None
            if landed is None:
                landed = copy_portal_versions(conn, result.load_id, versions())
            result.rows_received, result.rows_inserted = landed
            conn.execute(
                """insert into ops.watermarks (source, watermark, updated_at) values (%s, %s, now())
                   on conflict (source) do update
                      set watermark = greatest(ops.watermarks.watermark, excluded.watermark),
                          updated_at = excluded.updated_at""",
                (SOURCE, until),
            )
            result.outcome = "success"
            ledger_finish(conn, result)
    except Exception as exc:
        result.outcome, result.message = "failed", f"{type(exc).__name__}: {exc}"
        with connect(url) as conn:
            ledger_finish(conn, result)
        raise
    log.info(
        "portal %s..%s: %d received, %d new, %d bytes in %.2fs",
        since.isoformat(),
        until.isoformat(),
        result.rows_received,
        result.rows_inserted,
        result.bytes_received,
        result.duration_s,
    )
    return result
