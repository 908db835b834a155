"""Access and security, proven on a real warehouse and on the repository itself.

1. Roles: on a real PostgreSQL after real dbt builds (one as a login of ``panro_transformer``, the
   production set-up, then a rebuild as the embedded superuser ``postgres``, the default), a login in
   ``panro_bi`` reads every marts table and nothing else, and writes nothing; marts hold no personal
   data; the staff-extract, loader and transformer logins can do their job and no more.
2. The repository holds no secrets (``git ls-files``, tracked and new files).
3. Servers the project starts listen on loopback (or on no TCP address at all) by default.
4. SQL built from data uses parameters or quoted identifiers.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import importlib
import json
import re
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from psycopg import errors, sql
from test_dbt_project import FIRST_LOAD, FIRST_SCORES, ROUND_1, ROUND_2, SECOND_LOAD, land, run_dbt

from panro.cli import build_parser
from panro.extract import write_daily_extract
from panro.warehouse import LOGIN_ENV, ensure_login, ensure_schema, logins_from_env

ROOT = Path(__file__).resolve().parents[1]

# Schemas a BI login must not read (quarantine: added by the staging layer; must stay closed to BI).
CLOSED_TO_BI = ["raw", "ops", "reference", "staging", "intermediate", "restricted", "quarantine"]
EXPECTED_MARTS = {
    "dim_program",
    "fct_application",
    "fct_eligibility",
    "fct_eligibility_check",
    "fct_score",
    "fct_allocation_decision",
}
# Seeds and models only: the dbt tests are test_dbt_project.py's business; here the builds create and
# recreate the tables whose grants are under test.
BUILD = ("build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
# Column names that would carry personal data (DESIGN: names, phone numbers, e-mail, full address, BRN).
PERSONAL_COLUMN = re.compile(
    r"(^|_)(brn|phone|mobile|tel|email|e_mail|address|addr|corporate_no|representative|ceo|owner|contact|"
    r"birth|resident|learner_id|person)($|_)|(^|_)name$|business_name"
)


# --- helpers ----------------------------------------------------------------------------------------


def as_user(url: str, user: str) -> str:
    """The same server and database, as another login (the embedded server trusts its Unix socket)."""
    parsed = urlparse(url)
    netloc = f"{user}@{parsed.hostname or ''}" + (f":{parsed.port}" if parsed.port else "")
    return urlunparse(parsed._replace(netloc=netloc))


def refused(url: str, statement: str, params: tuple = ()) -> bool:
    """Whether ``statement`` is refused for lack of privilege (and nothing else)."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(statement, params)
        except errors.InsufficientPrivilege:
            return True
    return False


def relations(url: str, schemas: list[str]) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            """select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p', 'f') order by 1, 2""",
            (schemas,),
        ).fetchall()


def readable(url: str, role: str) -> set[str]:
    """Every user relation ``role`` may SELECT (by table privilege and schema USAGE)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """select n.nspname || '.' || c.relname
                 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r', 'v', 'm', 'p', 'f')
                  and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'
                  and has_schema_privilege(%(role)s, n.oid, 'USAGE')
                  and has_table_privilege(%(role)s, c.oid, 'SELECT')""",
            {"role": role},
        ).fetchall()
    return {r[0] for r in rows}


def land_nts_answers(url: str, records: list[dict], asked_on: str) -> None:
    """국세청 answers "in business" for every BRN landed (sources.md §5), as the NTS loader lands them."""
    brns = sorted({re.sub(r"\D", "", r["business"]["brn"]) for r in records if r["business"]["brn"]})
    with psycopg.connect(url) as conn:
        for brn in brns:
            record = json.dumps({"b_no": brn, "b_stt": "계속사업자", "b_stt_cd": "01", "tax_type": "부가가치세 일반과세자",
                                 "tax_type_cd": "01", "end_dt": ""}, ensure_ascii=False, sort_keys=True)  # fmt: skip
            conn.execute(
                """insert into raw.nts_status_answers (load_id, loaded_at, asked_on, b_no, record_hash, record)
                   values ('nts-1', now(), %s, %s, md5(%s), %s::jsonb)""",
                (asked_on, brn, record, record),
            )


def query(url: str, statement, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement, params).fetchall()


# --- the warehouse: roles, logins, two real dbt builds ----------------------------------------------


@pytest.fixture(scope="module")
def warehouse(pg_server, tmp_path_factory):
    """A database built as in production: owner applies schema and roles, logins come from the
    environment's shape, the loader lands, dbt runs as a transformer login."""
    name = f"t_sec_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = urlunparse(urlparse(pg_server)._replace(path=f"/{name}"))
    suffix = uuid.uuid4().hex[:6]
    env = {}
    for group, (user_var, password_var) in LOGIN_ENV.items():
        env[user_var] = f"{group.removeprefix('panro_')}_{suffix}"
        env[password_var] = uuid.uuid4().hex
    logins = {group: user for user, _, group in logins_from_env(env)}
    assert set(logins) == set(LOGIN_ENV)

    ensure_schema(url)
    ensure_schema(url)  # idempotent, roles included
    for user, password, group in logins_from_env(env):
        ensure_login(url, user, password, group)
    urls = {group: as_user(url, user) for group, user in logins.items()}

    work = tmp_path_factory.mktemp("dbt-security")
    # test_dbt_project's hand-made first round, landed by the loader login (its 국세청 answers too)
    land(urls["panro_loader"], FIRST_LOAD, FIRST_SCORES, "load-1")
    land_nts_answers(urls["panro_loader"], FIRST_LOAD, "2024-03-04")
    run_dbt(urls["panro_transformer"], work, *BUILD, round_date=ROUND_1, run_id="run-1")
    owners = query(
        url,
        "select distinct tableowner from pg_tables where schemaname in ('reference', 'intermediate', 'marts', 'restricted')",
    )
    yield {"url": url, "urls": urls, "logins": logins, "passwords": env, "work": work, "owners": owners}

    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        for user in logins.values():
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(user)))


def check_bi_reads_marts_only(w: dict) -> None:
    url, bi = w["url"], w["urls"]["panro_bi"]
    marts = relations(url, ["marts"])
    assert EXPECTED_MARTS <= {t for _, t in marts}
    for schema, table in marts:  # every marts table reads
        with psycopg.connect(bi) as conn:
            conn.execute(sql.SQL("select * from {}.{} limit 5").format(*map(sql.Identifier, (schema, table))))
    closed = relations(url, CLOSED_TO_BI)
    assert {s for s, _ in closed} >= {"raw", "ops", "reference", "staging", "intermediate", "restricted"}
    for schema, table in closed:  # every other relation is refused
        statement = sql.SQL("select * from {}.{} limit 1").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        assert refused(bi, statement), f"panro_bi can read {schema}.{table}"
    assert readable(url, w["logins"]["panro_bi"]) == {f"marts.{t}" for _, t in marts}
    assert readable(url, "panro_bi") == {f"marts.{t}" for _, t in marts}


def test_bi_login_reads_marts_and_nothing_else(warehouse):
    check_bi_reads_marts_only(warehouse)


def test_bi_login_cannot_write(warehouse):
    bi, url = warehouse["urls"]["panro_bi"], warehouse["url"]
    content = "select count(*), md5(coalesce(string_agg(t::text, ',' order by t::text), '')) from marts.{} t"
    before = {
        t: query(url, content.format(t)) for t in ("fct_score", "fct_allocation_decision", "dim_program")
    }
    for statement in [
        "insert into marts.fct_score select * from marts.fct_score limit 1",
        "update marts.fct_score set total_score = 100",
        "delete from marts.fct_allocation_decision",
        "truncate marts.dim_program",
        "drop table marts.fct_allocation_decision",
        "alter table marts.fct_score add column x int",
        "create table marts.bi_scratch (x int)",
        "create view marts.bi_view as select 1 as x",
        "create table public.bi_scratch (x int)",
        "create schema bi_scratch",
    ]:
        assert refused(bi, statement), f"panro_bi may: {statement}"
    # GRANT without the grant option only warns ("no privileges were granted"): check it had no effect
    with psycopg.connect(bi, autocommit=True) as conn:
        conn.execute("grant select on marts.fct_score to public")
    assert not query(url, "select has_table_privilege('public', 'marts.fct_score', 'SELECT')")[0][0]
    assert {t: query(url, content.format(t)) for t in before} == before  # nothing changed
    privileges = query(
        warehouse["url"],
        """select c.relname, p from pg_class c join pg_namespace n on n.oid = c.relnamespace,
                  unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
            where n.nspname = 'marts' and has_table_privilege('panro_bi', c.oid, p)""",
    )
    assert privileges == []


def test_marts_hold_no_personal_data(warehouse):
    url = warehouse["url"]
    columns = query(
        url,
        "select table_name, column_name, data_type from information_schema.columns where table_schema = 'marts'",
    )
    personal = [(t, c) for t, c, _ in columns if PERSONAL_COLUMN.search(c)]
    assert not personal, f"personal-data columns in marts: {personal}"
    # ... and no personal value landed in raw reached a marts text column under another name.
    values = set()
    for record in FIRST_LOAD:
        business = record["business"]
        brn = business["brn"]
        values |= {business[k] for k in ("name", "representative_name", "phone", "email", "address")}
        if brn:
            values |= {brn, re.sub(r"\D", "", brn)}
    text_columns = [(t, c) for t, c, d in columns if d in ("text", "character varying", "jsonb", "ARRAY")]
    assert text_columns
    for table, column in text_columns:
        hits = query(
            url,
            sql.SQL("select count(*) from marts.{} where {}::text = any(%s)").format(
                sql.Identifier(table), sql.Identifier(column)
            ),
            (sorted(values),),
        )[0][0]
        assert hits == 0, f"marts.{table}.{column} holds personal values"
    # the restricted schema does hold them (the scan above could find them)
    assert query(
        url, "select count(*) from restricted.applicant_contacts where email = any(%s)", (sorted(values),)
    )[0][0]


def test_quarantine_stays_closed_to_bi(warehouse):
    """A table the transformer builds in quarantine later (another model) is unreadable by BI."""
    url, transformer = warehouse["url"], warehouse["urls"]["panro_transformer"]
    with psycopg.connect(transformer) as conn:
        conn.execute("create table if not exists quarantine.sec_probe as select 'raw row' as record")
    assert (
        query(
            url,
            "select tableowner from pg_tables where schemaname = 'quarantine' and tablename = 'sec_probe'",
        )[0][0]
        == "panro_transformer"
    )
    assert refused(warehouse["urls"]["panro_bi"], "select * from quarantine.sec_probe")
    assert refused(warehouse["urls"]["panro_staff_extract"], "select * from quarantine.sec_probe")


def test_staff_extract_reads_marts_and_contacts_only(warehouse, tmp_path):
    url, staff = warehouse["url"], warehouse["urls"]["panro_staff_extract"]
    marts = {f"marts.{t}" for _, t in relations(url, ["marts"])}
    assert readable(url, "panro_staff_extract") == marts | {"restricted.applicant_contacts"}
    assert refused(staff, "select * from raw.portal_applications limit 1")
    assert refused(staff, "update restricted.applicant_contacts set phone = null")
    # the staff-extract login is enough to write the day's extract, personal data included
    [(day,)] = query(url, "select min(round_date) from marts.fct_allocation_decision")
    assert day, (
        "the fixture's build decided nothing: test_dbt_project's first round no longer yields decisions"
    )
    manifest = write_daily_extract(staff, tmp_path, day)
    assert manifest and manifest["files"]
    csv_text = next(tmp_path.glob("*/*.csv")).read_text(encoding="utf-8-sig")
    assert "010-1234-5678" in csv_text


def test_loader_appends_to_raw_and_keeps_ops_only(warehouse):
    url, loader = warehouse["url"], warehouse["urls"]["panro_loader"]
    ensure_schema(loader)  # what every ingest task calls first: a check, no DDL, for a loader login
    with psycopg.connect(loader) as conn:
        conn.execute(
            """insert into ops.watermarks (source, watermark, updated_at) values ('sec', now(), now())
               on conflict (source) do update set watermark = excluded.watermark"""
        )
        conn.execute(
            """insert into ops.watermarks (source, watermark, updated_at) values ('sec', now(), now())
               on conflict (source) do update set watermark = excluded.watermark"""
        )
    for statement in [
        "update raw.portal_applications set load_id = load_id",  # raw is append-only
        "delete from raw.evaluation_scores",
        "truncate raw.portal_applications",
        "delete from ops.load_ledger",
        "update ops.published_decisions set decision = 'selected'",  # the record the publish gate trusts
        "select * from marts.fct_application limit 1",
        "select * from restricted.applicant_contacts limit 1",
        "select * from staging.stg_portal__applications limit 1",
        "create table raw.loader_scratch (x int)",
    ]:
        assert refused(loader, statement), f"panro_loader may: {statement}"
    assert query(url, "select count(*) from raw.portal_applications")[0][0] == len(FIRST_LOAD)


def test_transformer_reads_raw_but_cannot_write_it(warehouse):
    transformer = warehouse["urls"]["panro_transformer"]
    assert query(transformer, "select count(*) from raw.portal_applications")[0][0] > 0
    for statement in [
        "insert into raw.portal_applications (load_id, loaded_at, source_page, record_hash, record)"
        " values ('x', now(), 'p', 'h', '{}')",
        "delete from raw.portal_applications",
        "update ops.published_decisions set decision = 'selected'",
    ]:
        assert refused(transformer, statement), f"panro_transformer may: {statement}"
    # what the transformer login built belongs to the group: another (rotated) login can rebuild it
    assert warehouse["owners"] == [("panro_transformer",)], "a transformer login's sessions act as the group"


def test_grants_survive_a_rebuild_by_the_embedded_superuser(warehouse):
    """The default set-up: dbt runs as ``postgres``; it drops and recreates the tables of the first
    build and appends to the decision ledger. The BI grants hold all the same."""
    url = warehouse["url"]
    tables = "select c.relname, c.oid from pg_class c where c.relnamespace = 'marts'::regnamespace and c.relkind = 'r'"
    before = dict(query(url, tables))
    ledger = query(url, "select * from marts.fct_allocation_decision")
    land(warehouse["urls"]["panro_loader"], SECOND_LOAD, [], "load-2")
    run_dbt(url, warehouse["work"], *BUILD, round_date=ROUND_2, run_id="run-2")
    after = dict(query(url, tables))
    recreated = {t for t in before if after.get(t) != before[t]}
    # table models are dropped and created anew; the incremental ones (the ledger) are appended to;
    # fct_eligibility and fct_eligibility_check are views (on int_eligibility_*), not in this list
    assert {"dim_program", "fct_application", "dim_business", "fct_score"} <= recreated
    assert "fct_allocation_decision" not in recreated
    assert set(ledger) <= set(query(url, "select * from marts.fct_allocation_decision"))  # nothing rewritten
    owners = dict(query(url, "select tablename, tableowner from pg_tables where schemaname = 'marts'"))
    assert {owners[t] for t in recreated} == {"postgres"}  # rebuilt tables belong to the superuser now
    assert {owners[t] for t in set(before) - recreated} == {"panro_transformer"}
    check_bi_reads_marts_only(warehouse)
    assert refused(warehouse["urls"]["panro_bi"], "select * from restricted.applicant_contacts")


def test_login_passwords_are_scram_hashed_and_rotate(warehouse):
    url, user = warehouse["url"], warehouse["logins"]["panro_bi"]
    password = warehouse["passwords"]["PANRO_BI_PASSWORD"]

    def verifier() -> str:
        return query(url, "select rolpassword from pg_authid where rolname = %s", (user,))[0][0]

    def matches(
        stored: str, candidate: str
    ) -> bool:  # RFC 5802 / 7677: StoredKey = H(HMAC(salted, "Client Key"))
        match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", stored)
        assert match, stored
        salted = hashlib.pbkdf2_hmac("sha256", candidate.encode(), base64.b64decode(match[2]), int(match[1]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        return hashlib.sha256(client_key).digest() == base64.b64decode(match[3])

    first = verifier()
    assert matches(first, password) and not matches(first, "wrong")
    ensure_login(url, user, "rotated-" + password, "panro_bi")  # rotation: same user, new password
    second = verifier()
    assert matches(second, "rotated-" + password) and not matches(second, password)
    assert query(
        url,
        "select rolcanlogin, rolsuper, rolcreaterole, rolcreatedb from pg_roles where rolname = %s",
        (user,),
    ) == [(True, False, False, False)]
    groups = query(
        url,
        "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid"
        " join pg_roles u on u.oid = m.member where u.rolname = %s",
        (user,),
    )
    assert groups == [("panro_bi",)]
    group_flags = query(
        url, "select rolname, rolcanlogin from pg_roles where rolname = any(%s)", (list(LOGIN_ENV),)
    )
    assert sorted(group_flags) == sorted((g, False) for g in LOGIN_ENV), "groups are NOLOGIN"


def test_login_settings_come_in_pairs():
    assert logins_from_env({}) == []
    with pytest.raises(RuntimeError, match="PANRO_BI_PASSWORD"):
        logins_from_env({"PANRO_BI_USER": "metabase"})
    with pytest.raises(ValueError):
        ensure_login("postgresql://unused", "panro_bi", "x", "panro_bi")


def test_a_login_without_ddl_rights_is_told_to_run_init(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        user = f"nobody_{uuid.uuid4().hex[:6]}"
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(user)))
    try:
        with pytest.raises(RuntimeError, match=r"panro\.warehouse init"):
            ensure_schema(as_user(fresh_db, user))
        assert query(fresh_db, "select to_regnamespace('raw')") == [(None,)]
    finally:
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(user)))


# --- the repository holds no secrets ----------------------------------------------------------------

# Always a finding, in every file (tests included).
HARD_SECRETS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
}
# A credential written into code or configuration: name = "value" or scheme://user:password@host.
ASSIGNED_SECRET = re.compile(
    r"""(?ix)\b[\w-]*(?:password|passwd|secret|token|api_?key|service_?key|fernet_?key|salt)[\w-]*
        ["']?\s*[:=]\s*["']([^"'\s{}$]{6,})["']"""
)
# The same, unquoted, in configuration and documents (.env, YAML, shell): NAME=value or name: value.
UNQUOTED_SECRET = re.compile(
    r"""(?imx)^[ \t\-]*(?:export\s+)?[\w.-]*(?:password|passwd|secret|token|api_?key|service_?key|fernet_?key|salt)
        [\w.-]*[ \t]*(?:=|:[ \t])[ \t]*([^\s"'#{}$<>*.][^\s"'#]{5,})"""
)
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^@\s'\"/]+)@")
# Documented development placeholders (each says so where it is defined).
PLACEHOLDERS = {
    "panro-dev-salt",  # dbt var business_key_salt / PANRO_BUSINESS_KEY_SALT: development default, see README
    "panro-2024",  # PANRO_ALLOCATION_SEED: published on purpose (the ranking's last tie-break)
}
# Where dev credentials are expected: tests (throw-away servers) and the compose template (empty values).
SOFT_ALLOWED = ("tests/", "docker/.env.example")
SKIP_SUFFIXES = {".png", ".jpg", ".xlsx", ".gz", ".zip", ".lock"}


def repository_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({p for p in listed.split("\0") if p and (ROOT / p).is_file()})


def secret_findings(path: str, text: str) -> list[str]:
    found = [f"{path}: {kind}" for kind, pattern in HARD_SECRETS.items() if pattern.search(text)]
    if path.startswith(SOFT_ALLOWED):
        return found
    patterns = [ASSIGNED_SECRET, URL_PASSWORD]
    if not path.endswith(".py"):  # in Python, `token = make_token()` is code, not a value
        patterns.append(UNQUOTED_SECRET)
    for pattern in patterns:
        for match in pattern.finditer(text):
            value = match[1]
            if value in PLACEHOLDERS or value.startswith(("${", "{{", "$(", "%(", "<", "***", "...")):
                continue
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path}:{line}: {match[0][:60]!r}")
    return found


def test_the_secrets_scanner_finds_what_it_looks_for():
    key_header = "-----BEGIN OPENSSH " + "PRIVATE KEY-----"
    planted = {
        "include/panro/x.py": f'API_TOKEN = "9f2c1d7e8a"\nkey = """{key_header}\nabc"""',
        "docker-compose.yml": "url: postgresql://panro:hunter2hunter2@warehouse:5432/panro",
        "tests/test_x.py": "AWS = 'AKIA" + "ABCDEFGHIJKLMNOP'",
    }
    assert len(secret_findings("include/panro/x.py", planted["include/panro/x.py"])) == 2
    assert secret_findings("docker-compose.yml", planted["docker-compose.yml"])
    assert secret_findings("docker/prod.env", "AIRFLOW_DB_PASSWORD=3f9a0c6e1b2d\n")
    assert secret_findings("dbt_project/profiles.yml", "      password: hunter2hunter2\n")
    assert secret_findings("tests/test_x.py", planted["tests/test_x.py"])  # hard secrets count in tests too
    clean = {
        "include/panro/y.py": 'token = os.environ.get("PORTAL_TOKEN")\nsalt = "panro-dev-salt"',
        "docker-compose.yml": "X: postgresql://panro:${WAREHOUSE_DB_PASSWORD:?set it}@warehouse:5432/panro",
        "tests/test_y.py": 'PORTAL_TOKEN = "secret-test-token"',
        "dbt_project/profiles.yml": "      password: \"{{ env_var('PANRO_PG_PASSWORD', '') }}\"\n",
        "README.md": "PORTAL_TOKEN=... NTS_SERVICE_KEY=... panro serve",
        "docs/operations.md": "WAREHOUSE_URL=postgresql://owner:...@host/panro panro run",
    }
    for path, text in clean.items():
        assert secret_findings(path, text) == [], path


def test_repository_holds_no_secrets():
    files = repository_files()
    assert "include/panro/warehouse.py" in files and "docker-compose.yml" in files
    findings = []
    for path in files:
        if Path(path).suffix in SKIP_SUFFIXES:
            continue
        data = (ROOT / path).read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        findings += secret_findings(path, data.decode("utf-8", errors="replace"))
    assert not findings, "possible secrets in the repository:\n" + "\n".join(findings)


def test_env_example_leaves_every_secret_empty():
    for line in (ROOT / "docker" / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match and re.search(r"PASSWORD|SECRET|TOKEN|KEY|SALT", match[1]):
            assert match[2].strip() in ("", "panro-2024"), f"docker/.env.example fills in {match[1]}"


# --- servers listen on loopback by default ----------------------------------------------------------


def test_embedded_postgres_listens_on_no_tcp_address(pg_server):
    assert urlparse(pg_server).hostname is None, pg_server  # a Unix socket
    with psycopg.connect(pg_server) as conn:
        assert conn.execute("show listen_addresses").fetchone()[0] == ""
        socket_dir = conn.execute("show unix_socket_directories").fetchone()[0]
    assert Path(socket_dir).is_dir()


def test_simulated_servers_bind_loopback_by_default():
    from panro.servers.nts import NtsServer, NtsState
    from panro.servers.portal import PortalServer, PortalState

    for server in (PortalServer(PortalState([], "t")), NtsServer(NtsState([], "k"))):
        try:  # the socket is bound on construction; not started
            assert server.httpd.server_address[0] == "127.0.0.1", type(server).__name__
        finally:
            server.httpd.server_close()
    serve = build_parser().parse_args(["serve", "--scenario", "x"])
    assert serve.host == "127.0.0.1"


def _source_files() -> list[Path]:
    return [
        p
        for folder in ("include", "plugins", "dags", "expectations")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if "__pycache__" not in p.parts
    ]


def test_no_code_binds_all_interfaces_by_default():
    """No literal wildcard address in the code, and every ``host``/``bind`` parameter defaults to loopback."""
    problems = []
    for path in _source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in ("0.0.0.0", "::", "[::]"):
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.args + node.args.kwonlyargs
                defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults
                defaults += node.args.kw_defaults
                for arg, default in zip(args, defaults):
                    if arg.arg in ("host", "bind", "listen", "address") and isinstance(default, ast.Constant):
                        if default.value not in ("127.0.0.1", "localhost", "::1", None):
                            problems.append(
                                f"{path.relative_to(ROOT)}:{node.lineno}: {arg.arg}={default.value!r}"
                            )
    assert not problems, "servers that would listen beyond loopback by default:\n" + "\n".join(problems)


# --- SQL built from data uses parameters or quoted identifiers --------------------------------------

SQL_CALLS = {"execute", "executemany", "copy", "stream"}
# Dynamic SQL reviewed and accepted: (file, function) -> why it cannot carry data unquoted.
REVIEWED_DYNAMIC_SQL = {
    ("include/panro/quality.py", "_sample_rows"): (
        "wraps a suite's own query (code) around a table name from the suite (code) and a constant; the "
        "few run values in the suites' queries are quoted by expectations._base.literal (tested below)"
    ),
}


def dynamic_sql_calls(path: Path) -> list[tuple[str, int, str]]:
    """(function, line, source) of execute()-like calls whose SQL text is assembled by string operations
    (f-string, %, +, str.format) instead of parameters or psycopg.sql composition."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def is_dynamic(node: ast.AST) -> bool:
        if isinstance(node, ast.JoinedStr):
            return any(isinstance(v, ast.FormattedValue) for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            # psycopg.sql.SQL("...").format(sql.Identifier(...)) is composition, not text formatting
            inner = node.func.value
            return not (isinstance(inner, ast.Call) and ast.unparse(inner.func) in ("sql.SQL", "SQL"))
        return False

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr in SQL_CALLS
                and child.args
                and is_dynamic(child.args[0])
            ):
                found.append((function, child.lineno, ast.unparse(child.args[0])[:80]))
            visit(child, name)

    visit(tree, "<module>")
    return found


def test_the_sql_audit_finds_what_it_looks_for(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def bad(conn, t, v):\n"
        "    conn.execute(f'select * from {t}')\n"
        "    conn.execute('select * from x where a = ' + v)\n"
        "    conn.execute('select %s' % v)\n"
        "    conn.execute('select {}'.format(v))\n"
        "def good(conn, t, v):\n"
        "    conn.execute('select * from x where a = %s', (v,))\n"
        "    conn.execute(sql.SQL('select * from {}').format(sql.Identifier(t)))\n"
    )
    assert [(f, line) for f, line, _ in dynamic_sql_calls(probe)] == [
        ("bad", 2),
        ("bad", 3),
        ("bad", 4),
        ("bad", 5),
    ]


def test_sql_built_from_data_is_parameterised_or_quoted():
    unreviewed = []
    for path in _source_files():
        relative = str(path.relative_to(ROOT))
        for function, line, source in dynamic_sql_calls(path):
            if (relative, function) not in REVIEWED_DYNAMIC_SQL:
                unreviewed.append(f"{relative}:{line} in {function}(): {source}")
    assert not unreviewed, (
        "SQL assembled from strings: pass values as parameters (%s) and names as psycopg.sql.Identifier, "
        "or review it here:\n" + "\n".join(unreviewed)
    )


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "it's",
        "'; drop table raw.portal_applications; --",
        "back\\slash\\'",
        "$$dollar$$",
        "한글 '따옴표'",
    ],
)
def test_the_suites_literal_quoting_round_trips(pg_server, value):
    """expectations' GX queries cannot take bind parameters; their literal() must be exact."""
    from panro.quality import SUITES_PACKAGE, load_suites

    load_suites()
    literal = importlib.import_module(f"{SUITES_PACKAGE}._base").literal
    with psycopg.connect(pg_server) as conn:
        assert conn.execute("select " + literal(value)).fetchone()[0] == value


def test_settings_never_show_their_secrets(monkeypatch):
    from panro.config import load_settings

    secrets = {
        "WAREHOUSE_URL": "postgresql://panro:pw-in-url@db/panro",
        "PORTAL_TOKEN": "portal-token-value",
        "NTS_SERVICE_KEY": "nts-key-value",
        "PANRO_BUSINESS_KEY_SALT": "salt-value",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    shown = repr(load_settings())
    for value in secrets.values():
        assert value not in shown
    assert "pw-in-url" not in shown
