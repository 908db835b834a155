"""Alerts: one JSON line per alert in the alerts log, and an HTTP POST when ``PANRO_ALERT_WEBHOOK``
is set. Failing to deliver a webhook is logged, never raised: an alert must not mask the failure."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

from panro.config import load_settings

log = logging.getLogger(__name__)


def send_alert(kind: str, **fields) -> dict:
    settings = load_settings()
    alert = {"at": datetime.now(UTC).isoformat(), "kind": kind, **fields}
    path = settings.logs_dir / "alerts.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(alert, ensure_ascii=False, default=str) + "\n")
    webhook = os.environ.get("PANRO_ALERT_WEBHOOK")
    if webhook:
        import requests

        try:
            requests.post(webhook, json=alert, timeout=10)
        except requests.RequestException as exc:
            log.error("alert webhook %s failed: %s", webhook, exc)
    log.error("ALERT %s", json.dumps(alert, ensure_ascii=False, default=str))
    return alert
