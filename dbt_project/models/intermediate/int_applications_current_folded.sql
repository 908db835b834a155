-- The current version of each application as of the end of the round day (KST), from every channel,
-- without that day (int_applications_current, a view, adds it):
--   portal  판판대로: the latest version whose updated_at is before round_date + 1 day at 00:00 +09:00
--           (ties: the later landed row).
--   sbiz24  소상공인24 O2O export (2-6): the latest version exported on or before the round day.
--   kakao   소담스퀘어 KakaoTalk workbooks (3-2): the latest version of a workbook dated on or before it.
-- Versions without an application_id or a readable updated_at (portal) cannot be placed in time and are
-- left out. A file channel knows a change only to the day: its updated_at is the export (workbook) day
-- at 00:00 KST, or the submission time when that is later (the first version). Columns a channel does
-- not carry are null; raw_id is the row of that channel's raw table (unique with channel).
--
-- A fold, because the versions pile up (250,000 portal versions at 200,000 applications) and choosing
-- every application's current version again was the first model on the daily build's critical path. An
-- application's row depends only on its own versions, so a build chooses again only for the applications
-- with versions staged since the last build (raw_id, per channel) or versions that became visible since
-- the last round day read (updated_at, export or workbook day), and keeps the others' rows, which equal
-- what a full build gives. The pre-hook empties the table, and the build reads every version again, on a
-- day before the last one read (a backfill), after a load of a channel was refused or accepted or a row
-- released from quarantine since, or a change of this model's or the staging models' code
-- (start_over_unless_read_forward in macros/folds.sql). Between two start-overs versions are only added
-- and become visible, so an application keeps its row once it has one. The read_through indexes find the
-- rows written since a model folding these rows read them (int_application_documents_validated).
{%- set columns = current_application_columns() | reject('equalto', ('as_of_round_date', 'date')) | list
    + [('read_through_day', 'date'), ('read_through_raw_id', 'bigint'), ('context_fingerprint', 'text')] %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='application_id',
    on_schema_change='fail',
    indexes=applications_fold_indexes() + [{'columns': ['channel', 'raw_id'], 'unique': True}],
    tags=['folds_staged_rows'],
    pre_hook=["{{ start_over_unless_read_forward(current_versions_context()) }}"],
) }}

{# Columns every channel computes the same way; read_through_raw_id is the channel's own. #}
{% set shared = {
    'versions_as_of_round': 'cast(versions_as_of_round as integer)',
    'read_through_day': round_date(),
    'context_fingerprint': current_versions_context(),
} %}

with

{%- if is_incremental() %}
-- How far the table has read: the last round day, and each channel's last staged raw_id.
state as materialized (

    {{ applications_fold_state() }}

),

-- The applications to choose for again: versions staged since, and versions that became visible since
-- the last round day read (by the portal staging model's raw_id and updated_at indexes; the file
-- channels' versions are few and rebuilt whole every day).
changed as materialized (

    select application_id from {{ ref('stg_portal__applications') }}
    where raw_id > (select portal_raw_id from state)
    union
    select application_id from {{ ref('stg_portal__applications') }}
    where updated_at >= (select cast(day + 1 as timestamp) at time zone 'Asia/Seoul' from state)
        and updated_at < {{ round_end_kst() }}
    union
    select application_id from {{ ref('stg_sbiz24__o2o_applications') }} as stg
    where stg.raw_id > (select sbiz24_raw_id from state)
        or ({{ sbiz24_version_on('stg') }} > (select day from state)
            and {{ sbiz24_version_on('stg') }} <= {{ round_date() }})
    union
    select application_id from {{ ref('stg_kakao__applications') }} as stg
    where stg.raw_id > (select kakao_raw_id from state)
        or ({{ kakao_version_on('stg') }} > (select day from state)
            and {{ kakao_version_on('stg') }} <= {{ round_date() }})

),
{%- endif %}

portal_versions as (

    select * from {{ ref('stg_portal__applications') }}
    where application_id is not null
        and updated_at < {{ round_end_kst() }}
        {%- if is_incremental() %}
        and application_id in (select changed.application_id from changed)
        {%- endif %}

),

portal_ranked as (

    select
        portal_versions.*,
        row_number() over (
            partition by application_id
            order by updated_at desc, raw_id desc
        ) as version_rank,
        count(*) over (partition by application_id) as versions_as_of_round
    from portal_versions

),

portal as (

    select
        {{- select_union_columns(
            columns,
            shared=shared,
            carried=columns | map('first') | reject('in', ['site_code', 'o2o_platform']) | list,
            given={
                'channel': "'portal'",
                'read_through_raw_id': '(select max(raw_id) from ' ~ ref('stg_portal__applications') ~ ')',
                'is_withdrawn': "status = 'withdrawn'",
                'submitted_at_is_date_only': 'false',
            },
        ) }}
    from portal_ranked
    where version_rank = 1

),

sbiz24_ranked as (

    {{ file_versions_as_of_round('stg_sbiz24__o2o_applications', sbiz24_version_on('stg')) }}

),

sbiz24 as (

    select
        {{- select_union_columns(
            columns,
            shared=shared,
            carried=[
                'raw_id', 'load_id', 'record_hash', 'application_id', 'status', 'submitted_at',
                'submitted_at_text', 'brn', 'brn_text', 'brn_is_valid', 'business_name',
                'representative_name', 'ksic_code', 'employees', 'annual_revenue_krw', 'sido', 'sigungu',
                'phone', 'o2o_platform',
            ],
            given={
                'channel': "'sbiz24'",
                'read_through_raw_id': '(select max(raw_id) from ' ~ ref('stg_sbiz24__o2o_applications') ~ ')',
                'program_code': "'2-6'",
                'is_withdrawn': "status = 'withdrawn'",
                'submitted_at_is_date_only': 'false',
                'updated_at': "greatest(submitted_at, cast(version_on as timestamp) at time zone 'Asia/Seoul')",
            },
        ) }}
    from sbiz24_ranked
    where version_rank = 1

),

kakao_ranked as (

    {{ file_versions_as_of_round('stg_kakao__applications', kakao_version_on('stg')) }}

),

{# The workbooks list applications without a status (a withdrawal is not reported). 지역 is typed freely
    ("서울 마포구"): kept whole as the address, not split into 시도 / 시군구. #}
kakao as (

    select
        {{- select_union_columns(
            columns,
            shared=shared,
            carried=[
                'raw_id', 'load_id', 'record_hash', 'application_id', 'submitted_at', 'submitted_at_text',
                'submitted_at_is_date_only', 'brn', 'brn_text', 'brn_is_valid', 'business_name',
                'representative_name', 'phone', 'consent_privacy', 'site_code',
            ],
            given={
                'channel': "'kakao'",
                'read_through_raw_id': '(select max(raw_id) from ' ~ ref('stg_kakao__applications') ~ ')',
                'program_code': "'3-2'",
                'status': "'submitted'",
                'is_withdrawn': 'false',
                'updated_at': "greatest(submitted_at, cast(version_on as timestamp) at time zone 'Asia/Seoul')",
                'address': 'region',
            },
        ) }}
    from kakao_ranked
    where version_rank = 1

),

final as (

    select * from portal
    union all
    select * from sbiz24
    union all
    select * from kakao

)

select * from final
