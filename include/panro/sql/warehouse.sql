-- The landing zone and the operational metadata. Idempotent: applied before every load.
-- raw tables are append-only: rows are only ever inserted, so every later stage can be rebuilt.
create schema if not exists raw;
create schema if not exists ops;

-- 판판대로 portal: every version of every application, as received.
create table if not exists raw.portal_applications (
    raw_id          bigserial primary key,
    load_id         text        not null,
    loaded_at       timestamptz not null,
    source_page     text        not null,   -- which request/page delivered it
    record_hash     text        not null,   -- sha256 of the canonical JSON: a repeated record is one row
    application_id  text,                   -- copied out of the record for indexing; may be null
    updated_at_text text,                   -- as received; typed in staging
    record          jsonb       not null,
    constraint portal_applications_record_hash_key unique (record_hash)
);
create index if not exists portal_applications_app_idx on raw.portal_applications (application_id);

-- Selection committee scores (evaluation/scores_<round_id>.csv), one row per CSV line.
create table if not exists raw.evaluation_scores (
    raw_id        bigserial primary key,
    load_id       text        not null,
    loaded_at     timestamptz not null,
    source_file   text        not null,
    file_sha256   text        not null,     -- a corrected re-delivery of a file is a new file
    line_no       integer     not null,
    record_hash   text        not null,
    record        jsonb       not null,     -- the CSV row keyed by header, all values text
    constraint evaluation_scores_file_line_key unique (file_sha256, line_no)
);

-- One row per load attempt of any source: what arrived, what was kept, how long, how it ended.
create table if not exists ops.load_ledger (
    load_id        text primary key,
    source         text        not null,
    run_id         text,
    interval_start timestamptz,
    interval_end   timestamptz,
    requested_from timestamptz,
    requested_to   timestamptz,
    source_file    text,
    started_at     timestamptz not null,
    finished_at    timestamptz,
    rows_received  integer,
    rows_inserted  integer,
    bytes_received bigint,
    duration_s     double precision,
    outcome        text        not null,   -- running / success / failed / refused
    message        text
);

-- Persisted high-water marks of the incremental API sources.
create table if not exists ops.watermarks (
    source     text primary key,
    watermark  timestamptz not null,
    updated_at timestamptz not null
);

-- Files of the drop-folder sources already loaded (name + content hash).
create table if not exists ops.processed_files (
    source      text        not null,
    file_name   text        not null,
    sha256      text        not null,
    load_id     text        not null,
    loaded_at   timestamptz not null,
    -- device:inode:size:mtime_ns:ctime_ns when it was read, if settled (panro.ingest.files.settled_stat)
    file_stat   text,
    primary key (source, file_name, sha256)
);
-- Added after the first release: warehouses created before it gain the column. Checked first, because
-- ALTER TABLE locks the table even when the column exists, and every load runs this file.
do $$
begin
    if not exists (
        select 1 from information_schema.columns
         where table_schema = 'ops' and table_name = 'processed_files' and column_name = 'file_stat'
    ) then
        alter table ops.processed_files add column file_stat text;
    end if;
end
$$;

-- Partner-channel and reference files (sources.md §2-§4, §7): one row per data line of a file, the
-- line as received (keyed by its header, values as text). A file is one load; line_no is the line in
-- the file (CSV, header = 1) or the sheet row (XLSX). A line repeated inside a file stays two rows:
-- raw is what was sent; staging de-duplicates.
create table if not exists raw.sbiz24_o2o_applications (
    raw_id bigserial primary key, load_id text not null, loaded_at timestamptz not null,
    source_file text not null, file_sha256 text not null, line_no integer not null,
    record_hash text not null, record jsonb not null,
    constraint sbiz24_o2o_applications_file_line_key unique (file_sha256, line_no)
);
create table if not exists raw.kakao_applications (
    raw_id bigserial primary key, load_id text not null, loaded_at timestamptz not null,
    source_file text not null, file_sha256 text not null, line_no integer not null,
    record_hash text not null, record jsonb not null,
    constraint kakao_applications_file_line_key unique (file_sha256, line_no)
);
create table if not exists raw.edu_completions (
    raw_id bigserial primary key, load_id text not null, loaded_at timestamptz not null,
    source_file text not null, file_sha256 text not null, line_no integer not null,
    record_hash text not null, record jsonb not null,
    constraint edu_completions_file_line_key unique (file_sha256, line_no)
);

-- Reference lists arrive as daily snapshots that repeat yesterday's rows: one raw row per distinct
-- row content (record_hash), first file that carried it.
create table if not exists raw.reference_credit_checks (
    raw_id bigserial primary key, load_id text not null, loaded_at timestamptz not null,
    source_file text not null, file_sha256 text not null, line_no integer not null,
    record_hash text not null unique, record jsonb not null
);
create table if not exists raw.reference_fair_trade_violations (
    raw_id bigserial primary key, load_id text not null, loaded_at timestamptz not null,
    source_file text not null, file_sha256 text not null, line_no integer not null,
    record_hash text not null unique, record jsonb not null
);
create table if not exists raw.reference_certifications (
    raw_id bigserial primary key, load_id text not null, loaded_at timestamptz not null,
    source_file text not null, file_sha256 text not null, line_no integer not null,
    record_hash text not null unique, record jsonb not null
);
create table if not exists raw.reference_mail_order_registry (
    raw_id bigserial primary key, load_id text not null, loaded_at timestamptz not null,
    source_file text not null, file_sha256 text not null, line_no integer not null,
    record_hash text not null unique, record jsonb not null
);
create table if not exists raw.reference_onnuri_listings (
    raw_id bigserial primary key, load_id text not null, loaded_at timestamptz not null,
    source_file text not null, file_sha256 text not null, line_no integer not null,
    record_hash text not null unique, record jsonb not null
);

-- 국세청 status answers, kept per day asked: the API answers the status *now*, so the status on a
-- deadline can only be read later from the answers kept on (or near) that day.
create table if not exists raw.nts_status_answers (
    raw_id bigserial primary key, load_id text not null, loaded_at timestamptz not null,
    asked_on date not null,             -- the business day (KST) the answer is for
    b_no text not null,
    record_hash text not null,
    record jsonb not null,              -- one element of the answer's data[]
    constraint nts_status_answers_day_key unique (asked_on, b_no)
);

-- Every landing-gate query reads one load (`where load_id = ...`): without these, each of its metric
-- queries scans the whole table, so a replay landing one load per file grows with files x rows.
create index if not exists portal_applications_load_idx on raw.portal_applications (load_id);
create index if not exists evaluation_scores_load_idx on raw.evaluation_scores (load_id);
create index if not exists sbiz24_o2o_applications_load_idx on raw.sbiz24_o2o_applications (load_id);
create index if not exists kakao_applications_load_idx on raw.kakao_applications (load_id);
create index if not exists edu_completions_load_idx on raw.edu_completions (load_id);
create index if not exists reference_credit_checks_load_idx on raw.reference_credit_checks (load_id);
create index if not exists reference_fair_trade_violations_load_idx on raw.reference_fair_trade_violations (load_id);
create index if not exists reference_certifications_load_idx on raw.reference_certifications (load_id);
create index if not exists reference_mail_order_registry_load_idx on raw.reference_mail_order_registry (load_id);
create index if not exists reference_onnuri_listings_load_idx on raw.reference_onnuri_listings (load_id);
create index if not exists nts_status_answers_load_idx on raw.nts_status_answers (load_id);

-- Great Expectations quality gates (panro.quality): one row per validation (a suite on a batch), for BI.
-- success = no hard failure; failed_expectations lists every failed expectation, hard or warning:
-- [{"type", "column", "observed", "severity", "description"}, ...].
create table if not exists ops.validation_results (
    validation_id       bigserial primary key,
    validated_at        timestamptz not null,
    gate                text        not null,   -- landing / transformed / publish
    suite               text        not null,
    batch               text        not null,   -- the table, with @load_id for a landing batch
    table_name          text        not null,
    load_id             text,
    run_id              text        not null,
    business_day        date        not null,
    success             boolean     not null,
    evaluated           integer     not null,
    hard_failures       integer     not null,
    warnings            integer     not null,
    failed_expectations jsonb       not null default '[]'::jsonb
);
create index if not exists validation_results_day_idx on ops.validation_results (business_day, gate);
create index if not exists validation_results_load_idx on ops.validation_results (load_id) where load_id is not null;

-- Decisions published by a passing publish gate: the gate checks before each run that none of them
-- changed or disappeared from marts.fct_allocation_decision, and adds the new ones after a pass.
create table if not exists ops.published_decisions (
    application_id   text        not null,
    program_code     text        not null,
    track_code       text,
    round_date       date        not null,
    decision         text        not null,
    rank             integer,
    decided_in_run   text,
    published_at     timestamptz not null,
    published_in_run text        not null,
    business_day     date        not null,
    primary key (application_id, round_date)
);

-- Deliveries of the daily extract (panro.delivery): one row per attempt, failed ones included. target
-- names the server and mailbox or folder, never a credential; files lists what was sent or skipped
-- (already there with the same SHA-256): [{"file", "sha256", "bytes", "action"}, ...].
create table if not exists ops.extract_deliveries (
    delivery_id  bigserial   primary key,
    business_day date        not null,
    method       text        not null,   -- smtp / sftp
    target       text        not null,
    started_at   timestamptz not null,
    finished_at  timestamptz not null,
    outcome      text        not null,   -- delivered / failed
    files        jsonb       not null default '[]'::jsonb,
    message      text
);
create index if not exists extract_deliveries_day_idx on ops.extract_deliveries (business_day, method);

-- Loads the landing gate refused, kept out of staging until someone accepts them. A refused load stays
-- in raw (raw is never changed); its rows reach the models only once a person has looked at it and
-- recorded why it is fine (`panro accept-load`), or the source sent a corrected delivery instead.
create table if not exists ops.load_acceptances (
    load_id     text        primary key,
    accepted_by text        not null,
    reason      text        not null,
    accepted_at timestamptz not null default now()
);

-- A load is rejected when the latest landing-gate run over it had a hard failure and nobody accepted it.
create or replace view ops.rejected_loads as
with latest as (
    select load_id, max(validated_at) as validated_at
      from ops.validation_results
     where gate = 'landing' and load_id is not null
     group by load_id
)
select latest.load_id, latest.validated_at, count(*) filter (where not v.success) as failed_suites
  from latest
  join ops.validation_results v
    on v.gate = 'landing' and v.load_id = latest.load_id and v.validated_at = latest.validated_at
 where not exists (select 1 from ops.load_acceptances a where a.load_id = latest.load_id)
 group by latest.load_id, latest.validated_at
having bool_or(not v.success);

-- How far quarantine.quarantine_holds has screened each raw table (raw is append-only): its pre-hook
-- fixes the last raw_id a build screens (screening_through, read in the build's transaction), its
-- post-hook records it as screened; the next incremental build screens the rows above it.
create table if not exists ops.quarantine_screening (
    raw_table         text   primary key,   -- schema-qualified, e.g. raw.portal_applications
    screened_through  bigint not null default 0,
    screening_through bigint not null default 0
);

-- The seeds (the rules as data) the warehouse holds: a digest of the seed files and their config. The
-- transform reloads them only when it differs (panro.dbt.seed_if_changed): reloading unchanged rules
-- every day cost a dbt run (6 s and more) for nothing.
create table if not exists ops.seed_state (
    is_current boolean     primary key default true check (is_current),   -- one row
    digest     text        not null,
    seeded_at  timestamptz not null default now()
);

-- What a person decided about a quarantined raw row (quarantine.quarantined_rows): `release` lets a row
-- whose only problem is releasable (control characters) into staging as it is; `dismiss` keeps it out
-- but stops reporting it (a corrected delivery replaced it, or it was never an application). Raw is never
-- changed: the decision is recorded here, with who and why, and the next dbt build applies it.
create table if not exists ops.quarantine_decisions (
    raw_table  text        not null,   -- schema-qualified, e.g. raw.portal_applications
    raw_id     bigint      not null,
    decision   text        not null check (decision in ('release', 'dismiss')),
    decided_by text        not null,
    reason     text        not null,
    decided_at timestamptz not null default now(),
    primary key (raw_table, raw_id)
);
