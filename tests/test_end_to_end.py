"""End to end: a small scenario replayed day by day through the real Airflow DAGs, real dbt and a real
PostgreSQL, against the simulated portal on loopback. Nothing of our own stack is mocked.

Replays days 1-2, skips 3-4 (the watermark must catch them up), replays 5-7, then reruns day 7 and
checks that nothing changes: raw, the decision ledger, the extract bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from openpyxl import load_workbook
from replayer import Replayer

from panro.brn import is_valid_brn
from panro.extract import EVENT_KO
from panro.simulate import simulate

pytestmark = pytest.mark.e2e

FIRST = date(2024, 3, 4)
MIX = {"P-1": 90, "2-8": 40, "1-3": 30, "2-1": 30}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory, pg_server):
    root = tmp_path_factory.mktemp("e2e")
    scenario = root / "scenario"
    simulate(scenario, seed=7, first_day=FIRST, days=7, mix=MIX, name="e2e")
    replayer = Replayer(pg_server, root, scenario, "e2e")
    try:
        replayer.replay(FIRST, FIRST + timedelta(days=1))
        replayer.replay(FIRST + timedelta(days=4), FIRST + timedelta(days=6))
        before = snapshot(replayer.url, replayer.settings.outbox_dir)
        replayer.replay(FIRST + timedelta(days=6), FIRST + timedelta(days=6))
        after = snapshot(replayer.url, replayer.settings.outbox_dir)
    finally:
        replayer.close()
    return {
        "url": replayer.url,
        "scenario": scenario,
        "settings": replayer.settings,
        "before": before,
        "after": after,
    }


def snapshot(url: str, outbox: Path) -> dict:
    with psycopg.connect(url) as conn:
        raw = conn.execute(
            "select count(*), md5(string_agg(record_hash, ',' order by record_hash)) from raw.portal_applications"
        ).fetchone()
        ledger = conn.execute(
            "select count(*), md5(string_agg(d::text, '|' order by application_id, event_seq)) from marts.fct_allocation_decision d"
        ).fetchone()
        marts = {
            table: conn.execute(
                f"select md5(string_agg(t::text, '|' order by t::text)) from marts.{table} t"
            ).fetchone()[0]
            for table in (
                "fct_application",
                "fct_eligibility",
                "fct_eligibility_check",
                "fct_score",
                "dim_program",
            )
        }
    files = {
        str(p.relative_to(outbox)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(outbox.rglob("*"))
        if p.is_file()
    }
    return {"raw": raw, "ledger": ledger, "marts": marts, "files": files}


def query(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def scenario_versions(scenario: Path) -> list[dict]:
    return [
        json.loads(line)
        for line in (scenario / "portal/applications.jsonl").read_text(encoding="utf-8").splitlines()
        if line
    ]


def test_raw_holds_every_distinct_version_once(replayed):
    versions = {json.dumps(v, sort_keys=True) for v in scenario_versions(replayed["scenario"])}
    count, _ = replayed["after"]["raw"]
    assert count == len(versions)  # days 3-4 caught up by the watermark; duplicate lines landed once
    ledger = query(
        replayed["url"], "select outcome, count(*) from ops.load_ledger where source = 'portal' group by 1"
    )
    assert ledger == [("success", 6)]


def test_every_application_is_judged(replayed):
    ids = {v["application_id"] for v in scenario_versions(replayed["scenario"])}
    rows = query(
        replayed["url"],
        "select a.application_id, e.verdict, a.channel from marts.fct_application a"
        " join marts.fct_eligibility e using (application_id)",
    )
    assert {r[0] for r in rows if r[2] == "portal"} == ids
    # the partner channels' applications are judged too (소상공인24 2-6, 소담스퀘어 3-2)
    assert {"portal", "sbiz24"} <= {r[2] for r in rows}


def truth(scenario: Path) -> list[dict]:
    lines = (scenario / "truth/defects.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def test_bad_check_digits_and_excluded_industries_are_caught(replayed):
    truth_rows = [t for t in truth(replayed["scenario"]) if t.get("source", "portal") == "portal"]
    bad_brn = {t["application_id"] for t in truth_rows if t["defect"] == "bad_brn_check_digit"}
    excluded = {t["application_id"] for t in truth_rows if t["defect"] == "excluded_industry"}
    assert bad_brn and excluded
    verdicts = dict(
        query(
            replayed["url"],
            "select application_id, reason_codes from marts.fct_eligibility"
            " join marts.fct_application using (application_id) where channel = 'portal'",
        )
    )
    for app in bad_brn:
        assert "BRN_INVALID" in verdicts[app], app
    for app in excluded:
        assert {"INDUSTRY_EXCLUDED", "INDUSTRY_PARTIAL_REVIEW"} & set(verdicts[app]), app
    flagged = {a for a, codes in verdicts.items() if "BRN_INVALID" in codes}
    assert flagged == bad_brn
    # the check digit the warehouse computed agrees with the package's
    for app, brn in query(
        replayed["url"],
        "select application_id, c.brn from restricted.applicant_contacts c"
        " join marts.fct_application using (application_id) where c.brn is not null and channel = 'portal'",
    ):
        assert is_valid_brn(brn) == (app not in bad_brn), app


def test_quotas_hold_and_p1_is_ranked_by_committee_score(replayed):
    url = replayed["url"]
    over = query(
        url,
        """select d.program_code, count(*) filter (where current_decision = 'selected'), p.program_quota
             from marts.fct_allocation_current d join marts.dim_program p on p.program_code = d.program_code and p.is_programme_level
            group by 1, 3 having count(*) filter (where current_decision = 'selected') > p.program_quota""",
    )
    assert over == []
    p1 = query(
        url,
        """select decision, rank, total_score, reason_code from marts.fct_allocation_decision
            where program_code = 'P-1' and event_seq = 1 order by rank""",
    )
    assert p1, "the P-1 committee round (day 7) decided nothing"
    selected = [r for r in p1 if r[0] == "selected"]
    assert 0 < len(selected) <= 50
    # selection follows the ranking: every selected scores at least every one waitlisted for want of a
    # place (a business's second P-1 application waits whatever its score: one selection a business),
    # ranks are 1..n
    waitlisted = [r for r in p1 if r[0] == "waitlisted" and not r[3].startswith("PARTICIPATION")]
    if waitlisted:
        assert min(r[2] for r in selected) >= max(r[2] for r in waitlisted)
    assert [r[1] for r in p1] == list(range(1, len(p1) + 1))
    assert all(r[2] >= 60 for r in selected)
    assert all(r[2] < 60 for r in p1 if r[0] == "not_selected")


def test_first_come_programme_is_decided_every_day_in_arrival_order(replayed):
    rows = query(
        replayed["url"],
        """select d.round_date, d.rank, a.submitted_at from marts.fct_allocation_decision d
             join marts.fct_application a using (application_id) where d.program_code = '2-8' order by d.round_date, d.rank""",
    )
    assert len({r[0] for r in rows}) >= 4  # days 1, 2, the catch-up day 5 and after
    for day in {r[0] for r in rows}:
        arrivals = [r[2] for r in rows if r[0] == day]
        assert arrivals == sorted(arrivals)


def test_rerunning_a_day_changes_nothing(replayed):
    before, after = replayed["before"], replayed["after"]
    assert after["raw"] == before["raw"]
    assert after["ledger"] == before["ledger"]
    assert after["marts"] == before["marts"]
    assert after["files"] == before["files"] and before["files"]


def test_extract_files_as_staff_open_them(replayed):
    outbox = replayed["settings"].outbox_dir
    days = sorted(p for p in outbox.iterdir() if p.is_dir())
    assert days
    decided_days = {
        r[0].isoformat()
        for r in query(replayed["url"], "select distinct round_date from marts.fct_allocation_decision")
    }
    assert {d.name for d in days} == decided_days
    for folder in days:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        rows_in_ledger = query(
            replayed["url"],
            "select count(*) from marts.fct_allocation_decision where round_date = %s",
            date.fromisoformat(folder.name),
        )[0][0]
        assert sum(f["rows"] for f in manifest["files"] if f["file"].endswith(".csv")) == rows_in_ledger
        for entry in manifest["files"]:
            data = (folder / entry["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            if entry["file"].endswith(".csv"):
                assert data.startswith(b"\xef\xbb\xbf")
                table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
                assert table[0][:5] == ["접수번호", "세부사업코드", "세부사업명", "트랙", "결정"]
                assert len(table) - 1 == entry["rows"]
            else:
                ws = load_workbook(io.BytesIO(data)).active
                assert ws.freeze_panes == "A2"
                assert ws["A1"].value == "접수번호"
                assert ws.max_row - 1 == entry["rows"]
                assert {c.value for c in ws["E"][1:]} <= set(EVENT_KO.values())


def test_marts_hold_no_personal_data(replayed):
    columns = {
        r[0]
        for r in query(
            replayed["url"], "select column_name from information_schema.columns where table_schema = 'marts'"
        )
    }
    assert not columns & {"brn", "business_name", "representative_name", "phone", "email", "address"}


WHOLE_FILE_DEFECTS = {"wrong_encoding", "truncated_file", "wrong_header"}
FILE_SOURCES = {
    "sbiz24": "raw.sbiz24_o2o_applications",
    "kakao": "raw.kakao_applications",
    "edu": "raw.edu_completions",
    "evaluation": "raw.evaluation_scores",
}


def test_every_partner_file_is_loaded_once_or_refused_whole_as_injected(replayed):
    url, drop = replayed["url"], replayed["settings"].drop_dir
    injected = {
        Path(t["file"]).name for t in truth(replayed["scenario"]) if t["defect"] in WHOLE_FILE_DEFECTS
    }
    ledger = query(
        url,
        "select source, source_file, outcome, rows_received, rows_inserted, message"
        " from ops.load_ledger where source_file is not null and source <> 'nts'",
    )
    outcomes: dict[str, set[str]] = {}
    for source, name, outcome, received, inserted, message in ledger:
        outcomes.setdefault(name, set()).add(outcome)
        if outcome == "refused":
            assert message.startswith(name + ":"), message  # names the file, then the problem
        if outcome == "success" and source in FILE_SOURCES:
            assert received == inserted, name  # every line of a file, once
    delivered = {p.name for p in drop.rglob("*") if p.is_file()}
    assert delivered and set(outcomes) == delivered  # every delivered file was looked at
    refused = {name for name, seen in outcomes.items() if "refused" in seen}
    assert refused == injected & delivered
    assert all(seen == {"success"} for name, seen in outcomes.items() if name not in refused)
    for source, table in FILE_SOURCES.items():
        loaded = query(url, f"select source_file, count(*) from {table} group by 1")
        kept = {
            name: inserted
            for s, name, outcome, _, inserted, _ in ledger
            if s == source and outcome == "success"
        }
        assert dict(loaded) == {name: n for name, n in kept.items() if n}, source


def test_the_tax_office_was_asked_about_every_landed_number_each_day(replayed):
    url = replayed["url"]
    days = [d for (d,) in query(url, "select distinct asked_on from raw.nts_status_answers order by 1")]
    assert len(days) == 5  # days 1, 2, 5, 6, 7 were run
    for day in days:
        missing = query(
            url,
            """select count(*) from (
                   select regexp_replace(record -> 'business' ->> 'brn', '[^0-9]', '', 'g') as b
                     from raw.portal_applications where loaded_at <= (select max(loaded_at) from raw.nts_status_answers where asked_on = %s)
               ) s where length(b) = 10
                 and not exists (select 1 from raw.nts_status_answers a where a.asked_on = %s and a.b_no = s.b)""",
            day,
            day,
        )[0][0]
        assert missing == 0, day


HANDWRITTEN = Path(__file__).parent / "fixtures" / "handwritten"


def test_a_hand_written_scenario_replays_just_as_well(tmp_path, pg_server):
    """A scenario written by hand, in the same layout, with only some of the systems."""
    replayer = Replayer(pg_server, tmp_path, HANDWRITTEN, "handwritten")
    try:
        replayer.replay(FIRST, FIRST + timedelta(days=1))
    finally:
        replayer.close()
    url = replayer.url
    verdicts = dict(query(url, "select application_id, verdict from marts.fct_eligibility"))
    assert verdicts["FF24-0000001"] == "eligible"
    assert verdicts["FF24-0000002"] == "ineligible"  # its BRN's check digit is wrong
    assert verdicts["FF24-0000003"] == "ineligible"  # withdrawn on day 2
    # 1-3 is decided by the committee round of day 2: mean of the two reviewers without a conflict
    decisions = query(
        url, "select application_id, decision, total_score from marts.fct_allocation_decision order by 1"
    )
    assert ("FF24-0000001", "selected", 77) in [(a, d, int(t)) for a, d, t in decisions if t is not None]
    # 2-8 is first-come: decided on day 1, before the withdrawal; the ledger keeps that decision and
    # records the withdrawal as a new event of day 2
    assert query(
        url,
        "select decision, round_date from marts.fct_allocation_decision where application_id = 'FF24-0000003'"
        " order by event_seq",
    ) == [("selected", FIRST), ("withdrawn", FIRST + timedelta(days=1))]
    assert query(url, "select count(*) from raw.sbiz24_o2o_applications")[0][0] == 1
    assert query(url, "select count(*) from raw.reference_credit_checks")[0][0] == 1
    statuses = dict(
        query(
            url,
            "select asked_on, record ->> 'b_stt_cd' from raw.nts_status_answers where b_no = '1348672683'",
        )
    )
    assert statuses == {FIRST: "01", FIRST + timedelta(days=1): "03"}  # closed on day 2, asked each day


def test_every_gate_ran_and_passed_on_every_replayed_day(replayed):
    """The clean scenario passes all gates: landing for the loads of each day, source freshness,
    transformed and publish, each day replayed; results kept; Data Docs written; no gate alert."""
    days = [FIRST + timedelta(days=n) for n in (0, 1, 4, 5, 6)]
    ran = query(
        replayed["url"],
        """select business_day, gate, bool_and(success), count(*) from ops.validation_results
            group by 1, 2 order by 1, 2""",
    )
    gates = {(day, gate): (ok, n) for day, gate, ok, n in ran}
    for day in days:
        for gate in ("landing", "freshness", "transformed", "publish"):
            ok, n = gates.get((day, gate), (None, 0))
            assert n > 0 and ok, (day, gate, ok, n)
    # the extract was checked against the ledger each day
    assert query(
        replayed["url"],
        "select count(distinct business_day) from ops.validation_results where suite = 'publish.extract'",
    )[0][0] == len(days)
    docs = replayed["settings"].state_dir / "data_docs"
    assert (docs / "index.html").exists()
    for site in ("transformed", "publish", "landing-portal_applications"):
        assert (docs / site / "index.html").exists(), site
    alerts_log = replayed["settings"].logs_dir / "alerts.log"
    kinds = (
        [json.loads(line)["kind"] for line in alerts_log.read_text().splitlines()]
        if alerts_log.exists()
        else []
    )
    assert "gate_failed" not in kinds and "task_failed" not in kinds
