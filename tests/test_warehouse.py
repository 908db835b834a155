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
    assert {"raw.portal_applications", "raw.evaluation_scores", "ops.load_ledger", "ops.watermarks"} <= tables


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
