"""Loads killed half way (SIGKILL) and rerun end with every record exactly once; the tax-office load
asks only for the numbers it needs, 100 a call, and resumes where it was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import psycopg

from panro.brn import make_brn
from panro.connectors.nts import NtsClient
from panro.connectors.portal import PortalClient
from panro.ingest.nts import ingest_nts, needed_brns
from panro.ingest.portal import ingest_portal
from panro.servers.faults import FaultPlan
from panro.servers.nts import NtsServer, NtsState
from panro.servers.portal import PortalServer, PortalState

KST = timezone(timedelta(hours=9))
D1 = datetime(2024, 3, 4, tzinfo=KST)
DAY = date(2024, 3, 4)


def applications(n: int) -> list[dict]:
    import random

    rng = random.Random(5)
    return [
        {
            "application_id": f"FF24-{i:07d}",
            "updated_at": (D1 + timedelta(seconds=20 * i)).isoformat(),
            "business": {"brn": make_brn(rng, True)},
        }
        for i in range(1, n + 1)
    ]


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]


def run_and_kill(code: str, server, after_requests: int) -> None:
    """Run ``code`` in a child, stall the server once it has answered some requests, SIGKILL the child."""
    child = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    deadline = time.monotonic() + 60
    while server.faults.snapshot()["requests"] < after_requests:
        assert child.poll() is None, "the load ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    server.faults.configure({"rate": 1.0, "kinds": ["timeout"], "timeout_s": 30})
    time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    server.faults.configure({"rate": 0.0})


def test_portal_load_killed_half_way_then_rerun_lands_everything_once(fresh_db):
    records = applications(2000)
    with PortalServer(PortalState(records, token="tk"), faults=FaultPlan()) as portal:
        code = (
            "from datetime import datetime\n"
            "from panro.connectors.portal import PortalClient\n"
            "from panro.ingest.portal import ingest_portal\n"
            f"ingest_portal({fresh_db!r}, PortalClient({portal.base_url!r}, 'tk', page_size=5, timeout_s=60),"
            f" datetime.fromisoformat({D1.isoformat()!r}), datetime.fromisoformat({(D1 + timedelta(days=1)).isoformat()!r}), 'killed')\n"
        )
        run_and_kill(code, portal, after_requests=20)
        # one transaction: nothing of the killed load is in raw, its ledger row says it never finished
        assert count(fresh_db, "select count(*) from raw.portal_applications") == 0
        assert count(fresh_db, "select count(*) from ops.load_ledger where outcome = 'running'") == 1
        result = ingest_portal(
            fresh_db, PortalClient(portal.base_url, "tk", page_size=500), D1, D1 + timedelta(days=1), "rerun"
        )
    assert result.rows_inserted == 2000
    assert count(fresh_db, "select count(distinct record_hash) from raw.portal_applications") == 2000


def test_nts_load_asks_only_what_it_needs_and_resumes_after_a_kill(fresh_db):
    records = applications(1000)
    with PortalServer(PortalState(records, token="tk")) as portal:
        ingest_portal(fresh_db, PortalClient(portal.base_url, "tk"), D1, D1 + timedelta(days=1), "r")
    brns = sorted({r["business"]["brn"] for r in records})
    history = [{"b_no": b, "b_stt_cd": "01", "end_dt": "", "effective_from": "2020-01-01"} for b in brns]
    with NtsServer(NtsState(history, "key"), faults=FaultPlan()) as nts:
        code = (
            "from datetime import date\n"
            "from panro.connectors.nts import NtsClient\n"
            "from panro.ingest.nts import ingest_nts\n"
            f"ingest_nts({fresh_db!r}, NtsClient({nts.base_url!r}, 'key', timeout_s=60), date(2024, 3, 4), 'killed')\n"
        )
        run_and_kill(code, nts, after_requests=3)
        kept = count(fresh_db, "select count(*) from raw.nts_status_answers")
        assert 0 < kept < len(brns) and kept % 100 == 0  # whole calls committed, the rest not asked yet
        assert len(needed_brns(fresh_db, DAY)) == len(brns) - kept
        before = nts.state.stats()["numbers"]
        result = ingest_nts(fresh_db, NtsClient(nts.base_url, "key"), DAY, "rerun")
        stats = nts.state.stats()
    assert stats["numbers"] - before == len(brns) - kept  # the rerun asked only for the rest
    assert stats["max_batch"] <= 100
    assert result.rows_inserted == len(brns) - kept
    assert count(fresh_db, "select count(*) from raw.nts_status_answers") == len(brns)
    assert count(fresh_db, "select count(distinct b_no) from raw.nts_status_answers") == len(brns)
    # the next day is asked again (the status may have changed); the same day is not
    assert needed_brns(fresh_db, DAY) == []
    assert len(needed_brns(fresh_db, date(2024, 3, 5))) == len(brns)


def test_a_day_asks_for_the_numbers_known_by_that_day_only(fresh_db):
    """A rerun or backfill of a day asks what the day asked, whatever landed since."""
    records = applications(10)
    later = {**applications(11)[-1], "updated_at": (D1 + timedelta(days=1, hours=2)).isoformat()}
    with PortalServer(PortalState([*records, later], token="tk")) as portal:
        ingest_portal(fresh_db, PortalClient(portal.base_url, "tk"), D1, D1 + timedelta(days=2), "r")
    assert set(needed_brns(fresh_db, DAY)) == {r["business"]["brn"] for r in records}
    assert later["business"]["brn"] in needed_brns(fresh_db, DAY + timedelta(days=1))
