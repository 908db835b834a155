-- The current version of each application as of the end of the round day (KST), from every channel:
--   portal  판판대로: the latest version whose updated_at is before round_date + 1 day at 00:00 +09:00
--           (ties: the later landed row).
--   sbiz24  소상공인24 O2O export (2-6): the latest version exported on or before the round day.
--   kakao   소담스퀘어 KakaoTalk workbooks (3-2): the latest version of a workbook dated on or before it.
-- Versions without an application_id or a readable updated_at (portal) cannot be placed in time and are
-- left out. A file channel knows a change only to the day: its updated_at is the export (workbook) day
-- at 00:00 KST, or the submission time when that is later (the first version). Columns a channel does
-- not carry are null; raw_id is the row of that channel's raw table (unique with channel).
{# Every column of the model in its order, with its type for the channels that do not carry it (they get
    null). The channel columns come after the foundation columns, which keep their order. #}
{% set columns = [
    ('raw_id', 'bigint'), ('load_id', 'text'), ('record_hash', 'text'),
    ('application_id', 'text'), ('program_code', 'text'), ('track_code', 'text'),
    ('status', 'text'), ('is_withdrawn', 'boolean'),
    ('submitted_at', 'timestamptz'), ('submitted_at_text', 'text'), ('updated_at', 'timestamptz'),
    ('brn', 'text'), ('brn_text', 'text'), ('brn_is_valid', 'boolean'), ('corporate_no', 'text'),
    ('business_name', 'text'), ('representative_name', 'text'), ('business_type', 'text'), ('opened_on', 'date'),
    ('ksic_code', 'text'), ('ksic_revision', 'integer'), ('employees', 'numeric'), ('annual_revenue_krw', 'numeric'),
    ('sido', 'text'), ('sigungu', 'text'), ('address', 'text'), ('phone', 'text'), ('email', 'text'),
    ('has_own_mall', 'boolean'), ('own_mall_url', 'text'), ('mail_order_registered', 'boolean'),
    ('mail_order_registered_on', 'date'), ('smartstore_url', 'text'), ('smartstore_opened_on', 'date'),
    ('product_name', 'text'), ('product_category', 'text'), ('is_imported', 'boolean'),
    ('is_large_company_product', 'boolean'), ('unit_price_krw', 'numeric'),
    ('documents', 'jsonb'), ('document_uploads', 'jsonb'), ('bonus_claims', 'jsonb'), ('program_answers', 'jsonb'),
    ('consent_privacy', 'boolean'), ('consent_third_party', 'boolean'),
    ('versions_as_of_round', 'integer'), ('as_of_round_date', 'date'),
    ('channel', 'text'), ('site_code', 'text'), ('o2o_platform', 'text'), ('submitted_at_is_date_only', 'boolean'),
] %}

{# Columns every channel computes the same way. #}
{% set shared = {
    'versions_as_of_round': 'cast(versions_as_of_round as integer)',
    'as_of_round_date': round_date(),
} %}

with

portal_versions as (

    select * from {{ ref('stg_portal__applications') }}
    where application_id is not null
        and updated_at < {{ round_end_kst() }}

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
                'is_withdrawn': "status = 'withdrawn'",
                'submitted_at_is_date_only': 'false',
            },
        ) }}
    from portal_ranked
    where version_rank = 1

),

sbiz24_versions as (

    select
        stg.*,
        -- the export day; a file name without a date falls back to the KST day it was landed
        coalesce(stg.exported_on, cast(stg.version_received_at at time zone 'Asia/Seoul' as date)) as version_on
    from {{ ref('stg_sbiz24__o2o_applications') }} as stg
    where stg.application_id is not null

),

sbiz24_ranked as (

    select
        sbiz24_versions.*,
        row_number() over (partition by application_id order by version_no desc) as version_rank,
        count(*) over (partition by application_id) as versions_as_of_round
    from sbiz24_versions
    where version_on <= {{ round_date() }}

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
                'program_code': "'2-6'",
                'is_withdrawn': "status = 'withdrawn'",
                'submitted_at_is_date_only': 'false',
                'updated_at': "greatest(submitted_at, cast(version_on as timestamp) at time zone 'Asia/Seoul')",
            },
        ) }}
    from sbiz24_ranked
    where version_rank = 1

),

kakao_versions as (

    select
        stg.*,
        coalesce(stg.workbook_date, cast(stg.version_received_at at time zone 'Asia/Seoul' as date)) as version_on
    from {{ ref('stg_kakao__applications') }} as stg
    where stg.application_id is not null

),

kakao_ranked as (

    select
        kakao_versions.*,
        row_number() over (partition by application_id order by version_no desc) as version_rank,
        count(*) over (partition by application_id) as versions_as_of_round
    from kakao_versions
    where version_on <= {{ round_date() }}

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
