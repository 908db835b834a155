from pathlib import Path

import psycopg
import pytest
import yaml

from panro.warehouse import dbt_env, ensure_schema

STAGING = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "staging"
# The landing columns every raw table has, as far as it has them: never null. dbt does not test them
# (it would re-read every raw table every day); the tables' constraints hold them.
LANDING_COLUMNS = {
    "raw_id",
    "load_id",
    "loaded_at",
    "source_file",
    "file_sha256",
    "line_no",
    "record_hash",
    "record",
}
# The keys of the raw tables beside raw_id (a repeated record, or file line, or day's answer, lands once).
RAW_KEYS = {
    "portal_applications": ["record_hash"],
    "evaluation_scores": ["file_sha256", "line_no"],
    "nts_status_answers": ["asked_on", "b_no"],
    **{
        f"reference_{name}": ["record_hash"]
        for name in (
            "credit_checks",
            "fair_trade_violations",
            "certifications",
            "mail_order_registry",
            "onnuri_listings",
        )
    },
}


def _raw_source_tables() -> list[tuple[str, list[str]]]:
    tables = []
    for path in sorted(STAGING.rglob("_*__sources.yml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]:
            if source.get("schema", source["name"]) == "raw":
                tables += [(t["name"], [c["name"] for c in t.get("columns", [])]) for t in source["tables"]]
    return tables


def test_ensure_schema_is_idempotent(fresh_db):
    ensure_schema(fresh_db)
    ensure_schema(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "select table_schema || '.' || table_name from information_schema.tables"
                " where table_schema in ('raw', 'ops')"
            )
        }
    assert {
        "raw.portal_applications",
        "raw.evaluation_scores",
        "ops.load_ledger",
        "ops.watermarks",
        "ops.extract_deliveries",
    } <= tables


def test_ensure_schema_creates_the_roles_and_dbt_schemas(fresh_db):
    """The roles exist (NOLOGIN groups) before any dbt run, and own dbt's schemas; see test_security.py."""
    ensure_schema(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        groups = dict(
            conn.execute(
                "select rolname, rolcanlogin from pg_roles where rolname like 'panro\\_%'"
            ).fetchall()
        )
        owners = dict(
            conn.execute(
                "select nspname, pg_get_userbyid(nspowner) from pg_namespace"
                " where nspname in ('reference', 'staging', 'intermediate', 'marts', 'restricted', 'quarantine')"
            ).fetchall()
        )
        usage = conn.execute(
            "select nspname from pg_namespace where has_schema_privilege('panro_bi', oid, 'USAGE')"
            " and nspname not like 'pg\\_%' and nspname <> 'information_schema' order by 1"
        ).fetchall()
    assert groups == dict.fromkeys(
        ["panro_loader", "panro_transformer", "panro_bi", "panro_staff_extract"], False
    )
    assert owners == dict.fromkeys(
        ["reference", "staging", "intermediate", "marts", "restricted", "quarantine"], "panro_transformer"
    )
    assert usage == [("marts",), ("public",)]


def test_dbt_env_from_socket_url():
    env = dbt_env("postgresql://postgres:@/postgres?host=/tmp/x/pgdata")
    assert env["PANRO_PG_HOST"] == "/tmp/x/pgdata"
    assert env["PANRO_PG_DBNAME"] == "postgres"
    assert env["PANRO_PG_PORT"] == "5432"


def test_dbt_env_from_tcp_url():
    env = dbt_env("postgresql://panro:s%40cret@db.example:6543/warehouse")
    assert env == {
        "PANRO_PG_HOST": "db.example",
        "PANRO_PG_PORT": "6543",
        "PANRO_PG_USER": "panro",
        "PANRO_PG_PASSWORD": "s@cret",
        "PANRO_PG_DBNAME": "warehouse",
    }


def test_raw_tables_hold_their_keys_and_required_columns(fresh_db):
    """What the dbt sources document of a raw table and no dbt test re-checks: raw_id its primary key,
    the landing columns not null, its natural key unique. A null or repeated value is refused on insert."""
    ensure_schema(fresh_db)
    tables = _raw_source_tables()
    assert {name for name, _ in tables} >= set(RAW_KEYS) | {"sbiz24_o2o_applications", "kakao_applications"}
    with psycopg.connect(fresh_db) as conn:
        for table, columns in tables:
            nullable = dict(
                conn.execute(
                    "select column_name, is_nullable from information_schema.columns"
                    " where table_schema = 'raw' and table_name = %s",
                    (table,),
                ).fetchall()
            )
            assert set(columns) <= set(nullable), f"raw.{table}: documented columns missing"
            required = sorted(c for c in columns if c in LANDING_COLUMNS | set(RAW_KEYS.get(table, [])))
            assert "raw_id" in required and "record" in required
            assert [c for c in required if nullable[c] != "NO"] == [], (
                f"raw.{table}: nullable landing columns"
            )
            unique = {
                tuple(sorted(r[0]))
                for r in conn.execute(
                    """select array_agg(a.attname::text)
                         from pg_index i
                         join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                        where i.indrelid = %s::regclass and i.indisunique and i.indpred is null
                        group by i.indexrelid""",
                    (f"raw.{table}",),
                )
            }
            primary = conn.execute(
                "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid"
                " and a.attnum = any(i.indkey) where i.indrelid = %s::regclass and i.indisprimary",
                (f"raw.{table}",),
            ).fetchall()
            assert primary == [("raw_id",)], f"raw.{table}: primary key"
            if table in RAW_KEYS:
                assert tuple(sorted(RAW_KEYS[table])) in unique, f"raw.{table}: natural key"
        # and the database refuses what a dbt test would have found
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute(
                "insert into raw.evaluation_scores (load_id, loaded_at, source_file, file_sha256, line_no,"
                " record_hash, record) values ('l', now(), 'f.csv', 'x', 2, 'h', null)"
            )
