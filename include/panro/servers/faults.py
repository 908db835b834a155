"""Fault injection for the simulated API servers: the failure modes of sources.md §1 on demand.

A :class:`FaultPlan` decides, for every request to a server's contract endpoint, whether to misbehave.
The decision is a pure function of the plan's seed and a request counter, so a run with the same seed
and the same requests meets the same faults. The kinds:

``429``        answer ``429 Too Many Requests`` with ``Retry-After: <retry_after_s>``;
``5xx``        answer 500, 502, 503 or 504;
``timeout``    say nothing for ``timeout_s`` seconds, then close the connection (longer than the
               client's read timeout, so the client times out); a server being stopped wakes it at once;
``reset``      close the connection without an answer (the client sees a connection reset);
``duplicate``  (portal only) "a record changed while the client was paging": the page's last item is
               served again as the first item of the next page, so the client sees one record twice.

Faults are off unless the plan's rate is above zero. A running server can be reconfigured with
``POST /_sim/faults`` (``{"rate": 0.3, "seed": 1, "kinds": [...], "retry_after_s": 1, "timeout_s": 5,
"reset_counts": false}``, every field optional) and reports what it injected on ``GET /_sim/faults``.
Only the simulator's own control clients call ``/_sim/*``; the connectors know nothing of it.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

ALL_KINDS = ("429", "5xx", "timeout", "reset", "duplicate")
DEFAULT_KINDS = ALL_KINDS
SERVER_ERRORS = (500, 502, 503, 504)
# Longer than the connectors' default read timeout (30 s), so that a stall is a timeout to them.
DEFAULT_STALL_S = 35.0

FAULTS_PATH = "/_sim/faults"


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int | None = None  # the HTTP status of a 429 or 5xx fault
    request: int = 0  # the request counter the decision was drawn for


def _check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    if isinstance(kinds, str):
        raise ValueError(f"kinds: expected a list of kinds, got the string {kinds!r}")
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in ALL_KINDS]
    if unknown:
        raise ValueError(f"kinds: unknown fault kind(s) {unknown}; known: {list(ALL_KINDS)}")
    return tuple(dict.fromkeys(kinds))


def _check_rate(rate: object) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate: must be a number in 0..1, got {rate!r}")
    return float(rate)


def _check_seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name}: must be a non-negative number of seconds, got {value!r}")
    return float(value)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: must be an integer, got {seed!r}")
    return seed


class FaultPlan:
    """Which requests fail and how; thread-safe, counts every fault it made a server inject.

    Give each server its own plan: the request counter is the plan's, so two servers sharing one plan
    would draw from one sequence.
    """

    def __init__(
        self,
        rate: float = 0.0,
        seed: int = 0,
        kinds: Iterable[str] = DEFAULT_KINDS,
        retry_after_s: float = 1.0,
        timeout_s: float = DEFAULT_STALL_S,
    ) -> None:
        self.rate = _check_rate(rate)
        self.seed = _check_seed(seed)
        self.kinds = _check_kinds(kinds)
        self.retry_after_s = _check_seconds(retry_after_s, "retry_after_s")
        self.timeout_s = _check_seconds(timeout_s, "timeout_s")
        self._lock = threading.Lock()
        self._requests = 0  # requests drawn for since the last (re)configuration
        self._seen = 0  # requests drawn for over the plan's life
        self._injected: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and bool(self.kinds)

    def configure(self, settings: dict) -> None:
        """Apply ``POST /_sim/faults`` settings; restarts the decision sequence. Raises ValueError."""
        if not isinstance(settings, dict):
            raise ValueError("expected a JSON object")
        known = {"rate", "seed", "kinds", "retry_after_s", "timeout_s", "reset_counts"}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
        rate = _check_rate(settings["rate"]) if "rate" in settings else self.rate
        seed = _check_seed(settings["seed"]) if "seed" in settings else self.seed
        kinds = _check_kinds(settings["kinds"]) if "kinds" in settings else self.kinds
        retry_after = (
            _check_seconds(settings["retry_after_s"], "retry_after_s")
            if "retry_after_s" in settings
            else self.retry_after_s
        )
        stall = (
            _check_seconds(settings["timeout_s"], "timeout_s") if "timeout_s" in settings else self.timeout_s
        )
        with self._lock:
            self.rate, self.seed, self.kinds = rate, seed, kinds
            self.retry_after_s, self.timeout_s = retry_after, stall
            self._requests = 0
            if settings.get("reset_counts"):
                self._injected.clear()
                self._statuses.clear()
                self._seen = 0

    def draw(self, supported: Iterable[str] = ALL_KINDS) -> Fault | None:
        """The fault for the next request (None: answer normally), among the kinds the server supports."""
        supported = set(supported)
        with self._lock:
            number = self._requests
            self._requests += 1
            self._seen += 1
            rate, seed = self.rate, self.seed
            active = [k for k in self.kinds if k in supported]
        if rate <= 0 or not active:
            return None
        rng = random.Random(f"panro-faults/{seed}/{number}")
        if rng.random() >= rate:
            return None
        kind = rng.choice(active)
        status = {"429": 429, "5xx": rng.choice(SERVER_ERRORS)}.get(kind)
        return Fault(kind, status, number)

    def record(self, fault: Fault) -> None:
        """Count a fault that was really injected."""
        with self._lock:
            self._injected[fault.kind] += 1
            if fault.status is not None:
                self._statuses[fault.status] += 1

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return {kind: self._injected.get(kind, 0) for kind in ALL_KINDS}

    def snapshot(self, supported: Iterable[str] = ALL_KINDS) -> dict:
        """What ``GET /_sim/faults`` answers: the settings and the faults injected so far."""
        supported = set(supported)
        with self._lock:
            return {
                "rate": self.rate,
                "seed": self.seed,
                "kinds": list(self.kinds),
                "active_kinds": [k for k in self.kinds if k in supported],
                "retry_after_s": self.retry_after_s,
                "timeout_s": self.timeout_s,
                "requests": self._seen,
                "injected": {kind: self._injected.get(kind, 0) for kind in ALL_KINDS if kind in supported},
                "statuses": {str(status): n for status, n in sorted(self._statuses.items())},
            }


def _retry_after_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class SimHandler(BaseHTTPRequestHandler):
    """Request handler base of the simulated servers: JSON answers, fault injection, ``/_sim/faults``.

    A server makes a subclass with ``faults`` (its :class:`FaultPlan`), ``stopping`` (an Event set when
    the server stops, which ends stalls at once) and ``fault_kinds`` (the kinds it can inject).
    """

    faults: FaultPlan
    stopping: threading.Event
    fault_kinds: tuple[str, ...] = ("429", "5xx", "timeout", "reset")
    sim_name = "sim"

    def log_message(self, fmt: str, *args) -> None:  # route access logs to logging, not stderr
        log.debug("%s %s " + fmt, self.sim_name, self.address_string(), *args)

    def send_json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), headers)

    def send_body(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        """Send ``data``, already JSON encoded in UTF-8."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def error_body(self, status: int, message: str) -> dict:
        """The body of an error answer, in the server's own error shape."""
        return {"error": message}

    # -- faults ---------------------------------------------------------------------------------

    def draw_fault(self) -> Fault | None:
        return self.faults.draw(self.fault_kinds)

    def inject(self, fault: Fault | None) -> bool:
        """Carry out a fault that replaces the answer; True if it did (the handler must then return).

        ``duplicate`` (and None) return False: the server answers normally and applies it itself.
        """
        if fault is None or fault.kind == "duplicate":
            return False
        self.faults.record(fault)
        log.info("%s: injecting %s (request %d)", self.sim_name, fault.status or fault.kind, fault.request)
        if fault.kind == "429":
            self.send_json(
                HTTPStatus.TOO_MANY_REQUESTS,
                self.error_body(429, "too many requests"),
                {"Retry-After": _retry_after_header(self.faults.retry_after_s)},
            )
        elif fault.kind == "5xx":
            status = HTTPStatus(fault.status or 500)
            self.send_json(status, self.error_body(status, status.phrase.lower()))
        elif fault.kind == "timeout":
            # Say nothing for longer than the client waits, then hang up; a stopping server ends it now.
            self.stopping.wait(self.faults.timeout_s)
            self.close_connection = True
        elif fault.kind == "reset":
            self.close_connection = True
            try:  # linger 0: closing sends a reset rather than an orderly end of stream
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        return True

    def handle_faults_control(self, method: str) -> None:
        """``GET /_sim/faults`` (settings and counts) or ``POST /_sim/faults`` (reconfigure)."""
        if method == "POST":
            try:
                payload = json.loads(self.read_body() or b"{}")
                self.faults.configure(payload)
            except ValueError as exc:  # JSONDecodeError is a ValueError
                self.send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            log.info("%s: faults now %s", self.sim_name, self.faults.snapshot(self.fault_kinds))
        self.send_json(HTTPStatus.OK, self.faults.snapshot(self.fault_kinds))


class SimServer:
    """A simulated external system running on a background thread (``with Server(...) as srv``).

    Subclasses give ``make_handler(state, faults, stopping)`` and a thread name; faults are off until
    configured (``POST /_sim/faults``) unless a plan is given.
    """

    thread_name = "sim"

    @staticmethod
    def make_handler(state, faults: FaultPlan, stopping: threading.Event) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def __init__(
        self, state, host: str = "127.0.0.1", port: int = 0, faults: FaultPlan | None = None
    ) -> None:
        self.state = state
        self.faults = faults if faults is not None else FaultPlan()
        self._stopping = threading.Event()
        self.httpd = ThreadingHTTPServer((host, port), self.make_handler(state, self.faults, self._stopping))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # ends injected stalls at once
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
