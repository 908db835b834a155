"""Fault injection: the simulated servers misbehave on demand and the connectors survive it.

Real servers on 127.0.0.1; the clients' read timeout is small (0.5 s) and the injected stall 1 s, and
``sleep`` records the waits instead of sleeping, so these runs take a few seconds.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from panro.brn import make_brn
from panro.connectors.nts import NtsClient
from panro.connectors.portal import PortalClient
from panro.servers.faults import ALL_KINDS, FaultPlan
from panro.servers.nts import NtsServer, NtsState
from panro.servers.portal import PortalServer, PortalState

KST = timezone(timedelta(hours=9))
T0 = datetime(2024, 3, 4, tzinfo=KST)
TOKEN = "t0ken"
KEY = "k3y+/="
RETRY_AFTER_S = 3.0  # no power of two of the clients' backoff base (0.01 s) equals it
CLIENT_TIMEOUT_S = 0.5
STALL_S = 1.0
WINDOW = 1000
# Seeds whose sequence of draws, for the requests these runs make, contains every kind (the draws are
# a pure function of seed and request number, so these runs meet the same faults every time).
PORTAL_SEED = 3
NTS_SEED = 8


def version(n: int) -> dict:
    """Version n: application n % 350 at T0 + n minutes (distinct keys, applications repeat)."""
    at = (T0 + timedelta(minutes=n)).isoformat()
    return {"application_id": f"FF24-{n % 350:07d}", "updated_at": at, "status": "submitted", "n": n}


# 1,000 versions in the window [T0, T0 + 1000 min) and some on either side of it.
RECORDS = [version(n) for n in range(-30, WINDOW + 30)]
IN_WINDOW = {(r["application_id"], r["updated_at"]) for r in RECORDS if 0 <= r["n"] < WINDOW}


def faults(seed: int, kinds=ALL_KINDS) -> FaultPlan:
    return FaultPlan(rate=0.3, seed=seed, kinds=kinds, retry_after_s=RETRY_AFTER_S, timeout_s=STALL_S)


def injected(base_url: str) -> dict:
    return requests.get(f"{base_url}/_sim/faults", timeout=5).json()


def fetch_pages(client: PortalClient) -> list[list[dict]]:
    return [page.items for page in client.pages(T0, T0 + timedelta(minutes=WINDOW))]


def portal_client(base_url: str, waits: list[float]) -> PortalClient:
    return PortalClient(
        base_url,
        TOKEN,
        page_size=20,
        timeout_s=CLIENT_TIMEOUT_S,
        max_attempts=8,
        backoff_base_s=0.01,
        sleep=waits.append,
    )


def test_portal_client_survives_every_fault_kind():
    started = time.monotonic()
    with PortalServer(PortalState(RECORDS, TOKEN), faults=faults(PORTAL_SEED)) as server:
        waits: list[float] = []
        pages = fetch_pages(portal_client(server.base_url, waits))
        report = injected(server.base_url)
    counts = report["injected"]
    assert all(counts[kind] >= 1 for kind in ALL_KINDS), counts
    assert report["requests"] == len(pages) + sum(counts[k] for k in ("429", "5xx", "timeout", "reset"))

    keys = [(item["application_id"], item["updated_at"]) for items in pages for item in items]
    assert set(keys) == IN_WINDOW  # every version of the window, nothing outside it
    # the only repeats are the injected ones: a page's last item served again first on the next page
    assert len(keys) - len(IN_WINDOW) == counts["duplicate"]
    repeated_at_boundary = sum(1 for prev, page in zip(pages, pages[1:]) if page[0] == prev[-1])
    assert repeated_at_boundary == counts["duplicate"]

    # Retry-After honoured for every 429; the other retries backed off exponentially (0.01 * 2^k)
    assert waits.count(RETRY_AFTER_S) == counts["429"]
    retries = counts["429"] + counts["5xx"] + counts["timeout"] + counts["reset"]
    assert len(waits) == retries
    assert all(w == RETRY_AFTER_S or w in {0.01 * 2**k for k in range(8)} for w in waits)
    assert sum(report["statuses"].values()) == counts["429"] + counts["5xx"]
    assert time.monotonic() - started < 20


def test_faults_off_changes_nothing():
    with (
        PortalServer(PortalState(RECORDS, TOKEN)) as plain,
        PortalServer(PortalState(RECORDS, TOKEN), faults=FaultPlan(rate=0.0, seed=3)) as off,
    ):
        waits: list[float] = []
        expected = fetch_pages(portal_client(plain.base_url, waits))
        assert fetch_pages(portal_client(off.base_url, waits)) == expected
        report = injected(off.base_url)
    assert waits == []
    assert sum(report["injected"].values()) == 0
    assert report["requests"] == len(expected) == 50
    assert len({(i["application_id"], i["updated_at"]) for page in expected for i in page}) == WINDOW


def statuses(base_url: str, n: int) -> list[int]:
    url = f"{base_url}/api/v1/applications"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return [requests.get(url, headers=headers, timeout=5).status_code for _ in range(n)]


def test_faults_are_deterministic_from_seed_and_request_number():
    plans = [faults(7, ("429", "5xx")) for _ in range(3)]
    plans[2].configure({"seed": 8})
    with (
        PortalServer(PortalState(RECORDS, TOKEN), faults=plans[0]) as a,
        PortalServer(PortalState(RECORDS, TOKEN), faults=plans[1]) as b,
        PortalServer(PortalState(RECORDS, TOKEN), faults=plans[2]) as c,
    ):
        first, second, other = statuses(a.base_url, 40), statuses(b.base_url, 40), statuses(c.base_url, 40)
    assert first == second
    assert first != other
    assert set(first) > {200, 429} and set(first) <= {200, 429, 500, 502, 503, 504}


def test_control_endpoint_turns_faults_on_and_off_on_a_running_server():
    with PortalServer(PortalState(RECORDS, TOKEN)) as server:
        control = f"{server.base_url}/_sim/faults"
        assert statuses(server.base_url, 3) == [200] * 3
        answer = requests.post(control, json={"rate": 1.0, "seed": 1, "kinds": ["5xx"]}, timeout=5)
        assert answer.status_code == 200 and answer.json()["rate"] == 1.0
        assert all(s in {500, 502, 503, 504} for s in statuses(server.base_url, 5))
        requests.post(control, json={"kinds": ["429"], "retry_after_s": 2}, timeout=5)
        response = requests.get(
            f"{server.base_url}/api/v1/applications", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
        )
        assert (response.status_code, response.headers["Retry-After"]) == (429, "2")
        requests.post(control, json={"rate": 0}, timeout=5)
        assert statuses(server.base_url, 3) == [200] * 3
        report = injected(server.base_url)
        assert report["injected"]["5xx"] == 5 and report["injected"]["429"] == 1
        assert report["requests"] == 12
        requests.post(control, json={"reset_counts": True}, timeout=5)
        assert sum(injected(server.base_url)["injected"].values()) == 0
        assert requests.get(f"{server.base_url}/_sim/clock", timeout=5).status_code == 404


@pytest.mark.parametrize(
    "settings, problem",
    [
        ({"rate": 2}, "rate"),
        ({"rate": "high"}, "rate"),
        ({"kinds": ["flood"]}, "flood"),
        ({"kinds": "429"}, "kinds"),
        ({"seed": 1.5}, "seed"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"speed": 1}, "speed"),
    ],
)
def test_control_endpoint_refuses_bad_settings(settings, problem):
    with PortalServer(PortalState(RECORDS, TOKEN)) as server:
        answer = requests.post(f"{server.base_url}/_sim/faults", json=settings, timeout=5)
        assert answer.status_code == 400
        assert problem in answer.json()["error"]
        assert injected(server.base_url)["rate"] == 0.0


def test_fault_plan_refuses_bad_arguments():
    with pytest.raises(ValueError, match="rate"):
        FaultPlan(rate=1.5)
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan(kinds=("429", "meteor"))
    assert not FaultPlan().enabled and FaultPlan(rate=0.1).enabled


def test_a_stall_times_the_client_out_and_does_not_hold_up_shutdown():
    server = PortalServer(PortalState(RECORDS, TOKEN), faults=FaultPlan(1.0, 0, ["timeout"], timeout_s=60))
    server.start()
    try:
        with pytest.raises(requests.Timeout):
            requests.get(f"{server.base_url}/api/v1/applications", timeout=CLIENT_TIMEOUT_S)
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 2


def test_a_reset_is_a_connection_error_to_the_client():
    with PortalServer(PortalState(RECORDS, TOKEN), faults=FaultPlan(1.0, 0, ["reset"])) as server:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.base_url}/api/v1/applications", timeout=5)
        assert injected(server.base_url)["injected"]["reset"] == 1


def test_duplicate_kind_serves_the_last_item_again_first_on_the_next_page():
    records = [version(n) for n in range(10)]
    plan = FaultPlan(1.0, 0, ["duplicate"])
    with PortalServer(PortalState(records, TOKEN), faults=plan) as server:
        client = PortalClient(server.base_url, TOKEN, page_size=4, sleep=lambda s: pytest.fail("no retry"))
        pages = [[i["n"] for i in page.items] for page in client.pages(T0, T0 + timedelta(days=1))]
        counts = injected(server.base_url)["injected"]
    # every page with a next page repeats its last item; paging still moves on
    assert pages == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert counts["duplicate"] == 2  # not on the last page: there is no next page to repeat it on


# -- NTS -----------------------------------------------------------------------------------------


def nts_history(numbers: list[str]) -> list[dict]:
    history = []
    for i, b_no in enumerate(numbers):
        if i % 10 == 9:
            continue  # unknown to the tax office
        history.append({"b_no": b_no, "b_stt_cd": "01", "end_dt": "", "effective_from": "2019-01-01"})
        if i % 7 == 0:
            history.append(
                {"b_no": b_no, "b_stt_cd": "03", "end_dt": "20240301", "effective_from": "2024-03-01"}
            )
    return history


def distinct_numbers(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    numbers: dict[str, None] = {}
    while len(numbers) < n:
        numbers[make_brn(rng, individual=rng.random() < 0.8)] = None
    return list(numbers)


def test_nts_client_survives_faults_and_asks_each_number_once():
    numbers = distinct_numbers(WINDOW)
    state = NtsState(nts_history(numbers), KEY)
    with NtsServer(state, faults=faults(NTS_SEED)) as server:
        waits: list[float] = []
        client = NtsClient(
            server.base_url,
            KEY,
            timeout_s=CLIENT_TIMEOUT_S,
            max_attempts=8,
            backoff_base_s=0.01,
            sleep=waits.append,
        )
        answered: dict[str, int] = {}
        codes: dict[str, str] = {}
        for batch, answer in client.status(numbers):
            assert [entry["b_no"] for entry in answer["data"]] == batch
            for entry in answer["data"]:
                answered[entry["b_no"]] = answered.get(entry["b_no"], 0) + 1
                codes[entry["b_no"]] = entry["b_stt_cd"]
        report = injected(server.base_url)
        stats = requests.get(f"{server.base_url}/_sim/stats", timeout=5).json()
    counts = report["injected"]
    assert "duplicate" not in counts and report["active_kinds"] == ["429", "5xx", "timeout", "reset"]
    assert all(n >= 1 for n in counts.values()), counts
    assert answered == dict.fromkeys(numbers, 1)
    assert codes[numbers[0]] == "03" and codes[numbers[1]] == "01" and codes[numbers[9]] == ""
    assert stats["calls"] == -(-WINDOW // 100) == 10
    assert stats["numbers"] == stats["distinct_numbers"] == WINDOW
    assert (stats["max_batch"], stats["repeated_numbers"]) == (100, 0)
    assert stats["requests"] == stats["calls"] + sum(counts.values())
    assert waits.count(RETRY_AFTER_S) == counts["429"]
    assert len(waits) == sum(counts.values())


def test_nts_faults_off_changes_nothing():
    numbers = distinct_numbers(250)
    with (
        NtsServer(NtsState(nts_history(numbers), KEY)) as plain,
        NtsServer(NtsState(nts_history(numbers), KEY), faults=FaultPlan(0.0, 5)) as off,
    ):
        fail = lambda s: pytest.fail("no retry when faults are off")  # noqa: E731
        expected = list(NtsClient(plain.base_url, KEY, sleep=fail).status(numbers))
        assert list(NtsClient(off.base_url, KEY, sleep=fail).status(numbers)) == expected
        assert sum(injected(off.base_url)["injected"].values()) == 0
    assert [len(batch) for batch, _ in expected] == [100, 100, 50]


def test_nts_control_endpoint_and_stall_shutdown():
    with NtsServer(NtsState([], KEY)) as server:
        answer = requests.post(
            f"{server.base_url}/_sim/faults",
            json={"rate": 1, "kinds": ["timeout"], "timeout_s": 60},
            timeout=5,
        )
        assert answer.status_code == 200 and answer.json()["active_kinds"] == ["timeout"]
        client = NtsClient(
            server.base_url, KEY, timeout_s=CLIENT_TIMEOUT_S, max_attempts=2, sleep=lambda s: None
        )
        with pytest.raises(Exception, match="gave up after 2 attempts, last: ReadTimeout"):
            list(client.status(["1208147521"]))
        started = time.monotonic()
    assert time.monotonic() - started < 2
