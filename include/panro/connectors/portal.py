"""Client of the 판판대로 portal API (sources.md §1): paging, retries with backoff, Retry-After.

An ordinary client of the contract: base URL and token are configuration; it does not know whether
the other side is the real portal or the simulator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import requests

from panro.connectors.http import RETRY_STATUSES, RetryPolicy, send_with_retries
from panro.jsoncodec import parse_json

log = logging.getLogger(__name__)

__all__ = ["RETRY_STATUSES", "Page", "PortalAuthError", "PortalClient", "PortalError"]


class PortalError(RuntimeError):
    """The portal could not be read; the message names the request and the problem."""


class PortalAuthError(PortalError):
    """401: a bad or expired token. Not retried: retrying cannot fix it."""


@dataclass(frozen=True)
class Page:
    number: int
    cursor: str | None  # the cursor that asked for this page (None for the first)
    items: list[dict]
    size_bytes: int

    @property
    def label(self) -> str:
        return f"page={self.number} cursor={self.cursor or '-'}"


@dataclass
class PortalClient:
    base_url: str
    token: str
    page_size: int = 500
    timeout_s: float = 30.0
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if not self.base_url:
            raise PortalError("portal base URL is not configured (PORTAL_BASE_URL)")
        if not self.token:
            raise PortalError("portal token is not configured (PORTAL_TOKEN)")
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {self.token}"

    def _get(self, params: dict[str, str]) -> requests.Response:
        url = f"{self.base_url.rstrip('/')}/api/v1/applications"
        return send_with_retries(
            lambda: self._session.get(url, params=params, timeout=self.timeout_s),
            label=f"GET {url} {params}",
            policy=RetryPolicy(self.max_attempts, self.backoff_base_s, self.backoff_max_s, self.sleep),
            error=PortalError,
            auth_error=PortalAuthError,
            auth_hint="check PORTAL_TOKEN",
            system="portal",
            secrets=(self.token,),
            logger=log,
        )

    def pages(self, since: datetime, until: datetime) -> Iterator[Page]:
        """Every page of application versions with ``since <= updated_at < until``."""
        cursor: str | None = None
        number = 1
        while True:
            params = {
                "updated_since": since.isoformat(),
                "updated_until": until.isoformat(),
                "limit": str(self.page_size),
            }
            if cursor:
                params["cursor"] = cursor
            response = self._get(params)
            try:
                body = parse_json(response.content)
                items = body["items"]
                next_cursor = body.get("next_cursor")
            except (ValueError, KeyError, TypeError) as exc:
                raise PortalError(f"page {number}: the answer is not the contract's JSON: {exc}") from exc
            if not isinstance(items, list):
                raise PortalError(f"page {number}: 'items' is not a list")
            yield Page(number, cursor, items, len(response.content))
            if not next_cursor:
                return
            cursor = next_cursor
            number += 1
