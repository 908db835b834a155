"""Landing records in raw: PostgreSQL COPY into a temporary table, then one set-based insert that
keeps only what raw does not hold yet. Raw is append-only; a rerun adds nothing it already has.

The temporary tables type the record as jsonb, so the server parses each record while the COPY
streams (on its own core, as this process hashes the next ones) rather than in the final insert.

Also the load ledger: one row per load attempt with rows, bytes, duration and outcome.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg import sql

# One encoder for every record (json.dumps with these options would build a new one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def canonical_json(record: object) -> str:
    """One text per content: keys sorted, no whitespace, Hangul kept as is."""
    return _CANONICAL(record)


class UnstorableRecord(ValueError):
    """A record PostgreSQL cannot store: it holds a NUL character (``\\u0000``), which neither text nor
    jsonb accepts. The load fails, naming the record and the field; nothing is dropped silently."""


def record_text(record: object, where: str) -> str:
    """``canonical_json(record)``, refused with :class:`UnstorableRecord` when it holds a NUL.

    ``where`` names the record for the error (load, page or file line)."""
    text = canonical_json(record)
    if "\\u0000" in text:  # JSON escapes NUL; a literal backslash-u0000 in a value is not one
        field = _nul_field(record)
        if field is not None:
            raise UnstorableRecord(
                f"{where}: field {field!r} holds a NUL character (\\u0000), which PostgreSQL cannot store"
            )
    return text


def _nul_field(value: object, path: str = "") -> str | None:
    """The path (``business.brn``, ``items[2]``) of the first key or string holding a NUL."""
    if isinstance(value, str):
        return (path or "(the record)") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return inner
            found = _nul_field(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_field(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def copy_portal_versions(
    conn: psycopg.Connection, load_id: str, rows: Iterable[tuple[str, object]]
) -> tuple[int, int]:
    """Land ``(source_page, record)`` pairs. Returns (rows received, rows inserted)."""
    conn.execute(
        """create temporary table portal_incoming (
               source_page text, record_hash text, application_id text, updated_at_text text, record jsonb
           ) on commit drop"""
    )
    received = 0
    with conn.cursor().copy(
        "copy portal_incoming (source_page, record_hash, application_id, updated_at_text, record) from stdin"
    ) as copy:
        for source_page, record in rows:
            text = record_text(record, f"load {load_id}, record {received + 1} (page {source_page})")
            fields = record if isinstance(record, dict) else {}
            app_id, updated_at = fields.get("application_id"), fields.get("updated_at")
            copy.write_row(
                (
                    source_page,
                    sha256_text(text),
                    app_id if isinstance(app_id, str) else None,
                    updated_at if isinstance(updated_at, str) else None,
                    text,
                )
            )
            received += 1
    # distinct on: the same version twice in one batch (a record repeated across pages) lands once.
    inserted = conn.execute(
        """insert into raw.portal_applications
               (load_id, loaded_at, source_page, record_hash, application_id, updated_at_text, record)
           select %s, now(), source_page, record_hash, application_id, updated_at_text, record
             from (select distinct on (record_hash) * from portal_incoming order by record_hash, source_page) i
           on conflict (record_hash) do nothing""",
        (load_id,),
    ).rowcount
    return received, inserted


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
    schema, name = table.split(".")
    conn.execute(
        "create temporary table file_incoming (line_no integer, record_hash text, record jsonb) on commit drop"
    )
    received = 0
    with conn.cursor().copy("copy file_incoming (line_no, record_hash, record) from stdin") as copy:
        for line_no, row in rows:
            text = record_text(row, f"load {load_id}, {source_file} line {line_no}")
            copy.write_row((line_no, sha256_text(text), text))
            received += 1
    conflict = "(file_sha256, line_no)" if dedupe == "file_line" else "(record_hash)"
    # distinct on: with content de-duplication, a row repeated inside one file lands once too.
    incoming = (
        "file_incoming"
        if dedupe == "file_line"
        else "(select distinct on (record_hash) * from file_incoming order by record_hash, line_no) i"
    )
    inserted = conn.execute(
        sql.SQL(
            """insert into {}.{} (load_id, loaded_at, source_file, file_sha256, line_no, record_hash, record)
               select %s, now(), %s, %s, line_no, record_hash, record from """
            + incoming
            + " on conflict "
            + conflict
            + " do nothing"
        ).format(sql.Identifier(schema), sql.Identifier(name)),
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
            text = record_text(row, f"load {load_id}, answer for {row.get('b_no')!r}")
            copy.write_row((row.get("b_no"), sha256_text(text), text))
    return conn.execute(
        """insert into raw.nts_status_answers (load_id, loaded_at, asked_on, b_no, record_hash, record)
           select distinct on (b_no) %s, now(), %s, b_no, record_hash, record
             from nts_incoming where b_no is not null order by b_no
           on conflict (asked_on, b_no) do nothing""",
        (load_id, asked_on),
    ).rowcount
