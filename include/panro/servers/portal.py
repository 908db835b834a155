"""The simulated 판판대로 portal API, serving a scenario as the contract of sources.md §1 says.

``GET /api/v1/applications?updated_since=&updated_until=&cursor=&limit=`` with a bearer token,
answering ``{"items": [...], "next_cursor": ...}`` ordered by ``(updated_at, application_id)``.
The window is half-open, ``updated_since <= updated_at < updated_until``, so consecutive daily
intervals never overlap.

The simulator's own control endpoint, ``POST /_sim/clock`` with ``{"now": "<ISO-8601>"}``, sets the
scenario clock: the portal shows only what existed by then. ``GET``/``POST /_sim/faults`` read and set
fault injection (``panro.servers.faults``: 429, 5xx, timeouts, resets, a record seen twice across pages),
off unless a :class:`FaultPlan` with a rate above zero is given. Only the replay harness and tests call
``/_sim/*``; the connector knows nothing of it.
"""

from __future__ import annotations

import base64
import bisect
import hmac
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from panro.servers.faults import FAULTS_PATH, FaultPlan, SimHandler, SimServer

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
    """The scenario's application versions, indexed by ``(updated_at, application_id)``.

    Each version is held as its JSON text, encoded once: a page is those texts joined, so serving a
    large scenario costs neither a dict per record in memory nor re-encoding every page."""

    def __init__(self, records: list[dict], token: str, clock: datetime | None = None) -> None:
        self._index((record, None) for record in records)
        self.token = token
        self.clock = clock
        self._lock = threading.Lock()

    def _index(self, versions: Iterable[tuple[dict, bytes | None]]) -> None:
        keyed = []
        for seq, (record, text) in enumerate(versions):
            application_id = record.get("application_id")
            updated_at = record.get("updated_at")
            if not isinstance(application_id, str) or not isinstance(updated_at, str):
                raise ValueError(f"scenario record {seq + 1}: application_id and updated_at are required")
            key = _Key(parse_instant(updated_at, f"record {seq + 1} updated_at"), application_id, seq)
            keyed.append((key, text if text is not None else _encode(record)))
        keyed.sort(key=lambda pair: pair[0])
        self._keys = [k for k, _ in keyed]
        self._texts = [t for _, t in keyed]

    @classmethod
    def from_scenario(cls, scenario_dir: Path, token: str, clock: datetime | None = None) -> PortalState:
        """The versions of ``portal/applications.jsonl``: each line is served as it is (it is the
        record's JSON); it is parsed once, for its key."""
        path = Path(scenario_dir) / "portal" / "applications.jsonl"
        state = cls([], token, clock)
        state._index(_scenario_lines(path))
        return state

    def set_clock(self, now: datetime | None) -> None:
        with self._lock:
            self.clock = now

    def select(
        self,
        since: datetime | None,
        until: datetime | None,
        cursor: str | None,
        limit: int,
        repeat_last: bool = False,
    ) -> tuple[range, str | None]:
        """The positions of one page's versions and the cursor of the next page (None: the last).

        ``repeat_last`` (a fault: the record changed while the client was paging) makes the next page
        start again with this page's last item, when there is a next page and this one holds at least
        two items (so paging still moves on)."""
        with self._lock:
            clock = self.clock
        start = bisect.bisect_right(self._keys, _decode_cursor(cursor)) if cursor else 0
        if since is not None:
            start = max(start, bisect.bisect_left(self._keys, _Key(since, "", -1)))
        # Keys are sorted and every one from ``start`` on is >= since: a page is a contiguous run.
        index = start
        while index < len(self._keys) and index - start < limit:
            key = self._keys[index]
            if (until is not None and key.updated_at >= until) or (
                clock is not None and key.updated_at > clock
            ):
                break
            index += 1
        positions = range(start, index)
        more = (
            len(positions) > 0
            and index < len(self._keys)
            and (until is None or self._keys[index].updated_at < until)
            and (clock is None or self._keys[index].updated_at <= clock)
        )
        if not more:
            return positions, None
        last = self._keys[index - 1]
        if repeat_last and len(positions) >= 2:
            # A key just before the last item's: the next page begins with the last item again.
            return positions, _encode_cursor(_Key(last.updated_at, last.application_id, last.seq - 1))
        return positions, _encode_cursor(last)

    def page(
        self,
        since: datetime | None,
        until: datetime | None,
        cursor: str | None,
        limit: int,
        repeat_last: bool = False,
    ) -> dict:
        """One page as the contract's JSON object (see :meth:`select`)."""
        positions, next_cursor = self.select(since, until, cursor, limit, repeat_last)
        return {"items": [json.loads(self._texts[i]) for i in positions], "next_cursor": next_cursor}

    def page_body(self, positions: range, next_cursor: str | None) -> bytes:
        """The page's HTTP body: the versions' JSON texts joined, without decoding them."""
        items = b",".join(self._texts[i] for i in positions)
        return b'{"items":[' + items + b'],"next_cursor":' + json.dumps(next_cursor).encode() + b"}"


def _encode(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _scenario_lines(path: Path) -> Iterator[tuple[dict, bytes]]:
    if not path.exists():
        return
    with path.open("rb") as f:
        for lineno, line in enumerate(f, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                record = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"{path}: line {lineno} is not JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise ValueError(f"{path}: line {lineno} is not a JSON object")  # noqa: TRY004
            yield record, text


def can_repeat_last(body: dict) -> bool:
    """Whether a page can carry the ``duplicate`` fault (see :meth:`PortalState.select`)."""
    return body.get("next_cursor") is not None and len(body.get("items") or []) >= 2


def _make_handler(
    state: PortalState, faults: FaultPlan, stopping: threading.Event
) -> type[BaseHTTPRequestHandler]:
    class Handler(SimHandler):
        server_version = "panro-portal-sim/1"
        sim_name = "portal"
        fault_kinds = ("429", "5xx", "timeout", "reset", "duplicate")

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            self.send_json(status, body, headers)

        def _authorised(self) -> bool:
            header = self.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), state.token)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlparse(self.path)
            if url.path == FAULTS_PATH:
                self.handle_faults_control("GET")
                return
            if url.path != "/api/v1/applications":
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no such resource: {url.path}"})
                return
            fault = self.draw_fault()
            if self.inject(fault):
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
                duplicate = fault is not None and fault.kind == "duplicate"
                positions, next_cursor = state.select(
                    since, until, query.get("cursor"), limit, repeat_last=duplicate
                )
            except BadRequest as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            if duplicate and next_cursor is not None and len(positions) >= 2:
                self.faults.record(fault)
                log.info("portal: injecting duplicate (request %d)", fault.request)
            self.send_body(HTTPStatus.OK, state.page_body(positions, next_cursor))

        def do_POST(self) -> None:  # noqa: N802
            path = urlparse(self.path).path
            if path == FAULTS_PATH:
                self.handle_faults_control("POST")
                return
            if path != "/_sim/clock":
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

    Handler.faults = faults
    Handler.stopping = stopping
    return Handler


class PortalServer(SimServer):
    """A running simulated portal on a background thread (``with PortalServer(...) as srv``)."""

    thread_name = "portal-sim"
    make_handler = staticmethod(_make_handler)
