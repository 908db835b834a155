"""The simulated 국세청 status API serves the contract as of its clock; the connector asks it properly."""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
import requests

from panro.brn import format_brn
from panro.connectors.nts import NtsAuthError, NtsClient, NtsError, check_answer
from panro.servers.nts import UNKNOWN_TAX_TYPE, NtsServer, NtsState

KST = timezone(timedelta(hours=9))
KEY = "s3rvice+key/=="
FIELDS = {
    "b_no",
    "b_stt",
    "b_stt_cd",
    "tax_type",
    "tax_type_cd",
    "end_dt",
    "utcc_yn",
    "tax_type_change_dt",
    "invoice_apply_dt",
    "rbf_tax_type",
    "rbf_tax_type_cd",
}
OPEN, CLOSES, SUSPENDED, NEW, UNKNOWN = "1208147521", "2148612345", "1018212340", "3051234567", "9999999999"
HISTORY = [
    {"b_no": OPEN, "b_stt_cd": "01", "end_dt": "", "effective_from": "2015-06-01"},
    {"b_no": CLOSES, "b_stt_cd": "01", "end_dt": "", "effective_from": "2019-05-01"},
    # closes inside the window: 01 until 2024-03-09, 03 from 2024-03-10
    {"b_no": CLOSES, "b_stt_cd": "03", "end_dt": "20240310", "effective_from": "2024-03-10"},
    {"b_no": SUSPENDED, "b_stt_cd": "02", "end_dt": "", "effective_from": "2023-01-01", "tax_type_cd": "02"},
    {"b_no": NEW, "b_stt_cd": "01", "end_dt": "", "effective_from": "2024-03-08"},  # registered in the window
]


@pytest.fixture()
def nts():
    with NtsServer(NtsState(HISTORY, KEY)) as server:
        yield server


def ask(server: NtsServer, b_nos, key: str | None = KEY) -> requests.Response:
    params = {"serviceKey": key} if key is not None else {}
    return requests.post(
        f"{server.base_url}/api/nts-businessman/v1/status", params=params, json={"b_no": b_nos}, timeout=5
    )


def set_clock(server: NtsServer, now: str | None) -> None:
    response = requests.post(f"{server.base_url}/_sim/clock", json={"now": now}, timeout=5)
    assert response.status_code == 200


def by_number(body: dict) -> dict[str, dict]:
    return {entry["b_no"]: entry for entry in body["data"]}


def test_status_as_of_the_clock(nts):
    set_clock(nts, "2024-03-09T23:59:00+09:00")
    before = by_number(ask(nts, [CLOSES, NEW]).json())
    assert (before[CLOSES]["b_stt_cd"], before[CLOSES]["b_stt"], before[CLOSES]["end_dt"]) == (
        "01",
        "계속사업자",
        "",
    )
    # 2024-03-09T15:30Z is already 2024-03-10 in Korea: the KST date decides
    set_clock(nts, "2024-03-09T15:30:00+00:00")
    after = by_number(ask(nts, [CLOSES]).json())
    assert (after[CLOSES]["b_stt_cd"], after[CLOSES]["b_stt"], after[CLOSES]["end_dt"]) == (
        "03",
        "폐업자",
        "20240310",
    )
    set_clock(nts, "2024-03-07T12:00:00+09:00")
    assert by_number(ask(nts, [NEW]).json())[NEW]["b_stt_cd"] == ""  # not registered yet
    set_clock(nts, None)  # no clock: the latest status
    latest = by_number(ask(nts, [CLOSES, NEW, SUSPENDED]).json())
    assert [latest[b]["b_stt_cd"] for b in (CLOSES, NEW, SUSPENDED)] == ["03", "01", "02"]
    assert latest[SUSPENDED]["b_stt"] == "휴업자"
    assert latest[SUSPENDED]["tax_type"] == "부가가치세 간이과세자"


def test_the_answer_has_the_contract_shape_and_keeps_request_order(nts):
    order = [UNKNOWN, SUSPENDED, OPEN, CLOSES, NEW]
    body = ask(nts, order).json()
    assert body["status_code"] == "OK"
    assert (body["request_cnt"], body["match_cnt"]) == (5, 4)
    assert [entry["b_no"] for entry in body["data"]] == order
    assert all(set(entry) == FIELDS for entry in body["data"])
    known = body["data"][2]
    assert (known["b_stt"], known["tax_type_cd"], known["rbf_tax_type_cd"]) == ("계속사업자", "01", "99")
    check_answer(order, body)


def test_unknown_numbers(nts):
    entry = ask(nts, [UNKNOWN]).json()["data"][0]
    assert entry == {field: "" for field in FIELDS} | {"b_no": UNKNOWN, "tax_type": UNKNOWN_TAX_TYPE}
    assert ask(nts, [UNKNOWN]).json()["match_cnt"] == 0


def test_more_than_100_numbers_are_refused(nts):
    response = ask(nts, [OPEN] * 101)
    assert response.status_code == 413
    assert response.json()["status_code"] == "TOO_LARGE_REQUEST"
    assert ask(nts, [OPEN] * 100).status_code == 200


@pytest.mark.parametrize("body", [{}, {"b_no": []}, {"b_no": "1208147521"}, {"b_no": [1208147521]}])
def test_malformed_requests_are_refused(nts, body):
    response = requests.post(
        f"{nts.base_url}/api/nts-businessman/v1/status", params={"serviceKey": KEY}, json=body, timeout=5
    )
    assert response.status_code == 411
    assert response.json()["status_code"] == "REQUEST_DATA_MALFORMED"


def test_bad_or_missing_key_is_401(nts):
    assert ask(nts, [OPEN], key="wrong").status_code == 401
    assert ask(nts, [OPEN], key=None).status_code == 401
    requests_before = requests.get(f"{nts.base_url}/_sim/stats", timeout=5).json()["requests"]
    client = NtsClient(nts.base_url, "wrong", sleep=lambda s: pytest.fail("401 must not be retried"))
    with pytest.raises(NtsAuthError, match="401") as caught:
        list(client.status([OPEN]))
    assert "wrong" not in str(caught.value)
    stats = requests.get(f"{nts.base_url}/_sim/stats", timeout=5).json()
    assert (stats["requests"], stats["calls"]) == (requests_before + 1, 0)


def test_client_normalises_deduplicates_and_batches(nts, caplog):
    numbers = [f"{n:010d}" for n in range(1000000000, 1000000250)]
    messy = [format_brn(numbers[0]), " ".join([numbers[1][:3], numbers[1][3:5], numbers[1][5:]])]
    messy += numbers + numbers[:30] + ["12-345", "abcdefghij", "12081475210", None]
    client = NtsClient(nts.base_url, KEY, batch_size=100)
    with caplog.at_level(logging.WARNING, logger="panro.connectors.nts"):
        batches = list(client.status(messy))
    asked = [b for batch, _ in batches for b in batch]
    assert asked == numbers  # distinct, normalised, in first-seen order
    assert [len(batch) for batch, _ in batches] == [100, 100, 50]
    assert (
        "'12-345'" in caplog.text and "'12081475210'" in caplog.text and "skipped 4 value(s)" in caplog.text
    )
    stats = requests.get(f"{nts.base_url}/_sim/stats", timeout=5).json()
    assert stats == {
        "requests": 3,
        "calls": 3,
        "numbers": 250,
        "distinct_numbers": 250,
        "max_batch": 100,
        "repeated_numbers": 0,
    }


def test_client_smaller_batches_and_nothing_to_ask(nts):
    client = NtsClient(nts.base_url, KEY, batch_size=2)
    assert [batch for batch, _ in client.status([OPEN, CLOSES, NEW])] == [[OPEN, CLOSES], [NEW]]
    assert list(client.status(["not a number"])) == []
    assert requests.get(f"{nts.base_url}/_sim/stats", timeout=5).json()["calls"] == 2
    with pytest.raises(NtsError, match="batch_size"):
        NtsClient(nts.base_url, KEY, batch_size=101)


def test_client_refuses_to_start_without_configuration():
    with pytest.raises(NtsError, match="NTS_BASE_URL"):
        NtsClient("", KEY)
    with pytest.raises(NtsError, match="NTS_SERVICE_KEY"):
        NtsClient("http://127.0.0.1:1", "")


def test_the_service_key_never_appears_in_errors():
    waits: list[float] = []
    client = NtsClient("http://127.0.0.1:9", KEY, max_attempts=2, sleep=waits.append)
    with pytest.raises(
        NtsError, match=r"\(batch of 1\): gave up after 2 attempts, last: ConnectionError"
    ) as caught:
        list(client.status([OPEN]))
    message = str(caught.value)
    assert "***" in message
    assert KEY not in message and "s3rvice%2Bkey" not in message and "s3rvice" not in message
    assert len(waits) == 1


BATCH = [OPEN, CLOSES]


def entry(b_no: str, code: str = "01") -> dict:
    return {"b_no": b_no, "b_stt_cd": code}


@pytest.mark.parametrize(
    "body, problem",
    [
        ([], "not a JSON object"),
        ({"status_code": "INTERNAL_ERROR", "data": []}, "status_code is 'INTERNAL_ERROR'"),
        ({"status_code": "OK"}, "'data' is not a list"),
        ({"status_code": "OK", "data": ["x", entry(CLOSES)]}, "data[0] is not an object"),
        (
            {"status_code": "OK", "data": [entry(OPEN), entry(NEW)]},
            f"answers b_no '{NEW}', which was not asked",
        ),
        ({"status_code": "OK", "data": [entry(OPEN), entry(CLOSES, "09")]}, "b_stt_cd '09'"),
        ({"status_code": "OK", "data": [entry(OPEN)]}, f"1 number(s) asked but not answered: {CLOSES}"),
    ],
)
def test_answer_shape_errors_name_the_problem(body, problem):
    with pytest.raises(NtsError, match="batch of 2: .*" + re.escape(problem)):
        check_answer(BATCH, body)


class Scripted(BaseHTTPRequestHandler):
    """An NTS answering whatever the test scripts, to see the client refuse an out-of-contract answer."""

    answer: tuple[int, bytes] = (200, b"{}")

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body = self.answer
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "answer, problem",
    [
        ((200, b"<html>maintenance</html>"), "batch of 1: the answer is not JSON"),
        ((200, json.dumps({"status_code": "OK", "data": []}).encode()), "asked but not answered"),
        ((413, b'{"status_code": "TOO_LARGE_REQUEST"}'), "HTTP 413"),
    ],
)
def test_client_refuses_out_of_contract_answers(scripted, answer, problem):
    Scripted.answer = answer
    client = NtsClient(scripted, KEY, sleep=lambda s: pytest.fail("not retried"))
    with pytest.raises(NtsError, match=problem):
        list(client.status([OPEN]))


def test_client_retries_server_errors_with_backoff(scripted):
    Scripted.answer = (503, b"busy")
    waits: list[float] = []
    client = NtsClient(scripted, KEY, max_attempts=3, backoff_base_s=0.5, sleep=waits.append)
    with pytest.raises(NtsError, match=r"\(batch of 1\): gave up after 3 attempts, last: HTTP 503"):
        list(client.status([OPEN]))
    assert waits == [0.5, 1.0]


def test_state_from_scenario(tmp_path):
    assert NtsState.from_scenario(tmp_path, KEY).answer([OPEN])["data"][0]["b_stt_cd"] == ""  # no nts/ file
    (tmp_path / "nts").mkdir()
    lines = [json.dumps(line) for line in HISTORY]
    (tmp_path / "nts" / "status.jsonl").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    state = NtsState.from_scenario(tmp_path, KEY, clock=datetime(2024, 3, 9, 12, tzinfo=KST))
    assert [e["b_stt_cd"] for e in state.answer([CLOSES, NEW, UNKNOWN])["data"]] == ["01", "01", ""]
    (tmp_path / "nts" / "status.jsonl").write_text(lines[0] + "\n" + '{"b_no": "12"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: b_no"):
        NtsState.from_scenario(tmp_path, KEY)
    (tmp_path / "nts" / "status.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1 is not JSON"):
        NtsState.from_scenario(tmp_path, KEY)


@pytest.mark.parametrize(
    "line, problem",
    [
        ({"b_no": OPEN, "b_stt_cd": "04", "effective_from": "2024-01-01"}, "b_stt_cd"),
        ({"b_no": OPEN, "b_stt_cd": "03", "end_dt": "2024-03-01", "effective_from": "2024-01-01"}, "end_dt"),
        ({"b_no": OPEN, "b_stt_cd": "01", "effective_from": "20240101"}, "effective_from"),
        (
            {"b_no": OPEN, "b_stt_cd": "01", "effective_from": "2024-01-01", "tax_type_cd": "42"},
            "tax_type_cd",
        ),
    ],
)
def test_bad_history_lines_are_refused(line, problem):
    with pytest.raises(ValueError, match=f"line 1: {problem}"):
        NtsState([line], KEY)


def test_clock_endpoint_refuses_a_naive_timestamp(nts):
    response = requests.post(f"{nts.base_url}/_sim/clock", json={"now": "2024-03-09T12:00:00"}, timeout=5)
    assert response.status_code == 400 and "offset" in response.json()["error"]


# --- the daily load: which numbers it asks for ---------------------------------------------------------


def test_the_daily_load_asks_for_recent_and_undecided_applications_only(fresh_db):
    """The tax office is asked, each day, about the numbers a round may still decide on: applications
    with a version within STATUS_REFRESH_DAYS days, and older ones the ledger has not settled
    (waitlisted, or undecided and not ineligible), not about every number the warehouse ever saw. A
    warehouse that cannot tell (its first load, or no transform yet) asks for everything."""
    import random

    from panro.brn import make_brn
    from panro.connectors.portal import PortalClient
    from panro.ingest.nts import STATUS_REFRESH_DAYS, ingest_nts, needed_brns
    from panro.ingest.portal import ingest_portal
    from panro.servers.portal import PortalServer, PortalState

    rng = random.Random(7)
    start = datetime(2024, 3, 4, 10, tzinfo=KST)
    records = [  # one application a day for 40 days
        {
            "application_id": f"FF24-{i:07d}",
            "updated_at": (start + timedelta(days=i)).isoformat(),
            "business": {"brn": make_brn(rng, True)},
        }
        for i in range(40)
    ]
    brns = [r["business"]["brn"] for r in records]

    def day(i: int):
        return (start + timedelta(days=i)).date()

    with PortalServer(PortalState(records, token="tk")) as portal:
        ingest_portal(fresh_db, PortalClient(portal.base_url, "tk"), start, start + timedelta(days=40), "r")
    # the first load asks for every number known by its day; a rerun of that day for none
    assert needed_brns(fresh_db, day(29)) == sorted(brns[:30])
    history = [{"b_no": b, "b_stt_cd": "01", "effective_from": "2020-01-01"} for b in brns]
    with NtsServer(NtsState(history, KEY)) as server:
        assert ingest_nts(fresh_db, NtsClient(server.base_url, KEY), day(29), "r").rows_inserted == 30
    assert needed_brns(fresh_db, day(29)) == []
    # answers held but no ledger yet: what is undecided is unknown, so everything is asked
    assert needed_brns(fresh_db, day(39)) == sorted(brns)

    # The tables the transform leaves (only the columns the load reads): 0 selected, 1 waitlisted,
    # 2 not selected, 3 waitlisted then withdrawn, 4 eligible awaiting its score, 5 ineligible,
    # 6 incomplete, 7 not judged yet, 8 under review; 9 and later selected.
    decisions = {0: "selected", 1: "waitlisted", 2: "not_selected", 3: "waitlisted"}
    decisions |= {i: "selected" for i in range(9, 40)}
    verdicts = {4: "eligible", 5: "ineligible", 6: "incomplete", 8: "needs_review"}
    with psycopg.connect(fresh_db) as conn:
        conn.execute("create schema if not exists intermediate; create schema if not exists marts")
        conn.execute(
            "create table intermediate.int_applications_current (application_id text, brn text, is_withdrawn boolean)"
        )
        conn.execute("create table marts.fct_allocation_current (application_id text, current_decision text)")
        conn.execute("create table marts.fct_eligibility (application_id text, verdict text)")
        for i, r in enumerate(records):
            conn.execute(
                "insert into intermediate.int_applications_current values (%s, %s, %s)",
                (r["application_id"], format_brn(brns[i]), i == 3),
            )
            if i in decisions:
                conn.execute(
                    "insert into marts.fct_allocation_current values (%s, %s)",
                    (r["application_id"], decisions[i]),
                )
            if i in verdicts:
                conn.execute(
                    "insert into marts.fct_eligibility values (%s, %s)", (r["application_id"], verdicts[i])
                )
    recent = set(brns[40 - STATUS_REFRESH_DAYS :])
    # however long the history: the last STATUS_REFRESH_DAYS days' applications and the unsettled ones
    assert set(needed_brns(fresh_db, day(39))) == recent | {brns[i] for i in (1, 4, 7, 8)}
