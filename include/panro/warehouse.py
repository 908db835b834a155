"""The warehouse: the embedded PostgreSQL by default, or any server named by a URL.

Resolution order: ``WAREHOUSE_URL``; the Airflow connection ``panro_warehouse`` (resolved by the
plugin and handed in as ``WAREHOUSE_URL``); else the embedded server under the state folder, which
``pgserver`` starts without a system install (Unix socket only, nothing listens on TCP).
"""

from __future__ import annotations

import logging
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import psycopg

from panro.config import Settings, load_settings

log = logging.getLogger(__name__)


def start_embedded(pgdata: Path) -> str:
    """Start (or find running) the embedded PostgreSQL 16 in ``pgdata``; return its URL."""
    import pgserver  # imported lazily: only the embedded mode needs it

    pgdata.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 4):
        try:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); pgserver then uses /tmp.
                warnings.simplefilter("ignore", UserWarning)
                # cleanup_mode=None: the server outlives this process, so Airflow tasks and dbt share it.
                return pgserver.get_server(pgdata, cleanup_mode=None).get_uri()
        except subprocess.SubprocessError as exc:
            # pgserver gives pg_ctl 10 s; on a loaded machine the server may be up just after that.
            # The next attempt finds it running (postmaster.pid) or starts it again.
            if attempt == 3:
                raise
            log.warning("embedded PostgreSQL did not start in time (%s); trying again", exc)
            time.sleep(2)
    raise AssertionError("unreachable")


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server if it runs. Returns whether one was running."""
    if not (pgdata / "postmaster.pid").exists():
        return False
    import pgserver
    from pgserver._commands import pg_ctl

    server = pgserver.get_server(pgdata, cleanup_mode=None)
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=server.system_user)
    return True


def resolve_url(settings: Settings | None = None, *, start: bool = True) -> str:
    settings = settings or load_settings()
    if settings.warehouse_url:
        return settings.warehouse_url
    if not start:
        raise RuntimeError("WAREHOUSE_URL is not set and the embedded warehouse is not started")
    return start_embedded(settings.embedded_pgdata)


@contextmanager
def connect(url: str | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(url or resolve_url(), autocommit=autocommit)
    try:
        yield conn
        if not autocommit:
            conn.commit()
    except BaseException:
        if not autocommit:
            conn.rollback()
        raise
    finally:
        conn.close()


def ensure_schema(url: str) -> None:
    """Create the raw landing tables and the operational metadata (idempotent)."""
    ddl = resources.files("panro").joinpath("sql/warehouse.sql").read_text(encoding="utf-8")
    with connect(url) as conn:
        # One session-level advisory lock so parallel first loads do not race on CREATE.
        conn.execute("select pg_advisory_xact_lock(7242024)")
        conn.execute(ddl)


def dbt_env(url: str) -> dict[str, str]:
    """The environment variables ``dbt_project/profiles.yml`` reads, derived from a URL.

    A Unix-socket URL (``postgresql://postgres:@/postgres?host=/dir``) gives the socket folder as host,
    which libpq (and so dbt-postgres) accepts as is.
    """
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    host = query.get("host", [parsed.hostname or "localhost"])[0]
    return {
        "PANRO_PG_HOST": host,
        "PANRO_PG_PORT": str(parsed.port or int(query.get("port", ["5432"])[0])),
        "PANRO_PG_USER": unquote(parsed.username or "postgres"),
        "PANRO_PG_PASSWORD": unquote(parsed.password or ""),
        "PANRO_PG_DBNAME": (parsed.path or "/postgres").lstrip("/") or "postgres",
    }
