"""The warehouse: the embedded PostgreSQL by default, or any server named by a URL.

Resolution order: ``WAREHOUSE_URL``; the Airflow connection ``panro_warehouse`` (resolved by the
plugin and handed in as ``WAREHOUSE_URL``); else the embedded server under the state folder, which
``pgserver`` starts without a system install (Unix socket only, nothing listens on TCP).
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
from psycopg import sql

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
    # pgserver keeps one handle per data folder and process; a later start must not reuse the stopped one
    # (and the handle's exit hook, which removes it again, must go with it)
    stale = pgserver.PostgresServer._instances.pop(pgdata.resolve(), None)
    if stale is not None:
        atexit.unregister(stale._cleanup)
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


def _sql_file(name: str) -> str:
    return resources.files("panro").joinpath(f"sql/{name}").read_text(encoding="utf-8")


def _may_administer(conn: psycopg.Connection) -> bool:
    """Whether the connected user owns the warehouse (superuser, or member of the database owner)."""
    row = conn.execute(
        """select r.rolsuper or pg_has_role(d.datdba, 'MEMBER')
             from pg_roles r, pg_database d
            where r.rolname = current_user and d.datname = current_database()"""
    ).fetchone()
    return bool(row and row[0])


def ensure_schema(url: str) -> None:
    """Create the raw landing tables, the operational metadata and the access roles (idempotent).

    Run as the warehouse owner it applies ``sql/warehouse.sql`` then ``sql/roles.sql`` in one
    transaction, so the roles dbt grants to exist before any dbt run. Run as a least-privilege login
    (say a loader, which may not create anything), it only checks that the owner has done so.
    """
    with connect(url) as conn:
        # One transaction-level advisory lock so parallel first loads do not race on CREATE and GRANT.
        conn.execute("select pg_advisory_xact_lock(7242024)")
        if not _may_administer(conn):
            missing = conn.execute(
                "select array_remove(array[case when to_regnamespace('raw') is null then 'raw' end,"
                " case when to_regnamespace('ops') is null then 'ops' end], null)"
            ).fetchone()[0]
            if missing:
                raise RuntimeError(
                    f"the warehouse has no schema {', '.join(missing)} and this login may not create it:"
                    " run `python -m panro.warehouse init` as the warehouse owner first"
                )
            return
        conn.execute(_sql_file("warehouse.sql"))
        conn.execute(_sql_file("roles.sql"))


def ensure_roles(url: str) -> None:
    """(Re)apply ``sql/roles.sql``: the group roles, schema ownership and grants (needs raw and ops,
    so ``ensure_schema``, which already does this, is what callers normally want)."""
    with connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(7242024)")
        conn.execute(_sql_file("roles.sql"))


# The group roles of sql/roles.sql, and the environment variables naming a login user in each.
# Only the environment gives login users and passwords; nothing of them is in the repository.
LOGIN_ENV = {
    "panro_loader": ("PANRO_LOADER_USER", "PANRO_LOADER_PASSWORD"),
    "panro_transformer": ("PANRO_TRANSFORMER_USER", "PANRO_TRANSFORMER_PASSWORD"),
    "panro_bi": ("PANRO_BI_USER", "PANRO_BI_PASSWORD"),
    "panro_staff_extract": ("PANRO_STAFF_EXTRACT_USER", "PANRO_STAFF_EXTRACT_PASSWORD"),
}
# Groups whose logins create objects: their sessions act as the group, so that what one login builds
# another (a rotated one) can rebuild.
_ACTS_AS_GROUP = {"panro_loader", "panro_transformer"}


def logins_from_env(environ: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(user, password, group) for every group whose user and password are both set."""
    environ = os.environ if environ is None else environ
    logins = []
    for group, (user_var, password_var) in LOGIN_ENV.items():
        user, password = environ.get(user_var), environ.get(password_var)
        if bool(user) != bool(password):
            raise RuntimeError(f"set both {user_var} and {password_var}, or neither")
        if user and password:
            logins.append((user, password, group))
    return logins


def ensure_login(url: str, user: str, password: str, group: str) -> None:
    """Create (or update: rotation) the login ``user`` with ``password``, member of ``group`` only.

    The password is hashed (SCRAM-SHA-256) on this side by libpq, so it never reaches the server, its
    logs or pg_stat_activity in clear.
    """
    if group not in LOGIN_ENV:
        raise ValueError(f"unknown group {group!r}; one of {sorted(LOGIN_ENV)}")
    if user in LOGIN_ENV or user == "postgres":
        raise ValueError(f"{user!r} is a group or the server's own role, not a login to create")
    with connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(7242024)")
        verifier = conn.pgconn.encrypt_password(password.encode(), user.encode(), b"scram-sha-256").decode()
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (user,)).fetchone()
        verb = sql.SQL("alter" if exists else "create")
        name = sql.Identifier(user)
        conn.execute(sql.SQL("{} role {} login password {}").format(verb, name, sql.Literal(verifier)))
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(group), name))
        if group in _ACTS_AS_GROUP:
            conn.execute(sql.SQL("alter role {} set role = {}").format(name, sql.Literal(group)))
        else:
            conn.execute(sql.SQL("alter role {} reset role").format(name))


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


def main(argv: list[str] | None = None) -> int:
    """``python -m panro.warehouse init``: as the warehouse owner (``WAREHOUSE_URL``, else the embedded
    server), create the schema and the roles, and the login users the environment names (LOGIN_ENV)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["init"]:
        print("usage: python -m panro.warehouse init", file=sys.stderr)
        return 2
    url = resolve_url()
    ensure_schema(url)
    for user, password, group in logins_from_env():
        ensure_login(url, user, password, group)
        print(f"login {user} in {group}")
    print("warehouse schema and roles are in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
