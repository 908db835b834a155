"""The simulated 국세청 business status API, serving a scenario as the contract of sources.md §5 says.

``POST /api/nts-businessman/v1/status?serviceKey=<key>`` with ``{"b_no": ["1208147521", ...]}`` (at most
100 numbers) answers ``{"status_code": "OK", "request_cnt": n, "match_cnt": m, "data": [...]}``, one
entry a number in request order. The real API answers the status *now*; the simulator answers as of
its clock (``POST /_sim/clock`` with ``{"now": "<ISO-8601>"}``, as the portal simulator) from the
scenario's ``nts/status.jsonl``: the line with the latest ``effective_from`` on or before the clock's
KST date wins; a number with no such line is unknown to the tax office.

Errors follow the real API's codes: ``BAD_JSON_REQUEST`` (400, not JSON), ``REQUEST_DATA_MALFORMED``
(411, no ``b_no`` list), ``TOO_LARGE_REQUEST`` (413, more than 100 numbers); a missing or wrong
``serviceKey`` is 401. ``GET /_sim/stats`` counts the calls and the numbers asked; ``/_sim/faults``
is fault injection (``panro.servers.faults``; no ``duplicate`` kind here).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from panro.brn import normalize_brn
from panro.servers.faults import FAULTS_PATH, FaultPlan, SimHandler, SimServer
from panro.servers.portal import BadRequest, parse_instant

log = logging.getLogger(__name__)

KST = timezone(timedelta(hours=9))
STATUS_PATH = "/api/nts-businessman/v1/status"
MAX_NUMBERS = 100

B_STT = {"01": "계속사업자", "02": "휴업자", "03": "폐업자"}
# tax_type_cd as the API's model lists them.
TAX_TYPES = {
    "01": "부가가치세 일반과세자",
    "02": "부가가치세 간이과세자",
    "03": "부가가치세 과세특례자",
    "04": "부가가치세 면세사업자",
    "05": "수익사업을 영위하지 않는 비영리법인이거나 고유번호가 부여된 단체,국가기관 등",
    "06": "고유번호가 부여된 단체",
    "07": "부가가치세 간이과세자(세금계산서 발급사업자)",
}
UNKNOWN_TAX_TYPE = "국세청에 등록되지 않은 사업자등록번호입니다."
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def unknown_entry(b_no: str) -> dict:
    return {
        "b_no": b_no,
        "b_stt": "",
        "b_stt_cd": "",
        "tax_type": UNKNOWN_TAX_TYPE,
        "tax_type_cd": "",
        "end_dt": "",
        "utcc_yn": "",
        "tax_type_change_dt": "",
        "invoice_apply_dt": "",
        "rbf_tax_type": "",
        "rbf_tax_type_cd": "",
    }


def _check_line(line: dict, where: str) -> tuple[str, date, dict]:
    """(b_no, effective_from, the answer entry) of one history line; ValueError naming the problem."""
    b_no = normalize_brn(line.get("b_no"))
    if b_no is None:
        raise ValueError(f"{where}: b_no is not a 10-digit business number: {line.get('b_no')!r}")
    code = line.get("b_stt_cd")
    if code not in B_STT and code != "":
        raise ValueError(f"{where}: b_stt_cd must be 01, 02, 03 or empty, got {code!r}")
    end_dt = line.get("end_dt") or ""
    if not isinstance(end_dt, str) or (end_dt and not (len(end_dt) == 8 and end_dt.isdigit())):
        raise ValueError(f"{where}: end_dt must be YYYYMMDD or empty, got {end_dt!r}")
    effective_from = line.get("effective_from")
    try:
        if not isinstance(effective_from, str) or not _ISO_DATE.fullmatch(effective_from):
            raise ValueError("not YYYY-MM-DD")
        effective = date.fromisoformat(effective_from)
    except ValueError as exc:
        raise ValueError(f"{where}: effective_from must be YYYY-MM-DD, got {effective_from!r}") from exc
    if code == "":  # the registration withdrawn: from then on the number is unknown
        return b_no, effective, unknown_entry(b_no)
    tax_cd = str(line.get("tax_type_cd") or "01")
    if tax_cd not in TAX_TYPES:
        raise ValueError(f"{where}: tax_type_cd must be one of {sorted(TAX_TYPES)}, got {tax_cd!r}")
    return (
        b_no,
        effective,
        {
            "b_no": b_no,
            "b_stt": B_STT[code],
            "b_stt_cd": code,
            "tax_type": TAX_TYPES[tax_cd],
            "tax_type_cd": tax_cd,
            "end_dt": end_dt,
            "utcc_yn": "N",
            "tax_type_change_dt": "",
            "invoice_apply_dt": "",
            "rbf_tax_type": "해당없음",
            "rbf_tax_type_cd": "99",
        },
    )


def load_status_history(scenario_dir: Path) -> list[dict]:
    """The lines of ``<scenario>/nts/status.jsonl`` in file order ([] if the file is absent)."""
    from panro.simulate import read_jsonl

    return read_jsonl(Path(scenario_dir) / "nts" / "status.jsonl")


class NtsState:
    """Every number's status history, answered as of the clock; counts the calls it answered."""

    def __init__(self, history: list[dict], service_key: str, clock: datetime | None = None) -> None:
        timeline: dict[str, list[tuple[date, int, dict]]] = {}
        for seq, line in enumerate(history):
            if not isinstance(line, dict):
                raise ValueError(f"status history line {seq + 1}: not an object")
            b_no, effective, entry = _check_line(line, f"status history line {seq + 1}")
            timeline.setdefault(b_no, []).append((effective, seq, entry))
        for changes in timeline.values():
            changes.sort(key=lambda change: change[:2])  # same day: the later line wins
        self._timeline = timeline
        self.service_key = service_key
        self.clock = clock
        self._lock = threading.Lock()
        self._requests = 0
        self._calls = 0
        self._numbers = 0
        self._max_batch = 0
        self._asked: Counter[str] = Counter()

    @classmethod
    def from_scenario(cls, scenario_dir: Path, service_key: str, clock: datetime | None = None) -> NtsState:
        return cls(load_status_history(scenario_dir), service_key, clock)

    def set_clock(self, now: datetime | None) -> None:
        with self._lock:
            self.clock = now

    def as_of(self) -> date | None:
        """The KST date the status is answered for (None: no clock, the latest status)."""
        with self._lock:
            clock = self.clock
        return clock.astimezone(KST).date() if clock is not None else None

    def entry(self, b_no: str, as_of: date | None) -> dict:
        current = None
        for effective, _, entry in self._timeline.get(b_no, ()):
            if as_of is not None and effective > as_of:
                break
            current = entry
        return dict(current) if current is not None else unknown_entry(b_no)

    def answer(self, b_nos: list[str]) -> dict:
        """The answer to one call (counted in :meth:`stats`)."""
        as_of = self.as_of()
        data = [self.entry(b_no, as_of) for b_no in b_nos]
        with self._lock:
            self._calls += 1
            self._numbers += len(b_nos)
            self._max_batch = max(self._max_batch, len(b_nos))
            self._asked.update(b_nos)
        return {
            "status_code": "OK",
            "request_cnt": len(b_nos),
            "match_cnt": sum(1 for entry in data if entry["b_stt_cd"]),
            "data": data,
        }

    def count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def stats(self) -> dict:
        """``requests``: every status request; ``calls``/``numbers``: those answered 200 and the numbers
        in them; ``distinct_numbers``; ``max_batch``; ``repeated_numbers``: numbers answered more than once."""
        with self._lock:
            return {
                "requests": self._requests,
                "calls": self._calls,
                "numbers": self._numbers,
                "distinct_numbers": len(self._asked),
                "max_batch": self._max_batch,
                "repeated_numbers": sum(1 for n in self._asked.values() if n > 1),
            }


def _nts_error(status: int, code: str, message: str) -> tuple[int, dict]:
    return status, {"status_code": code, "message": message}


def _make_handler(state: NtsState, faults: FaultPlan, stopping: threading.Event) -> type[SimHandler]:
    class Handler(SimHandler):
        server_version = "panro-nts-sim/1"
        sim_name = "nts"
        fault_kinds = ("429", "5xx", "timeout", "reset")

        def error_body(self, status: int, message: str) -> dict:
            code = "INTERNAL_ERROR" if status == 500 else "HTTP_ERROR"
            return {"status_code": code, "message": message}

        def _authorised(self, query: dict[str, str]) -> bool:
            given = query.get("serviceKey", "")
            return bool(given) and hmac.compare_digest(given.encode(), state.service_key.encode())

        def _parse(self, raw: bytes) -> tuple[int, dict] | list[str]:
            """The numbers asked, or the (status, body) of the refusal."""
            try:
                payload = json.loads(raw)
            except ValueError:
                return _nts_error(HTTPStatus.BAD_REQUEST, "BAD_JSON_REQUEST", "the body is not JSON")
            b_nos = payload.get("b_no") if isinstance(payload, dict) else None
            if not isinstance(b_nos, list) or not b_nos or not all(isinstance(b, str) for b in b_nos):
                return _nts_error(
                    HTTPStatus.LENGTH_REQUIRED,
                    "REQUEST_DATA_MALFORMED",
                    "b_no: a non-empty list of business numbers (strings) is required",
                )
            if len(b_nos) > MAX_NUMBERS:
                return _nts_error(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    "TOO_LARGE_REQUEST",
                    f"b_no: at most {MAX_NUMBERS} numbers a call, got {len(b_nos)}",
                )
            return b_nos

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = urlparse(self.path).path
            if path == FAULTS_PATH:
                self.handle_faults_control("GET")
            elif path == "/_sim/stats":
                self.send_json(HTTPStatus.OK, state.stats())
            else:
                self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no such resource: {path}"})

        def do_POST(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            if url.path == FAULTS_PATH:
                self.handle_faults_control("POST")
                return
            if url.path == "/_sim/clock":
                self._set_clock()
                return
            if url.path != STATUS_PATH:
                self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no such resource: {url.path}"})
                return
            raw = self.read_body()  # read before any fault, so that closing never resets an unread request
            state.count_request()
            if self.inject(self.draw_fault()):
                return
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if not self._authorised(query):
                self.send_json(
                    HTTPStatus.UNAUTHORIZED, {"code": -4, "msg": "등록되지 않은 인증키입니다. (serviceKey)"}
                )
                return
            parsed = self._parse(raw)
            if isinstance(parsed, tuple):
                self.send_json(*parsed)
                return
            self.send_json(HTTPStatus.OK, state.answer(parsed))

        def _set_clock(self) -> None:
            try:
                payload = json.loads(self.read_body() or b"{}")
                now = parse_instant(payload["now"], "now") if payload.get("now") else None
            except (ValueError, KeyError, TypeError, AttributeError, BadRequest) as exc:
                self.send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            state.set_clock(now)
            self.send_json(HTTPStatus.OK, {"now": now.isoformat() if now else None})

    Handler.faults = faults
    Handler.stopping = stopping
    return Handler


class NtsServer(SimServer):
    """A running simulated NTS status API on a background thread (``with NtsServer(...) as srv``)."""

    thread_name = "nts-sim"
    make_handler = staticmethod(_make_handler)
