"""The simulated portal serves the contract; the connector pages it and survives its failure modes."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from panro.connectors.http import read_ahead
from panro.connectors.portal import PortalAuthError, PortalClient, PortalError
from panro.servers.portal import PortalServer, PortalState

KST = timezone(timedelta(hours=9))
T0 = datetime(2024, 3, 4, tzinfo=KST)


def version(app: int, hours: float, status: str = "submitted") -> dict:
    at = (T0 + timedelta(hours=hours)).isoformat()
    return {"application_id": f"FF24-{app:07d}", "updated_at": at, "submitted_at": at, "status": status}


RECORDS = [version(i, i * 0.5) for i in range(1, 41)] + [
    version(41, 24),  # exactly at midnight: belongs to the next day
    version(3, 30, "withdrawn"),
    version(7, 50, "supplemented"),
]


@pytest.fixture()
def portal():
    with PortalServer(PortalState(RECORDS, token="t0ken")) as server:
        yield server


def fetch_all(client: PortalClient, since: datetime, until: datetime) -> list[dict]:
    return [item for page in client.pages(since, until) for item in page.items]


def test_pages_cover_the_window_exactly_once_in_order(portal):
    client = PortalClient(portal.base_url, "t0ken", page_size=7)
    items = fetch_all(client, T0, T0 + timedelta(days=3))
    assert len(items) == len(RECORDS)
    keys = [(i["updated_at"], i["application_id"]) for i in items]
    assert keys == sorted(keys)
    assert len(set(map(json.dumps, items))) == len(items)


def test_window_is_half_open_so_consecutive_days_do_not_overlap(portal):
    client = PortalClient(portal.base_url, "t0ken", page_size=5)
    day1 = fetch_all(client, T0, T0 + timedelta(days=1))
    day2 = fetch_all(client, T0 + timedelta(days=1), T0 + timedelta(days=2))
    day3 = fetch_all(client, T0 + timedelta(days=2), T0 + timedelta(days=3))
    assert (len(day1), len(day2), len(day3)) == (40, 2, 1)
    assert version(41, 24) in day2 and version(41, 24) not in day1


def test_clock_hides_the_future(portal):
    portal.state.set_clock(T0 + timedelta(hours=10))
    client = PortalClient(portal.base_url, "t0ken", page_size=3)
    items = fetch_all(client, T0, T0 + timedelta(days=3))
    assert len(items) == 20  # versions at 00:30 .. 10:00
    assert max(i["updated_at"] for i in items) <= (T0 + timedelta(hours=10)).isoformat()


def test_clock_endpoint(portal):
    response = requests.post(
        f"{portal.base_url}/_sim/clock", json={"now": "2024-03-04T05:00:00+09:00"}, timeout=5
    )
    assert response.status_code == 200
    client = PortalClient(portal.base_url, "t0ken")
    assert len(fetch_all(client, T0, T0 + timedelta(days=3))) == 10


def test_bad_token_fails_loudly_without_retry(portal):
    client = PortalClient(portal.base_url, "wrong", sleep=lambda s: pytest.fail("401 must not be retried"))
    with pytest.raises(PortalAuthError, match="401"):
        fetch_all(client, T0, T0 + timedelta(days=1))


@pytest.mark.parametrize(
    "query, problem",
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("updated_since=yesterday", "updated_since"),
        ("updated_since=2024-03-04T00:00:00", "offset"),
        ("cursor=%%%", "cursor"),
    ],
)
def test_bad_requests_are_refused_with_the_problem_named(portal, query, problem):
    response = requests.get(
        f"{portal.base_url}/api/v1/applications?{query}", headers={"Authorization": "Bearer t0ken"}, timeout=5
    )
    assert response.status_code == 400
    assert problem in response.json()["error"]


class FlakyPortal(BaseHTTPRequestHandler):
    """An external system misbehaving: answers from a script of statuses, then the real page."""

    script: list[tuple[int, dict]] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        status, headers = self.script.pop(0) if self.script else (200, {})
        body = json.dumps({"items": [{"application_id": "FF24-0000001"}], "next_cursor": None}).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def flaky():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyPortal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_retries_honour_retry_after_then_back_off(flaky):
    FlakyPortal.script = [(429, {"Retry-After": "7"}), (503, {}), (502, {})]
    waits: list[float] = []
    client = PortalClient(flaky, "x", backoff_base_s=0.5, sleep=waits.append)
    assert len(fetch_all(client, T0, T0 + timedelta(days=1))) == 1
    assert waits == [7.0, 1.0, 2.0]


def test_gives_up_after_max_attempts_and_says_why(flaky):
    FlakyPortal.script = [(500, {})] * 10
    client = PortalClient(flaky, "x", max_attempts=3, sleep=lambda s: None)
    with pytest.raises(PortalError, match="gave up after 3 attempts, last: HTTP 500"):
        fetch_all(client, T0, T0 + timedelta(days=1))


def test_connection_refused_is_retried_then_reported():
    waits: list[float] = []
    client = PortalClient("http://127.0.0.1:9", "x", max_attempts=2, sleep=waits.append)
    with pytest.raises(PortalError, match="ConnectionError"):
        fetch_all(client, T0, T0 + timedelta(days=1))
    assert len(waits) == 1


def test_client_refuses_to_start_without_configuration():
    with pytest.raises(PortalError, match="PORTAL_BASE_URL"):
        PortalClient("", "x")
    with pytest.raises(PortalError, match="PORTAL_TOKEN"):
        PortalClient("http://127.0.0.1:1", "")


def test_read_ahead_keeps_the_order_and_raises_where_the_producer_failed():
    def pages():
        yield from range(5)
        raise PortalError("page 6: 503 five times")

    got = []
    with pytest.raises(PortalError, match="page 6"):
        for page in read_ahead(pages(), depth=2):
            got.append(page)
    assert got == [0, 1, 2, 3, 4]


def test_read_ahead_stays_within_its_depth_and_stops_with_its_reader():
    produced = []

    def pages():
        for n in range(1000):
            produced.append(n)
            yield n

    reader = read_ahead(pages(), depth=2)
    assert [next(reader) for _ in range(3)] == [0, 1, 2]
    time.sleep(0.3)
    # three read, two waiting in the queue, one held by the producer waiting for room
    assert len(produced) <= 3 + 2 + 1
    reader.close()
    time.sleep(0.3)
    assert len(produced) <= 3 + 2 + 1
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]
