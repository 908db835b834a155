"""Ingest jobs against a real PostgreSQL and the simulated portal: append-only, rerunnable, ledgered."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

import panro.ingest.files
from panro.connectors.files import RefusedFile
from panro.connectors.portal import PortalClient, PortalError
from panro.ingest.files import SOURCES, ingest_files, last_snapshot
from panro.ingest.portal import ingest_portal
from panro.jsoncodec import canonical_json
from panro.loaders.raw import sha256_text
from panro.servers.portal import PortalServer, PortalState
from panro.warehouse import ensure_schema

KST = timezone(timedelta(hours=9))
D1 = datetime(2024, 3, 4, tzinfo=KST)
D2, D3 = D1 + timedelta(days=1), D1 + timedelta(days=2)


def version(app: int, at: datetime, status: str = "submitted") -> dict:
    return {
        "application_id": f"FF24-{app:07d}",
        "updated_at": at.isoformat(),
        "status": status,
        "business": {"name": "한빛식품", "brn": "120-81-47521"},
    }


RECORDS = (
    [version(i, D1 + timedelta(minutes=10 * i)) for i in range(1, 31)]
    + [version(5, D2 + timedelta(hours=3), "withdrawn")]
    + [version(i, D2 + timedelta(minutes=5 * i)) for i in range(31, 41)]
)


@pytest.fixture()
def portal():
    with PortalServer(PortalState(RECORDS + [RECORDS[3]], token="tk")) as server:  # one version served twice
        yield server


def raw_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from raw.portal_applications").fetchone()[0]


def test_daily_loads_are_complete_and_reruns_add_nothing(fresh_db, portal):
    client = PortalClient(portal.base_url, "tk", page_size=4)
    first = ingest_portal(fresh_db, client, D1, D2, "run-1")
    assert (first.rows_received, first.rows_inserted) == (31, 30)  # the repeated version lands once
    second = ingest_portal(fresh_db, client, D2, D3, "run-2")
    assert second.rows_inserted == 11
    assert raw_count(fresh_db) == 41
    # rerun / backfill of day 1 after day 2: asks for day 1 again, lands nothing new
    again = ingest_portal(fresh_db, client, D1, D2, "run-1-rerun")
    assert (again.rows_received, again.rows_inserted) == (31, 0)
    assert raw_count(fresh_db) == 41
    with psycopg.connect(fresh_db) as conn:
        watermark = conn.execute("select watermark from ops.watermarks where source = 'portal'").fetchone()[0]
        ledger = conn.execute(
            "select outcome, rows_received, rows_inserted, bytes_received > 0, duration_s >= 0"
            " from ops.load_ledger where source = 'portal' order by started_at"
        ).fetchall()
        stored = conn.execute(
            "select record->'business'->>'name' from raw.portal_applications where application_id = 'FF24-0000001'"
        ).fetchone()[0]
    assert watermark == D3
    assert ledger == [
        ("success", 31, 30, True, True),
        ("success", 11, 11, True, True),
        ("success", 31, 0, True, True),
    ]
    assert stored == "한빛식품"


def test_a_missed_day_is_caught_up_from_the_watermark(fresh_db, portal):
    client = PortalClient(portal.base_url, "tk")
    ingest_portal(fresh_db, client, D1 - timedelta(days=1), D1, "run-0")  # watermark = D1
    result = ingest_portal(fresh_db, client, D2, D3, "run-2")  # day D1 was never run
    assert result.rows_inserted == 41


def test_a_failed_load_leaves_nothing_but_its_ledger_row_and_its_rerun_is_complete(fresh_db, portal):
    bad = PortalClient(portal.base_url, "wrong-token")
    with pytest.raises(PortalError):
        ingest_portal(fresh_db, bad, D1, D2, "run-1")
    assert raw_count(fresh_db) == 0
    with psycopg.connect(fresh_db) as conn:
        outcome, message = conn.execute("select outcome, message from ops.load_ledger").fetchone()
        assert conn.execute("select count(*) from ops.watermarks").fetchone()[0] == 0
    assert outcome == "failed" and "401" in message
    assert ingest_portal(fresh_db, PortalClient(portal.base_url, "tk"), D1, D2, "run-1b").rows_inserted == 30


def test_a_forward_load_that_meets_versions_raw_holds_lands_each_once(fresh_db, portal, caplog):
    client = PortalClient(portal.base_url, "tk", page_size=4)
    ingest_portal(fresh_db, client, D1, D2, "run-1")
    # the watermark set back (an ops table restored from an older backup): the next window is asked
    # as a forward one, but its first 30 versions are in raw already
    with psycopg.connect(fresh_db) as conn:
        conn.execute("update ops.watermarks set watermark = %s where source = 'portal'", (D1,))
    with caplog.at_level(logging.WARNING, logger="panro.loaders.raw"):
        result = ingest_portal(fresh_db, client, D1, D3, "run-2")
    assert "a version is already in raw" in caplog.text
    assert (result.rows_received, result.rows_inserted) == (42, 11)
    assert raw_count(fresh_db) == 41
    with psycopg.connect(fresh_db) as conn:
        ledger = conn.execute(
            "select rows_received, rows_inserted, bytes_received from ops.load_ledger where load_id = %s",
            (result.load_id,),
        ).fetchone()
    assert ledger == (42, 11, result.bytes_received) and 0 < result.bytes_received < 2 * 42 * 200


def test_versions_land_byte_for_byte_in_the_order_received(fresh_db):
    odd = [
        {**version(1, D1), "business": {"name": "a\\b\tc\nd\re \\N", "brn": None}},
        {**version(2, D1), "application_id": "FF24-\t0000002\\"},
        version(3, D1),
    ]
    with PortalServer(PortalState(odd, token="tk")) as server:
        result = ingest_portal(fresh_db, PortalClient(server.base_url, "tk", page_size=2), D1, D2, "run-1")
    assert result.rows_inserted == 3
    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute(
            "select application_id, updated_at_text, record, record_hash from raw.portal_applications"
            " order by raw_id"
        ).fetchall()
    # the portal's order: (updated_at, application_id); raw_id follows it
    served = sorted(odd, key=lambda v: (v["updated_at"], v["application_id"]))
    assert [r[2] for r in rows] == served
    assert [(r[0], r[1]) for r in rows] == [(v["application_id"], v["updated_at"]) for v in served]
    assert [r[3] for r in rows] == [sha256_text(canonical_json(v)) for v in served]


HEADER = "application_id,round_id,reviewer_id,criterion,score,max_score,conflict_of_interest,scored_at".split(
    ","
)


def ingest_evaluation(url, drop_dir, run_id):
    return ingest_files(url, SOURCES["evaluation"], drop_dir, run_id)


def score_csv(rows: list[list[str]]) -> bytes:
    return ("\n".join([",".join(HEADER)] + [",".join(r) for r in rows]) + "\n").encode()


ROW = ["FF24-0000001", "20240308-2-5", "R001", "product", "33", "40", "N", "2024-03-08T10:00:00+09:00"]


def test_score_files_load_once_and_bad_files_are_refused_whole(fresh_db, tmp_path):
    folder = tmp_path / "evaluation"
    folder.mkdir()
    (folder / "scores_20240308-2-5.csv").write_bytes(score_csv([ROW, ROW[:2] + ["R002"] + ROW[3:]]))
    (folder / "scores_20240308-1-3.csv").write_bytes(b"application_id;round_id\n")
    (folder / "scores_20240308-1-4.csv").write_bytes(score_csv([ROW])[:-20])
    results = {r.source_file: r for r in ingest_evaluation(fresh_db, tmp_path, "run-1")}
    assert results["scores_20240308-2-5.csv"].outcome == "success"
    assert results["scores_20240308-2-5.csv"].rows_inserted == 2
    assert results["scores_20240308-1-3.csv"].outcome == "refused"
    assert "header" in results["scores_20240308-1-3.csv"].message
    assert results["scores_20240308-1-4.csv"].outcome == "refused"
    assert "scores_20240308-1-4.csv" in results["scores_20240308-1-4.csv"].message
    # no file is read twice: the good one is loaded, the same bytes would be refused again
    assert ingest_evaluation(fresh_db, tmp_path, "run-2") == []
    # a corrected re-delivery under the same name is a new file
    (folder / "scores_20240308-1-3.csv").write_bytes(score_csv([ROW]))
    assert [r.outcome for r in ingest_evaluation(fresh_db, tmp_path, "run-3")] == ["success"]
    # the same bytes sent again under another name: read, and no line lands twice
    (folder / "scores_20240308-2-5-resent.csv").write_bytes((folder / "scores_20240308-2-5.csv").read_bytes())
    [resent] = ingest_evaluation(fresh_db, tmp_path, "run-4")
    assert (resent.outcome, resent.rows_received, resent.rows_inserted) == ("success", 2, 0)
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select count(*) from raw.evaluation_scores").fetchone()[0] == 3
        # raw_id follows the file's lines
        assert conn.execute(
            "select array_agg(line_no order by raw_id) from raw.evaluation_scores"
            " where source_file = 'scores_20240308-2-5.csv'"
        ).fetchone()[0] == [2, 3]
        messages = [
            m for (m,) in conn.execute("select message from ops.load_ledger where outcome = 'refused'")
        ]
    assert len(messages) == 2 and all(m.startswith("scores_") for m in messages)


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"", "empty"),
        ("application_id\n".encode("cp949"), "header"),
        ("접수".encode("cp949"), "UTF-8"),
        (score_csv([ROW[:5]]), "5 fields"),
    ],
)
def test_unreadable_score_files_name_the_problem(data, problem):
    with pytest.raises(RefusedFile, match=problem):
        list(SOURCES["evaluation"].read(data, "scores_x.csv"))  # rows are parsed as they are taken


@pytest.mark.parametrize("settled", [True, False], ids=["settled", "just-written"])
def test_files_read_before_are_read_again_only_when_written_to(fresh_db, tmp_path, monkeypatch, settled):
    # A drop folder keeps every file of the history (at L, 2,700 files and 900 MB); a day reads only
    # the new ones. "Settled": not written to for SETTLED_S (60 s; 0 here, as for a file of yesterday).
    if settled:
        monkeypatch.setattr(panro.ingest.files, "SETTLED_S", 0)
    folder = tmp_path / "evaluation"
    folder.mkdir()
    good = folder / "scores_20240308-2-5.csv"
    good.write_bytes(score_csv([ROW]))
    (folder / "scores_20240308-1-3.csv").write_bytes(b"application_id;round_id\n")
    assert [r.outcome for r in ingest_evaluation(fresh_db, tmp_path, "run-1")] == ["refused", "success"]
    with psycopg.connect(fresh_db) as conn:
        stats = [s for (s,) in conn.execute("select file_stat from ops.processed_files order by file_name")]
    assert all(stats) if settled else stats == [None, None]

    read: list[str] = []
    read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or read_bytes(self))
    assert ingest_evaluation(fresh_db, tmp_path, "run-2") == []
    # a file written just now may be written again within its clock's tick unseen: read each time
    assert read == ([] if settled else ["scores_20240308-1-3.csv", "scores_20240308-2-5.csv"])

    # a corrected re-delivery under the same name, of the same size, is read and loaded
    corrected = score_csv([ROW[:2] + ["R003"] + ROW[3:]])
    assert len(corrected) == good.stat().st_size
    good.write_bytes(corrected)
    [again] = ingest_evaluation(fresh_db, tmp_path, "run-3")
    assert (again.source_file, again.outcome, again.rows_inserted) == (good.name, "success", 1)
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute(
            "select array_agg(record ->> 'reviewer_id' order by raw_id) from raw.evaluation_scores"
        ).fetchone()[0] == ["R001", "R003"]


def test_a_warehouse_from_before_the_file_identity_gains_its_column(fresh_db):
    ensure_schema(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        conn.execute("alter table ops.processed_files drop column file_stat")
    ensure_schema(fresh_db)
    ensure_schema(fresh_db)  # and again: no error once it is there
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select file_stat from ops.processed_files").fetchall() == []


def test_a_file_refused_at_its_last_line_lands_none_of_the_lines_before(fresh_db, tmp_path):
    """CSV rows are parsed while they are copied: a defect found after thousands of good lines
    refuses the file whole, for a new file (copied straight into raw) as for a snapshot whose rows raw
    partly holds (copied through the temporary table)."""
    (tmp_path / "evaluation").mkdir()
    (tmp_path / "reference").mkdir()
    good = [ROW[:2] + [f"R{i:04d}"] + ROW[3:] for i in range(3000)]
    (tmp_path / "evaluation" / "scores_20240308-2-5.csv").write_bytes(score_csv([*good, ROW[:5]]))
    header = "brn,decided_on,case_no,violation_type\n"
    lines = [f"1208147521,2023-03-10,2023-{i:04d},unfair\n" for i in range(3000)]
    folder = tmp_path / "reference"
    (folder / "fair_trade_violations_20240304.csv").write_text(header + lines[0])
    (folder / "fair_trade_violations_20240305.csv").write_text(header + "".join(lines) + "1208147521,x\n")
    [scores] = ingest_evaluation(fresh_db, tmp_path, "run-1")
    first, second = ingest_files(fresh_db, SOURCES["reference_fair_trade_violations"], tmp_path, "run-1")
    assert (scores.outcome, scores.message) == (
        "refused",
        "scores_20240308-2-5.csv: line 3002 has 5 fields, expected 8",
    )
    assert (first.outcome, first.rows_inserted) == ("success", 1)
    assert (second.outcome, second.message) == (
        "refused",
        "fair_trade_violations_20240305.csv: line 3002 has 2 fields, expected 4",
    )
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select count(*) from raw.evaluation_scores").fetchone()[0] == 0
        assert conn.execute("select count(*) from raw.reference_fair_trade_violations").fetchone()[0] == 1
        assert conn.execute(
            "select file_name, load_id is not null from ops.processed_files order by file_name"
        ).fetchall() == [
            ("fair_trade_violations_20240304.csv", True),
            ("fair_trade_violations_20240305.csv", True),
            ("scores_20240308-2-5.csv", True),
        ]


def test_reference_snapshots_land_each_distinct_row_once(fresh_db, tmp_path):
    folder = tmp_path / "reference"
    folder.mkdir()
    header = "brn,decided_on,case_no,violation_type\n"
    day1 = header + "1208147521,2023-03-10,2023-001,unfair\n"
    day2 = day1 + "1168200276,2024-03-04,2024-017,unfair\n" + "1168200276,2024-03-04,2024-017,unfair\n"
    (folder / "fair_trade_violations_20240304.csv").write_text(day1)
    (folder / "fair_trade_violations_20240305.csv").write_text(day2)
    source = SOURCES["reference_fair_trade_violations"]
    results = ingest_files(fresh_db, source, tmp_path, "run-1")
    assert [(r.rows_received, r.rows_inserted) for r in results] == [(1, 1), (3, 1)]
    assert ingest_files(fresh_db, source, tmp_path, "run-2") == []  # both files already loaded
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select count(*) from raw.reference_fair_trade_violations").fetchone()[0] == 2


@pytest.mark.parametrize("previous_kept", [True, False], ids=["last-snapshot-kept", "last-snapshot-gone"])
def test_a_snapshot_lands_the_same_rows_whether_or_not_the_last_one_is_still_there(
    fresh_db, tmp_path, previous_kept
):
    """The lines of the last loaded snapshot are left out before parsing when that file is still in
    the drop folder; raw and the ledger end up as they do when the whole file is read."""
    folder = tmp_path / "reference"
    folder.mkdir()
    header = "brn,decided_on,case_no,violation_type\n"
    old = [f"1208147521,2023-03-10,2023-{i:03d},unfair\n" for i in range(5)]
    new = ["1168200276,2024-03-04,2024-017,unfair\n", "1168200276,2024-03-05,2024-018,unfair\n"]
    source = SOURCES["reference_fair_trade_violations"]
    (folder / "fair_trade_violations_20240304.csv").write_text(header + "".join(old[:4]))
    [first] = ingest_files(fresh_db, source, tmp_path, "run-1")
    if not previous_kept:
        (folder / "fair_trade_violations_20240304.csv").unlink()
    assert (last_snapshot(fresh_db, source, folder) is not None) == previous_kept
    # yesterday's rows again (one of them changed), today's in between, one of them twice
    today = [old[2], new[0], old[0], old[4], new[1], old[1], new[0], old[3].replace("unfair", "other")]
    (folder / "fair_trade_violations_20240305.csv").write_text(header + "".join(today))
    [second] = ingest_files(fresh_db, source, tmp_path, "run-2")
    assert (first.rows_received, first.rows_inserted) == (4, 4)
    assert (second.outcome, second.rows_received, second.rows_inserted) == ("success", 8, 4)
    with psycopg.connect(fresh_db) as conn:
        landed = conn.execute(
            """select line_no, record ->> 'case_no', record ->> 'violation_type'
                 from raw.reference_fair_trade_violations where load_id = %s order by raw_id""",
            (second.load_id,),
        ).fetchall()
        ledger = conn.execute(
            "select rows_received, rows_inserted from ops.load_ledger where load_id = %s", (second.load_id,)
        ).fetchone()
    # line 1 is the header
    assert landed == [
        (3, "2024-017", "unfair"),
        (5, "2023-004", "unfair"),
        (6, "2024-018", "unfair"),
        (9, "2023-003", "other"),
    ]
    assert ledger == (8, 4)


def test_a_bad_partner_file_is_refused_and_the_others_load(fresh_db, tmp_path):
    folder = tmp_path / "sbiz24"
    folder.mkdir()
    header = "접수번호,사업자등록번호,상호명,대표자명,업종코드,시도,시군구,신청플랫폼,신청일시,처리상태,상시근로자수,연매출액,연락처"
    row = "O2O24-0000001,120-81-47521,한빛식품,김하늘,56111,서울특별시,마포구,배달의민족,2024-03-04 10:15:00,접수,2,120000000,010-1234-5678"
    (folder / "o2o_20240304.csv").write_bytes(f"{header}\r\n{row}\r\n{row}\r\n".encode("cp949"))
    (folder / "o2o_20240305.csv").write_bytes(f"{header}\r\n{row}\r\n".encode())
    results = {r.source_file: r for r in ingest_files(fresh_db, SOURCES["sbiz24"], tmp_path, "run-1")}
    assert results["o2o_20240304.csv"].outcome == "success"
    assert (
        results["o2o_20240304.csv"].rows_inserted == 2
    )  # raw keeps the duplicated line; staging de-duplicates
    assert results["o2o_20240305.csv"].outcome == "refused"
    with psycopg.connect(fresh_db) as conn:
        message = conn.execute(
            "select message from ops.load_ledger where source = 'sbiz24' and outcome = 'refused'"
        ).fetchone()[0]
    assert message == "o2o_20240305.csv: the file is UTF-8, the contract says CP949"


def test_the_sources_report_names_refused_files(fresh_db, tmp_path):
    from panro.report import format_sources

    folder = tmp_path / "edu"
    folder.mkdir()
    (folder / "completions_20240304.csv").write_text("brn,learner_id\n")  # wrong header
    ingest_files(fresh_db, SOURCES["edu"], tmp_path, "run-1")
    report = format_sources(fresh_db)
    assert "edu" in report and "completions_20240304.csv: header is" in report
