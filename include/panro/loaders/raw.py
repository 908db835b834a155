"""Landing records in raw: PostgreSQL COPY into a temporary table, then one set-based insert that
keeps only what raw does not hold yet. Raw is append-only; a rerun adds nothing it already has. A portal
window after every window asked before cannot hold a version raw has: it is copied straight into raw
(``copy_new_portal_versions``), and landed the general way only if that turns out wrong.

The temporary tables type the record as jsonb, so the server parses each record while the COPY
streams (on its own core, as this process hashes the next ones) rather than in the final insert.

Also the load ledger: one row per load attempt with rows, bytes, duration and outcome.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from panro.jsoncodec import canonical_json

log = logging.getLogger(__name__)

# PostgreSQL text and jsonb cannot hold U+0000; the loaders store it as U+FFFD instead (see storable).
NUL, NUL_STAND_IN = "\x00", "\ufffd"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def storable(record: object, where: str) -> tuple[object, str, str]:
    """``(record, record_hash, canonical JSON)`` to store: the hash is of the record as received, the
    record and its text are what PostgreSQL can hold, every U+0000 (NUL) in a key or a string value
    replaced by U+FFFD. jsonb cannot hold NUL, so one such record would fail the whole load; the row
    lands instead, staging quarantines it (CONTROL_CHARACTER) and the log names ``where`` and the
    field. A record without NUL is stored as is."""
    text = canonical_json(record)
    record_hash = sha256_text(text)
    if "\\u0000" not in text:  # json.dumps writes NUL as \u0000
        return record, record_hash, text
    fields: list[str] = []

    def clean(value: object, path: str) -> object:
        if isinstance(value, str):
            if NUL in value:
                fields.append(path or "(value)")
            return value.replace(NUL, NUL_STAND_IN)
        if isinstance(value, dict):
            return {clean(k, path): clean(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    cleaned = clean(record, "")
    if not fields:  # a literal backslash-u0000 typed as text, not a NUL
        return record, record_hash, text
    log.warning(
        "%s: NUL (U+0000) in %s stored as U+FFFD (PostgreSQL cannot hold NUL); quarantined as CONTROL_CHARACTER",
        where,
        ", ".join(sorted(set(fields))[:5]),
    )
    return cleaned, record_hash, canonical_json(cleaned)


def new_load_id(source: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{source}-{stamp}-{uuid.uuid4().hex[:8]}"


@dataclass
class LoadResult:
    load_id: str
    source: str
    outcome: str = "running"
    rows_received: int = 0
    rows_inserted: int = 0
    bytes_received: int = 0
    duration_s: float = 0.0
    message: str | None = None
    source_file: str | None = None
    started: float = field(default_factory=time.monotonic, repr=False)


def ledger_start(
    conn: psycopg.Connection,
    result: LoadResult,
    *,
    run_id: str | None,
    interval: tuple[datetime, datetime] | None = None,
    requested: tuple[datetime, datetime] | None = None,
) -> None:
    conn.execute(
        """insert into ops.load_ledger (load_id, source, run_id, interval_start, interval_end,
               requested_from, requested_to, source_file, started_at, outcome)
           values (%s, %s, %s, %s, %s, %s, %s, %s, now(), 'running')""",
        (
            result.load_id,
            result.source,
            run_id,
            *(interval or (None, None)),
            *(requested or (None, None)),
            result.source_file,
        ),
    )


def ledger_finish(conn: psycopg.Connection, result: LoadResult) -> None:
    result.duration_s = round(time.monotonic() - result.started, 3)
    conn.execute(
        """update ops.load_ledger
              set finished_at = now(), rows_received = %s, rows_inserted = %s, bytes_received = %s,
                  duration_s = %s, outcome = %s, message = %s
            where load_id = %s""",
        (
            result.rows_received,
            result.rows_inserted,
            result.bytes_received,
            result.duration_s,
            result.outcome,
            result.message,
            result.load_id,
        ),
    )


def _portal_rows(rows: Iterable[tuple[str, object]], counts: list[int]) -> Iterator[tuple]:
    """``(source_page, record_hash, application_id, updated_at_text, record text)`` of each version
    received, once: the same version twice in one load (a record repeated across pages while the
    portal changed under the client) lands at its first arrival. ``counts`` counts what came and what
    was yielded."""
    seen: set[str] = set()
    for source_page, item in rows:
        label = item.get("application_id") if isinstance(item, dict) else None
        record, record_hash, text = storable(item, f"portal {source_page} record {label or counts[0] + 1}")
        counts[0] += 1
        if record_hash in seen:
            continue
        seen.add(record_hash)
        counts[1] += 1
        fields = record if isinstance(record, dict) else {}
        app_id, updated_at = fields.get("application_id"), fields.get("updated_at")
        yield (
            source_page,
            record_hash,
            app_id if isinstance(app_id, str) else None,
            updated_at if isinstance(updated_at, str) else None,
            text,
        )


def copy_portal_versions(
    conn: psycopg.Connection, load_id: str, rows: Iterable[tuple[str, object]]
) -> tuple[int, int]:
    """Land ``(source_page, record)`` pairs, skipping versions raw holds. Returns (rows received, rows
    inserted)."""
    conn.execute(
        """create temporary table portal_incoming (
               seq bigint, source_page text, record_hash text, application_id text, updated_at_text text,
               record jsonb
           ) on commit drop"""
    )
    counts = [0, 0]
    with conn.cursor().copy(
        "copy portal_incoming (seq, source_page, record_hash, application_id, updated_at_text, record) from stdin"
    ) as copy:
        for seq, row in enumerate(_portal_rows(rows, counts)):
            copy.write_row((seq, *row))
    # raw_id follows arrival order (of two versions with the same updated_at, the later received is the
    # later landed, which staging takes as current)
    inserted = conn.execute(
        """insert into raw.portal_applications
               (load_id, loaded_at, source_page, record_hash, application_id, updated_at_text, record)
           select %s, now(), source_page, record_hash, application_id, updated_at_text, record
             from portal_incoming order by seq
           on conflict (record_hash) do nothing""",
        (load_id,),
    ).rowcount
    return counts[0], inserted


def copy_new_portal_versions(
    conn: psycopg.Connection, load_id: str, rows: Iterable[tuple[str, object]]
) -> tuple[int, int] | None:
    """``copy_portal_versions`` for versions raw cannot hold yet (a window after every window asked
    before): ``COPY`` straight into raw, which the server writes while this process reads the next
    pages, instead of a temporary table and a second pass. Returns (rows received, rows inserted), or
    None when raw did hold one of the versions: nothing of this call is kept then (a savepoint), and
    the caller lands the versions again with ``copy_portal_versions``."""
    # the first statement begins the load's transaction, so the block below is a savepoint in it
    loaded_at = conn.execute("select now()").fetchone()[0]
    counts = [0, 0]
    try:
        with (
            conn.transaction(),
            conn.cursor().copy(
                """copy raw.portal_applications
                       (load_id, loaded_at, source_page, record_hash, application_id, updated_at_text, record)
                   from stdin"""
            ) as copy,
        ):
            for row in _portal_rows(rows, counts):
                copy.write_row((load_id, loaded_at, *row))
    except psycopg.errors.UniqueViolation as exc:
        log.warning(
            "portal load %s: a version is already in raw (%s); landing it again",
            load_id,
            exc.diag.message_detail,
        )
        return None
    return counts[0], counts[1]


def copy_file_rows(
    conn: psycopg.Connection,
    table: str,
    load_id: str,
    source_file: str,
    file_sha256: str,
    rows: Iterable[tuple[int, dict]],
    dedupe: str = "file_line",
) -> tuple[int, int]:
    """Land the ``(line_no, row)`` pairs of one file into ``table`` (a raw file-row table).

    ``dedupe="file_line"`` keeps every line of every file (a re-load of the same file adds nothing);
    ``"content"`` keeps one row per distinct row content (for snapshots that repeat rows)."""
    target = sql.Identifier(*table.split("."))
    received = 0
    if (
        dedupe == "file_line"
        and not conn.execute(
            sql.SQL("select exists (select from {} where file_sha256 = %s)").format(target), (file_sha256,)
        ).fetchone()[0]
    ):
        # Raw holds no line of this file (the usual case: a file is read once, in one transaction): the
        # lines go straight in, without a second write and read through the temporary table.
        loaded_at = conn.execute("select now()").fetchone()[0]
        with conn.cursor().copy(
            sql.SQL(
                "copy {} (load_id, loaded_at, source_file, file_sha256, line_no, record_hash, record) from stdin"
            ).format(target)
        ) as copy:
            for line_no, row in rows:
                _, record_hash, text = storable(row, f"{source_file} line {line_no}")
                copy.write_row((load_id, loaded_at, source_file, file_sha256, line_no, record_hash, text))
                received += 1
        return received, received
    conn.execute(
        "create temporary table file_incoming (line_no integer, record_hash text, record jsonb) on commit drop"
    )
    with conn.cursor().copy("copy file_incoming (line_no, record_hash, record) from stdin") as copy:
        for line_no, row in rows:
            _, record_hash, text = storable(row, f"{source_file} line {line_no}")
            copy.write_row((line_no, record_hash, text))
            received += 1
    conflict = "(file_sha256, line_no)" if dedupe == "file_line" else "(record_hash)"
    # distinct on: with content de-duplication, a row repeated inside one file lands once too.
    # raw_id follows the lines of the file
    incoming = (
        "file_incoming order by line_no"
        if dedupe == "file_line"
        else "(select distinct on (record_hash) * from file_incoming order by record_hash, line_no) i order by line_no"
    )
    inserted = conn.execute(
        sql.SQL(
            """insert into {} (load_id, loaded_at, source_file, file_sha256, line_no, record_hash, record)
               select %s, now(), %s, %s, line_no, record_hash, record from """
            + incoming
            + " on conflict "
            + conflict
            + " do nothing"
        ).format(target),
        (load_id, source_file, file_sha256),
    ).rowcount
    return received, inserted


def copy_nts_answers(conn: psycopg.Connection, load_id: str, asked_on, rows: Iterable[dict]) -> int:
    """Keep one tax-office answer per number and day; returns how many were new.

    Called once per API call, each committed on its own: the temporary table lives as long as the
    connection (emptied at each commit), and the commit does not wait for the WAL flush. A crash may
    lose the last calls' answers, which the rerun asks again (it asks for what has no answer)."""
    conn.execute(
        "create temporary table if not exists nts_incoming (b_no text, record_hash text, record jsonb)"
        " on commit delete rows"
    )
    conn.execute("set local synchronous_commit = off")
    with conn.cursor().copy("copy nts_incoming (b_no, record_hash, record) from stdin") as copy:
        for row in rows:
            row, record_hash, text = storable(row, f"load {load_id}, answer for {row.get('b_no')!r}")
            copy.write_row((row.get("b_no"), record_hash, text))
    return conn.execute(
        """insert into raw.nts_status_answers (load_id, loaded_at, asked_on, b_no, record_hash, record)
           select distinct on (b_no) %s, now(), %s, b_no, record_hash, record
             from nts_incoming where b_no is not null order by b_no
           on conflict (asked_on, b_no) do nothing""",
        (load_id, asked_on),
    ).rowcount
