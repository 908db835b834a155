"""The connectors' one way of calling an HTTP API: retry 429 (honouring Retry-After), 5xx, timeouts and
connection errors with exponential backoff; never retry 401; name the request and the problem on failure.

Nothing here knows the simulator: these are the failure modes any external API shows.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import quote, quote_plus

import requests

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, attempt: int, response: requests.Response | None) -> float:
        """Retry-After when the server gave one in seconds, else base * 2^(attempt-1), capped."""
        if response is not None and response.headers.get("Retry-After"):
            try:
                return max(0.0, min(float(response.headers["Retry-After"]), self.backoff_max_s))
            except ValueError:
                pass  # an HTTP-date Retry-After: fall back to exponential backoff
        return min(self.backoff_base_s * 2 ** (attempt - 1), self.backoff_max_s)


def redactor(secrets: Iterable[str | None]) -> Callable[[str], str]:
    """A function hiding the secrets (and their URL-encoded forms) in a message."""
    forms = sorted(
        {form for s in secrets if s for form in (s, quote(s, safe=""), quote_plus(s), quote(s))},
        key=len,
        reverse=True,
    )

    def redact(text: str) -> str:
        for form in forms:
            text = text.replace(form, "***")
        return text

    return redact


def send_with_retries(
    send: Callable[[], requests.Response],
    *,
    label: str,
    policy: RetryPolicy,
    error: type[Exception],
    auth_error: type[Exception],
    auth_hint: str,
    system: str,
    secrets: Iterable[str | None] = (),
    logger: logging.Logger = log,
) -> requests.Response:
    """Call ``send`` until it answers 200; raise ``auth_error`` on 401, ``error`` otherwise.

    ``label`` names the request in messages (it must not hold a secret); ``secrets`` are scrubbed from
    the problems reported (a requests error message can quote the URL with its query string).
    """
    redact = redactor(secrets)
    for attempt in range(1, policy.max_attempts + 1):
        response: requests.Response | None = None
        try:
            response = send()
        except (requests.ConnectionError, requests.Timeout) as exc:
            problem = redact(f"{type(exc).__name__}: {exc}")
        else:
            if response.status_code == 200:
                return response
            if response.status_code == 401:
                raise auth_error(f"{label}: 401 unauthorised ({auth_hint})")
            if response.status_code not in RETRY_STATUSES:
                raise error(f"{label}: HTTP {response.status_code}: {redact(response.text[:300])}")
            problem = f"HTTP {response.status_code}"
        if attempt == policy.max_attempts:
            raise error(f"{label}: gave up after {attempt} attempts, last: {problem}")
        delay = policy.delay(attempt, response)
        logger.warning(
            "%s %s (attempt %d/%d), retrying in %.1fs", system, problem, attempt, policy.max_attempts, delay
        )
        policy.sleep(delay)
    raise AssertionError("unreachable")


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced by a thread up to ``depth`` ahead of the reader: the next page is asked for
    and received while this one is stored (the wait on the other side overlaps the work on ours). An
    exception in the producer is raised to the reader, in order; a reader that stops early stops the
    producer at its next item, and waits for it."""
    done = object()
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                box.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as exc:  # handed to the reader, which raises it
            put((done, exc))

    producer = threading.Thread(target=produce, name="read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            item, error = box.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        # waits for a request in flight, so that the client is never used by two threads at once
        producer.join()
