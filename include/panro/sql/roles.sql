-- Least-privilege group roles (NOLOGIN) and their grants. Idempotent: applied by
-- panro.warehouse.ensure_schema right after warehouse.sql, by the warehouse owner. Login users are made
-- members of these groups from the environment only (panro.warehouse.ensure_login); no password here.
--
--   panro_loader         ingest: reads and appends to raw (never updates or deletes it), keeps ops
--   panro_transformer    dbt: reads raw, owns reference (seeds), staging, intermediate, marts,
--                        restricted and quarantine; records quality gates in ops
--   panro_bi             BI tools: reads marts, nothing else, writes nothing
--   panro_staff_extract  staff extracts: reads marts and restricted.applicant_contacts, nothing else
--
-- Table grants on dbt's schemas come from dbt itself (`+grants` in dbt_project.yml): dbt drops and
-- recreates tables on every build, and re-applies its grants each time, whoever runs it.

do $$
declare
    name text;
begin
    foreach name in array array['panro_loader', 'panro_transformer', 'panro_bi', 'panro_staff_extract'] loop
        if not exists (select from pg_roles where rolname = name) then
            begin
                execute format('create role %I nologin', name);
            exception when duplicate_object then
                null;  -- another database of the same server created it meanwhile (roles are per server)
            end;
        end if;
    end loop;
end
$$;

-- The schemas dbt writes exist before dbt runs, owned by the transformer: dbt then never needs
-- CREATE on the database, and a member of panro_transformer can rebuild what another member built.
-- quarantine: rows that cannot be typed (DESIGN: staging); its readers are decided when it is built.
create schema if not exists reference;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create schema if not exists restricted;
create schema if not exists quarantine;
alter schema reference owner to panro_transformer;
alter schema staging owner to panro_transformer;
alter schema intermediate owner to panro_transformer;
alter schema marts owner to panro_transformer;
alter schema restricted owner to panro_transformer;
alter schema quarantine owner to panro_transformer;

-- Nobody gets anything by default (PostgreSQL 15+ also withholds CREATE on schema public).
revoke all on schema raw, ops, reference, staging, intermediate, marts, restricted, quarantine from public;

-- loader: raw is append-only, so INSERT and SELECT only; in ops it appends, and updates only its load
-- ledger rows and the watermarks (never, say, the record of published decisions).
grant usage on schema raw, ops to panro_loader;
grant select, insert on all tables in schema raw to panro_loader;
grant select, insert on all tables in schema ops to panro_loader;
grant update on ops.load_ledger, ops.watermarks to panro_loader;
grant usage, select on all sequences in schema raw, ops to panro_loader;

-- transformer: reads raw; the quality gates read and append to ops (validation results, published
-- decisions, deliveries).
grant usage on schema raw, ops to panro_transformer;
grant select on all tables in schema raw to panro_transformer;
grant select, insert on all tables in schema ops to panro_transformer;
grant usage, select on all sequences in schema ops to panro_transformer;
grant update on ops.quarantine_screening to panro_transformer;  -- quarantine_holds' hooks
grant update on ops.seed_state to panro_transformer;  -- the seeds it loaded

-- BI and staff extracts: only schema usage here; SELECT on each table is dbt's grant.
grant usage on schema marts to panro_bi, panro_staff_extract;
grant usage on schema restricted to panro_staff_extract;
