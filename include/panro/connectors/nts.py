"""Client of the 국세청 business status API (sources.md §5; data.go.kr 15081808).

``POST {base}/api/nts-businessman/v1/status?serviceKey=<key>`` with ``{"b_no": [...]}``, at most 100
numbers a call. The client normalises the numbers (10 digits, separators removed), drops the ones that
are not 10 digits (logging them) and repeats, asks in batches, retries what can be retried (429 with
Retry-After, 5xx, timeouts, connection errors; never 401) and checks every answer's shape.

An ordinary client of the contract: base URL and service key are configuration (``NTS_BASE_URL``,
``NTS_SERVICE_KEY``); it does not know whether the other side is the tax office or the simulator.
The service key travels in the query string, so it is kept out of every message and log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import requests

from panro.brn import normalize_brn
from panro.connectors.http import RetryPolicy, redactor, send_with_retries
from panro.jsoncodec import parse_json

log = logging.getLogger(__name__)

STATUS_PATH = "/api/nts-businessman/v1/status"
MAX_BATCH = 100
STATUS_CODES = frozenset({"01", "02", "03", ""})


class NtsError(RuntimeError):
    """The status API could not be read, or answered out of contract; the message says which batch and why."""


class NtsAuthError(NtsError):
    """401: a bad or expired service key. Not retried: retrying cannot fix it."""


def check_answer(batch: list[str], body: object) -> dict:
    """The answer if it has the contract's shape for this batch; NtsError naming the problem otherwise."""
    where = f"batch of {len(batch)}"
    if not isinstance(body, dict):
        raise NtsError(f"{where}: the answer is not a JSON object")
    if body.get("status_code") != "OK":
        raise NtsError(f"{where}: status_code is {body.get('status_code')!r}, not 'OK'")
    data = body.get("data")
    if not isinstance(data, list):
        raise NtsError(f"{where}: 'data' is not a list")
    asked = set(batch)
    answered: set[str] = set()
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise NtsError(f"{where}: data[{index}] is not an object")
        b_no = entry.get("b_no")
        if b_no not in asked:
            raise NtsError(f"{where}: data[{index}] answers b_no {b_no!r}, which was not asked")
        code = entry.get("b_stt_cd")
        if code not in STATUS_CODES:
            raise NtsError(f"{where}: data[{index}] (b_no {b_no}) has b_stt_cd {code!r}, not 01/02/03/''")
        answered.add(b_no)
    missing = [b for b in batch if b not in answered]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise NtsError(f"{where}: {len(missing)} number(s) asked but not answered: {shown}")
    return body


@dataclass
class NtsClient:
    base_url: str
    service_key: str
    batch_size: int = MAX_BATCH
    timeout_s: float = 30.0
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if not self.base_url:
            raise NtsError("NTS base URL is not configured (NTS_BASE_URL)")
        if not self.service_key:
            raise NtsError("NTS service key is not configured (NTS_SERVICE_KEY)")
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise NtsError(f"batch_size must be 1..{MAX_BATCH}, got {self.batch_size}")
        self._session = requests.Session()
        self._redact = redactor([self.service_key])

    def batches(self, b_nos: Iterable[str]) -> Iterator[list[str]]:
        """Distinct normalised numbers in first-seen order, ``batch_size`` at a time."""
        seen: set[str] = set()
        batch: list[str] = []
        dropped = 0
        for value in b_nos:
            number = normalize_brn(value)
            if number is None:
                dropped += 1
                log.warning("nts: skipping %r: not a 10-digit business registration number", value)
                continue
            if number in seen:
                continue
            seen.add(number)
            batch.append(number)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
        if dropped:
            log.warning(
                "nts: skipped %d value(s) that are not 10-digit business registration numbers", dropped
            )

    def _post(self, batch: list[str]) -> requests.Response:
        url = f"{self.base_url.rstrip('/')}{STATUS_PATH}"
        return send_with_retries(
            lambda: self._session.post(
                url, params={"serviceKey": self.service_key}, json={"b_no": batch}, timeout=self.timeout_s
            ),
            label=f"POST {url} (batch of {len(batch)})",
            policy=RetryPolicy(self.max_attempts, self.backoff_base_s, self.backoff_max_s, self.sleep),
            error=NtsError,
            auth_error=NtsAuthError,
            auth_hint="check NTS_SERVICE_KEY",
            system="nts",
            secrets=(self.service_key,),
            logger=log,
        )

    def status(self, b_nos: Iterable[str]) -> Iterator[tuple[list[str], dict]]:
        """``(the batch asked, the answer)`` for every batch of the numbers, each number asked once."""
        for batch in self.batches(b_nos):
            response = self._post(batch)
            try:
                body = parse_json(response.content)
            except ValueError as exc:
                raise NtsError(
                    f"batch of {len(batch)}: the answer is not JSON: {self._redact(str(exc))}"
                ) from exc
            yield batch, check_answer(batch, body)
