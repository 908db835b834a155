"""Load the selection committee's score files (sources.md §6) from the drop folder into raw.

A file is loaded once (processed-file ledger keyed by name and SHA-256). A file that cannot be read
(bad encoding, wrong header, truncated) is refused whole, with the file and the problem in the load
ledger, and the other files still load.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from pathlib import Path

from panro.loaders.raw import LoadResult, copy_evaluation_rows, ledger_finish, ledger_start, new_load_id
from panro.warehouse import connect, ensure_schema

log = logging.getLogger(__name__)

SOURCE = "evaluation"
HEADER = [
    "application_id",
    "round_id",
    "reviewer_id",
    "criterion",
    "score",
    "max_score",
    "conflict_of_interest",
    "scored_at",
]


class RefusedFile(ValueError):
    """The file as a whole cannot be read; the message names the problem."""


def read_score_file(data: bytes, name: str) -> list[dict]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RefusedFile(
            f"{name}: not UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 2]!r})"
        ) from exc
    if not text.strip():
        raise RefusedFile(f"{name}: empty file")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if [h.strip() for h in header] != HEADER:
        raise RefusedFile(f"{name}: header is {header}, expected {HEADER}")
    rows = []
    for line_no, values in enumerate(reader, start=2):
        if not values:
            continue
        if len(values) != len(HEADER):
            raise RefusedFile(
                f"{name}: line {line_no} has {len(values)} fields, expected {len(HEADER)} (truncated file?)"
            )
        rows.append(dict(zip(HEADER, values)))
    if not text.endswith("\n"):
        raise RefusedFile(f"{name}: does not end with a newline (truncated file?)")
    return rows


def ingest_evaluation(url: str, drop_dir: Path, run_id: str | None) -> list[LoadResult]:
    ensure_schema(url)
    folder = drop_dir / SOURCE
    results: list[LoadResult] = []
    for path in sorted(folder.glob("scores_*.csv")) if folder.is_dir() else []:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        with connect(url) as conn:
            seen = conn.execute(
                "select 1 from ops.processed_files where source = %s and file_name = %s and sha256 = %s",
                (SOURCE, path.name, digest),
            ).fetchone()
        if seen:
            continue
        result = LoadResult(new_load_id(SOURCE), SOURCE, source_file=path.name, bytes_received=len(data))
        with connect(url) as conn:
            ledger_start(conn, result, run_id=run_id)
        try:
            rows = read_score_file(data, path.name)
            with connect(url) as conn:
                result.rows_received, result.rows_inserted = copy_evaluation_rows(
                    conn, result.load_id, path.name, digest, rows
                )
                conn.execute(
                    """insert into ops.processed_files (source, file_name, sha256, load_id, loaded_at)
                       values (%s, %s, %s, %s, now())""",
                    (SOURCE, path.name, digest, result.load_id),
                )
                result.outcome = "success"
                ledger_finish(conn, result)
        except RefusedFile as exc:
            result.outcome, result.message = "refused", str(exc)
            log.error("refused %s", exc)
            with connect(url) as conn:
                ledger_finish(conn, result)
        except Exception as exc:
            result.outcome, result.message = "failed", f"{type(exc).__name__}: {exc}"
            with connect(url) as conn:
                ledger_finish(conn, result)
            raise
        results.append(result)
    return results
