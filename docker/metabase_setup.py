"""Connect Metabase to the panro warehouse as the BI login (service metabase-init of docker-compose.yml).

Idempotent: the first run creates Metabase's admin (setup token) and the warehouse connection; later
runs log in and update the connection (a rotated BI password). The connection uses the login in the
``panro_bi`` group (PANRO_BI_USER / PANRO_BI_PASSWORD), which reads schema ``marts`` only, and Metabase
is told to sync that schema only. Standard library only; every value comes from the environment.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

CONNECTION_NAME = "panro warehouse (marts)"


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise SystemExit(f"metabase-setup: {name} is not set")
    return value


def _call(base: str, method: str, path: str, body: dict | None = None, session: str | None = None):
    request = urllib.request.Request(
        base.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **({"X-Metabase-Session": session} if session else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:  # name the call and what Metabase said, never the body we sent
        raise SystemExit(
            f"metabase-setup: {method} {path} -> {exc.code}: {exc.read().decode()[:500]}"
        ) from exc
    return json.loads(text) if text else None


def wait_until_healthy(base: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if _call(base, "GET", "/api/health").get("status") == "ok":
                return
        except (OSError, SystemExit):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"metabase-setup: {base} not healthy after {seconds:.0f}s")
        time.sleep(2)


def main() -> int:
    base = _env("METABASE_URL", "http://metabase:3000")
    email, password = _env("METABASE_ADMIN_EMAIL"), _env("METABASE_ADMIN_PASSWORD")
    details = {
        "host": _env("METABASE_WAREHOUSE_HOST", "warehouse"),
        "port": int(_env("METABASE_WAREHOUSE_PORT", "5432")),
        "dbname": _env("METABASE_WAREHOUSE_DB", "panro"),
        "user": _env("PANRO_BI_USER"),
        "password": _env("PANRO_BI_PASSWORD"),
        "ssl": False,  # inside the compose network
        "schema-filters-type": "inclusion",
        "schema-filters-patterns": "marts",
    }
    wait_until_healthy(base, float(os.environ.get("METABASE_WAIT_S", "300")))

    properties = _call(base, "GET", "/api/session/properties")
    if not properties.get("has-user-setup"):
        session = _call(
            base,
            "POST",
            "/api/setup",
            {
                "token": properties["setup-token"],
                "user": {
                    "email": email,
                    "password": password,
                    "first_name": "panro",
                    "last_name": "admin",
                    "site_name": "panro",
                },
                "prefs": {"site_name": "panro", "site_locale": "ko", "allow_tracking": False},
            },
        )["id"]
        print(f"metabase-setup: admin {email} created")
    else:
        session = _call(base, "POST", "/api/session", {"username": email, "password": password})["id"]

    listed = _call(base, "GET", "/api/database", session=session)
    databases = listed["data"] if isinstance(listed, dict) else listed
    existing = next((d for d in databases if d.get("name") == CONNECTION_NAME), None)
    if existing is None:
        body = {"engine": "postgres", "name": CONNECTION_NAME, "details": details, "is_full_sync": True}
        _call(base, "POST", "/api/database", body, session=session)
        print(f"metabase-setup: connection {CONNECTION_NAME!r} added as {details['user']}")
    else:
        _call(base, "PUT", f"/api/database/{existing['id']}", {"details": details}, session=session)
        print(f"metabase-setup: connection {CONNECTION_NAME!r} updated as {details['user']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
