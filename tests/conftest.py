"""Shared fixtures: a real PostgreSQL (the embedded one) started by the tests and stopped by them."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from panro.warehouse import start_embedded, stop_embedded


@pytest.fixture(scope="session")
def pg_server() -> str:
    """URL of a PostgreSQL server for the whole session (``postgres`` database)."""
    # Its own short folder, outside pytest's numbered temp folders (which other pytest sessions on
    # the machine prune), and short because a socket path must stay under ~100 characters.
    root = Path(tempfile.mkdtemp(prefix="panro-pg-"))
    pgdata = root / "data"
    url = start_embedded(pgdata)
    yield url
    stop_embedded(pgdata)
    shutil.rmtree(root, ignore_errors=True)


def _with_database(url: str, dbname: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=f"/{dbname}"))


@pytest.fixture()
def fresh_db(pg_server) -> str:
    """URL of a new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield _with_database(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
