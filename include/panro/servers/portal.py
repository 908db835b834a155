"""The simulated 판판대로 portal API, serving a scenario as the contract of sources.md §1 says.

``GET /api/v1/applications?updated_since=&updated_until=&cursor=&limit=`` with a bearer token,
answering ``{"items": [...], "next_cursor": ...}`` ordered by ``(updated_at, application_id)``.
The window is half-open, ``updated_since <= updated_at < updated_until``, so consecutive daily
intervals never overlap.

The simulator's own control endpoint, ``POST /_sim/clock`` with ``{"now": "<ISO-8601>"}``, sets the
scenario clock: the portal shows only what existed by then. Only the replay harness calls it; the
connector knows nothing of it.
"""

from __future__ import annotations

import base64
import bisect
import hmac
import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

log = logging.getLogger(__name__)

MAX_LIMIT = 500
DEFAULT_LIMIT = 100


class BadRequest(ValueError):
    pass


def parse_instant(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: not an ISO-8601 timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        raise BadRequest(f"{name}: timestamp needs a UTC offset: {value!r}")
    return parsed


@dataclass(frozen=True, order=True)
class _Key:
    updated_at: datetime
    application_id: str
    seq: int  # position in the scenario file: keeps identical keys (a repeated line) in a stable order


def _encode_cursor(key: _Key) -> str:
    raw = json.dumps([key.updated_at.isoformat(), key.application_id, key.seq]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> _Key:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        updated_at, application_id, seq = json.loads(base64.urlsafe_b64decode(padded))
        return _Key(datetime.fromisoformat(updated_at), str(application_id), int(seq))
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"cursor: not a cursor this server issued: {cursor!r}") from exc


class PortalState:
    """The scenario's application versions, indexed by ``(updated_at, application_id)``."""

    def __init__(self, records: list[dict], token: str, clock: datetime | None = None) -> None:
        keyed = []
        for seq, record in enumerate(records):
            application_id = record.get("application_id")
            updated_at = record.get("updated_at")
            if not isinstance(application_id, str) or not isinstance(updated_at, str):
                raise ValueError(f"scenario record {seq + 1}: application_id and updated_at are required")
            key = _Key(parse_instant(updated_at, f"record {seq + 1} updated_at"), application_id, seq)
            keyed.append((key, record))
        keyed.sort(key=lambda pair: pair[0])
        self._keys = [k for k, _ in keyed]
        self._records = [r for _, r in keyed]
        self.token = token
        self.clock = clock
        self._lock = threading.Lock()

    @classmethod
    def from_scenario(cls, scenario_dir: Path, token: str, clock: datetime | None = None) -> PortalState:
        from panro.simulate import load_portal_versions

        return cls(load_portal_versions(scenario_dir), token, clock)

    def set_clock(self, now: datetime | None) -> None:
        with self._lock:
            self.clock = now

    def page(self, since: datetime | None, until: datetime | None, cursor: str | None, limit: int) -> dict:
        with self._lock:
            clock = self.clock
        if cursor:
            start = bisect.bisect_right(self._keys, _decode_cursor(cursor))
        elif since is not None:
            start = bisect.bisect_left(self._keys, _Key(since, "", -1))
        else:
            start = 0
        items: list[dict] = []
        last: _Key | None = None
        index = start
        while index < len(self._keys) and len(items) < limit:
            key = self._keys[index]
            if (until is not None and key.updated_at >= until) or (
                clock is not None and key.updated_at > clock
            ):
                break
            if since is None or key.updated_at >= since:
                items.append(self._records[index])
                last = key
            index += 1
        more = (
            last is not None
            and index < len(self._keys)
            and (until is None or self._keys[index].updated_at < until)
            and (clock is None or self._keys[index].updated_at <= clock)
        )
        return {"items": items, "next_cursor": _encode_cursor(last) if more else None}


def _make_handler(state: PortalState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "panro-portal-sim/1"

        def log_message(self, fmt: str, *args) -> None:  # route access logs to logging, not stderr
            log.debug("portal %s " + fmt, self.address_string(), *args)

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            header = self.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), state.token)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlparse(self.path)
            if url.path != "/api/v1/applications":
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no such resource: {url.path}"})
                return
            if not self._authorised():
                self._send(HTTPStatus.UNAUTHORIZED, {"error": "missing or invalid bearer token"})
                return
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                since = (
                    parse_instant(query["updated_since"], "updated_since")
                    if "updated_since" in query
                    else None
                )
                until = (
                    parse_instant(query["updated_until"], "updated_until")
                    if "updated_until" in query
                    else None
                )
                try:
                    limit = int(query.get("limit", DEFAULT_LIMIT))
                except ValueError as exc:
                    raise BadRequest(f"limit: not an integer: {query.get('limit')!r}") from exc
                if not 1 <= limit <= MAX_LIMIT:
                    raise BadRequest(f"limit: must be 1..{MAX_LIMIT}, got {limit}")
                body = state.page(since, until, query.get("cursor"), limit)
            except BadRequest as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            self._send(HTTPStatus.OK, body)

        def do_POST(self) -> None:  # noqa: N802
            if urlparse(self.path).path != "/_sim/clock":
                self._send(HTTPStatus.NOT_FOUND, {"error": "no such resource"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                now = parse_instant(payload["now"], "now") if payload.get("now") else None
            except (ValueError, KeyError) as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            state.set_clock(now)
            self._send(HTTPStatus.OK, {"now": now.isoformat() if now else None})

    return Handler


class PortalServer:
    """A running simulated portal on a background thread (``with PortalServer(...) as srv``)."""

    def __init__(self, state: PortalState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.httpd = ThreadingHTTPServer((host, port), _make_handler(state))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="portal-sim", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> PortalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> PortalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
