import psycopg

from panro.warehouse import dbt_env, ensure_schema


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
