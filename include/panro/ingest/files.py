"""Drop-folder sources: each new file is read, then landed in one transaction with COPY (CSV rows are
parsed as they are copied; a file refused half way rolls the transaction back).

A file is read once: the processed-file ledger keys it by name and SHA-256, whether it was loaded or
refused (the same bytes would be refused again; a corrected re-delivery under the same name is a new
file and is read). The ledger also keeps the file's identity on disk, so the files read on earlier
days are not read and hashed again each day (at L, 2,700 files and 900 MB a day). A file that cannot
be read is refused whole, its name and problem recorded in the load ledger, and the other files still
load. A load killed half way commits nothing, so its rerun lands every line exactly once.

A reference list arrives as a full snapshot each day, mostly yesterday's rows again. The lines that
repeat the last loaded snapshot byte for byte (still in the drop folder, same SHA-256) are left out
before parsing: raw holds them already. They still count as rows received.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from panro.connectors.files import RefusedFile, Row, blank_repeated_lines, read_csv, read_xlsx
from panro.loaders.raw import LoadResult, copy_file_rows, ledger_finish, ledger_start, new_load_id
from panro.warehouse import connect, ensure_schema

log = logging.getLogger(__name__)

# A file not written to for this long is judged by its identity on disk once read (settled_stat).
SETTLED_S = 60


@dataclass(frozen=True)
class FileSource:
    name: str  # ledger source name and drop sub-folder
    pattern: str  # file glob inside the sub-folder
    table: str  # raw table (schema-qualified)
    read: Callable[[bytes, str], Iterable[Row]]  # refuses the file: RefusedFile, when read or iterated
    # "file_line": every line of every file is a row; "content": one row per distinct row content
    # (daily snapshots that repeat yesterday's rows).
    dedupe: str = "file_line"


def _csv(header: str, encoding: str = "utf-8") -> Callable[[bytes, str], Iterable[Row]]:
    columns = header.split(",")
    return lambda data, name: read_csv(data, name, columns, encoding)


SBIZ24_HEADER = "접수번호,사업자등록번호,상호명,대표자명,업종코드,시도,시군구,신청플랫폼,신청일시,처리상태,상시근로자수,연매출액,연락처"
KAKAO_HEADER = "신청일시,사업자등록번호,상호,대표자명,연락처,지역,희망프로그램,개인정보동의"

SOURCES: dict[str, FileSource] = {
    source.name: source
    for source in [
        FileSource(
            "evaluation",
            "scores_*.csv",
            "raw.evaluation_scores",
            _csv(
                "application_id,round_id,reviewer_id,criterion,score,max_score,conflict_of_interest,scored_at"
            ),
        ),
        FileSource("sbiz24", "o2o_*.csv", "raw.sbiz24_o2o_applications", _csv(SBIZ24_HEADER, "cp949")),
        FileSource(
            "kakao",
            "*.xlsx",
            "raw.kakao_applications",
            lambda data, name: read_xlsx(data, name, "신청목록", KAKAO_HEADER.split(",")),
        ),
        FileSource(
            "edu",
            "completions_*.csv",
            "raw.edu_completions",
            _csv("brn,learner_id,course_type,course_code,course_name,completed_on"),
        ),
    ]
    + [
        FileSource(
            f"reference_{entity}", f"{entity}_*.csv", f"raw.reference_{entity}", _csv(header), "content"
        )
        for entity, header in {
            "credit_checks": "brn,checked_on,national_tax_arrears,local_tax_arrears,financial_default",
            "fair_trade_violations": "brn,decided_on,case_no,violation_type",
            "certifications": "brn,cert_type,cert_no,valid_from,valid_to",
            "mail_order_registry": "brn,registered_on,status",
            "onnuri_listings": "brn,listed_from,listed_to",
        }.items()
    ]
}


def source_folder(drop_dir: Path, source: FileSource) -> Path:
    # reference lists share one folder, as the partner sends them
    return drop_dir / ("reference" if source.name.startswith("reference_") else source.name)


def ingest_files(url: str, source: FileSource, drop_dir: Path, run_id: str | None) -> list[LoadResult]:
    """Load every file of ``source`` not loaded yet, oldest name first. Returns one result per file tried."""
    ensure_schema(url)
    folder = source_folder(drop_dir, source)
    results: list[LoadResult] = []
    with connect(url) as conn:
        processed = conn.execute(
            "select file_name, sha256, file_stat from ops.processed_files where source = %s", (source.name,)
        ).fetchall()
    seen = {(name, digest) for name, digest, _ in processed}
    unchanged = {(name, stat) for name, _, stat in processed if stat}
    for path in sorted(folder.glob(source.pattern)) if folder.is_dir() else []:
        stat = settled_stat(path)
        if stat is not None and (path.name, stat) in unchanged:
            continue  # the very file read before: not read and hashed again
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if stat != settled_stat(path):
            stat = None  # written to while being read: hashed again next time
        if (path.name, digest) in seen:
            if stat is not None:
                with connect(url) as conn:
                    conn.execute(
                        """update ops.processed_files set file_stat = %s
                            where source = %s and file_name = %s and sha256 = %s""",
                        (stat, source.name, path.name, digest),
                    )
            continue
        result = LoadResult(
            new_load_id(source.name), source.name, source_file=path.name, bytes_received=len(data)
        )
        with connect(url) as conn:
            ledger_start(conn, result, run_id=run_id)
        try:
            repeated = 0
            if source.dedupe == "content":
                data, repeated = _without_repeated_lines(url, source, folder, data)
            rows = source.read(data, path.name)
            with connect(url) as conn:
                received, result.rows_inserted = copy_file_rows(
                    conn, source.table, result.load_id, path.name, digest, rows, source.dedupe
                )
                result.rows_received = received + repeated
                _record_processed(conn, source, path.name, digest, result.load_id, stat)
                result.outcome = "success"
                ledger_finish(conn, result)
        except RefusedFile as exc:
            result.outcome, result.message = "refused", str(exc)
            log.error("refused %s", exc)
            with connect(url) as conn:
                _record_processed(conn, source, path.name, digest, result.load_id, stat)
                ledger_finish(conn, result)
        except Exception as exc:
            result.outcome, result.message = "failed", f"{type(exc).__name__}: {exc}"
            with connect(url) as conn:
                ledger_finish(conn, result)
            raise
        results.append(result)
    return results


def _record_processed(
    conn, source: FileSource, name: str, digest: str, load_id: str, stat: str | None
) -> None:
    """The processed-file ledger's row of a file read, loaded or refused: it is not read again."""
    conn.execute(
        """insert into ops.processed_files (source, file_name, sha256, load_id, loaded_at, file_stat)
           values (%s, %s, %s, %s, now(), %s)""",
        (source.name, name, digest, load_id, stat),
    )


def settled_stat(path: Path) -> str | None:
    """The file's identity on disk (device, inode, size, modification and change times), if it has not
    been written to for SETTLED_S: the same identity is the same bytes, so a file already read need
    not be read and hashed again (as git's index and rsync judge files). Any write or replacement
    changes the change time, which no program can set back. A file written to within SETTLED_S gives
    None (hashed every time) because a second write in the same tick of a coarse clock would keep its
    identity (git's "racily clean" files)."""
    st = path.stat()
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < SETTLED_S * 1_000_000_000:
        return None
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _without_repeated_lines(url: str, source: FileSource, folder: Path, data: bytes) -> tuple[bytes, int]:
    """A snapshot with the lines of the last loaded snapshot blanked (``blank_repeated_lines``), and
    how many; as it is when that file is no longer in the drop folder as it was loaded."""
    previous = last_snapshot(url, source, folder)
    return (data, 0) if previous is None else blank_repeated_lines(data, previous)


def last_snapshot(url: str, source: FileSource, folder: Path) -> bytes | None:
    """The bytes of the last snapshot of ``source`` that loaded, if the drop folder still holds that
    file unchanged: every line of it is in raw, so today's snapshot need only bring the other lines."""
    with connect(url) as conn:
        row = conn.execute(
            """select p.file_name, p.sha256
                 from ops.processed_files as p
                 join ops.load_ledger as l on l.load_id = p.load_id
                where p.source = %s and l.outcome = 'success'
                order by p.loaded_at desc, p.file_name desc
                limit 1""",
            (source.name,),
        ).fetchone()
    if row is None:
        return None
    try:
        data = (folder / row[0]).read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == row[1] else None
