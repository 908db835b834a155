-- The current version of each application as of the end of the round day (KST), from every channel:
--   portal  판판대로: the latest version whose updated_at is before round_date + 1 day at 00:00 +09:00
--           (ties: the later landed row).
--   sbiz24  소상공인24 O2O export (2-6): the latest version exported on or before the round day.
--   kakao   소담스퀘어 KakaoTalk workbooks (3-2): the latest version of a workbook dated on or before it.
-- Versions without an application_id or a readable updated_at (portal) cannot be placed in time and are
-- left out. A file channel knows a change only to the day: its updated_at is the export (workbook) day
-- at 00:00 KST, or the submission time when that is later (the first version). Columns a channel does
-- not carry are null; raw_id is the row of that channel's raw table (unique with channel).
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
        ---------- ids
        'portal' as channel,
        raw_id,
        load_id,
        record_hash,
        application_id,
        program_code,
        track_code,

        ---------- status
        status,
        status = 'withdrawn' as is_withdrawn,

        ---------- timestamps
        submitted_at,
        submitted_at_text,
        false as submitted_at_is_date_only,
        updated_at,

        ---------- business identity (personal data)
        brn,
        brn_text,
        brn_is_valid,
        corporate_no,
        business_name,
        representative_name,
        business_type,
        opened_on,

        ---------- industry and size
        ksic_code,
        ksic_revision,
        employees,
        annual_revenue_krw,

        ---------- location and contact (personal data)
        sido,
        sigungu,
        address,
        phone,
        email,

        ---------- online presence
        has_own_mall,
        own_mall_url,
        mail_order_registered,
        mail_order_registered_on,
        smartstore_url,
        smartstore_opened_on,

        ---------- product
        product_name,
        product_category,
        is_imported,
        is_large_company_product,
        unit_price_krw,

        ---------- nested
        documents,
        bonus_claims,
        program_answers,

        ---------- consents
        consent_privacy,
        consent_third_party,

        ---------- channel specifics
        cast(null as text) as site_code,
        cast(null as text) as o2o_platform,

        ---------- versioning
        versions_as_of_round

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
        'sbiz24' as channel,
        raw_id,
        load_id,
        record_hash,
        application_id,
        '2-6' as program_code,
        cast(null as text) as track_code,

        status,
        status = 'withdrawn' as is_withdrawn,

        submitted_at,
        submitted_at_text,
        false as submitted_at_is_date_only,
        greatest(submitted_at, cast(version_on as timestamp) at time zone 'Asia/Seoul') as updated_at,

        brn,
        brn_text,
        brn_is_valid,
        cast(null as text) as corporate_no,
        business_name,
        representative_name,
        cast(null as text) as business_type,
        cast(null as date) as opened_on,

        ksic_code,
        cast(null as integer) as ksic_revision,
        employees,
        annual_revenue_krw,

        sido,
        sigungu,
        cast(null as text) as address,
        phone,
        cast(null as text) as email,

        cast(null as boolean) as has_own_mall,
        cast(null as text) as own_mall_url,
        cast(null as boolean) as mail_order_registered,
        cast(null as date) as mail_order_registered_on,
        cast(null as text) as smartstore_url,
        cast(null as date) as smartstore_opened_on,

        cast(null as text) as product_name,
        cast(null as text) as product_category,
        cast(null as boolean) as is_imported,
        cast(null as boolean) as is_large_company_product,
        cast(null as numeric) as unit_price_krw,

        cast(null as jsonb) as documents,
        cast(null as jsonb) as bonus_claims,
        cast(null as jsonb) as program_answers,

        cast(null as boolean) as consent_privacy,
        cast(null as boolean) as consent_third_party,

        cast(null as text) as site_code,
        o2o_platform,

        versions_as_of_round

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

kakao as (

    select
        'kakao' as channel,
        raw_id,
        load_id,
        record_hash,
        application_id,
        '3-2' as program_code,
        cast(null as text) as track_code,

        -- the workbooks list applications; they carry no status (a withdrawal is not reported)
        'submitted' as status,
        false as is_withdrawn,

        submitted_at,
        submitted_at_text,
        submitted_at_is_date_only,
        greatest(submitted_at, cast(version_on as timestamp) at time zone 'Asia/Seoul') as updated_at,

        brn,
        brn_text,
        brn_is_valid,
        cast(null as text) as corporate_no,
        business_name,
        representative_name,
        cast(null as text) as business_type,
        cast(null as date) as opened_on,

        cast(null as text) as ksic_code,
        cast(null as integer) as ksic_revision,
        cast(null as numeric) as employees,
        cast(null as numeric) as annual_revenue_krw,

        -- 지역 is typed freely ("서울 마포구"): kept whole as the address, not split into 시도 / 시군구
        cast(null as text) as sido,
        cast(null as text) as sigungu,
        region as address,
        phone,
        cast(null as text) as email,

        cast(null as boolean) as has_own_mall,
        cast(null as text) as own_mall_url,
        cast(null as boolean) as mail_order_registered,
        cast(null as date) as mail_order_registered_on,
        cast(null as text) as smartstore_url,
        cast(null as date) as smartstore_opened_on,

        cast(null as text) as product_name,
        cast(null as text) as product_category,
        cast(null as boolean) as is_imported,
        cast(null as boolean) as is_large_company_product,
        cast(null as numeric) as unit_price_krw,

        cast(null as jsonb) as documents,
        cast(null as jsonb) as bonus_claims,
        cast(null as jsonb) as program_answers,

        consent_privacy,
        cast(null as boolean) as consent_third_party,

        site_code,
        cast(null as text) as o2o_platform,

        versions_as_of_round

    from kakao_ranked
    where version_rank = 1

),

unioned as (

    select * from portal
    union all
    select * from sbiz24
    union all
    select * from kakao

),

final as (

    select
        ---------- ids
        raw_id,
        load_id,
        record_hash,
        application_id,
        program_code,
        track_code,

        ---------- status
        status,
        is_withdrawn,

        ---------- timestamps
        submitted_at,
        submitted_at_text,
        updated_at,

        ---------- business identity (personal data)
        brn,
        brn_text,
        brn_is_valid,
        corporate_no,
        business_name,
        representative_name,
        business_type,
        opened_on,

        ---------- industry and size
        ksic_code,
        ksic_revision,
        employees,
        annual_revenue_krw,

        ---------- location and contact (personal data)
        sido,
        sigungu,
        address,
        phone,
        email,

        ---------- online presence
        has_own_mall,
        own_mall_url,
        mail_order_registered,
        mail_order_registered_on,
        smartstore_url,
        smartstore_opened_on,

        ---------- product
        product_name,
        product_category,
        is_imported,
        is_large_company_product,
        unit_price_krw,

        ---------- nested
        documents,
        bonus_claims,
        program_answers,

        ---------- consents
        consent_privacy,
        consent_third_party,

        ---------- versioning
        cast(versions_as_of_round as integer) as versions_as_of_round,
        {{ round_date() }} as as_of_round_date,

        ---------- channel (added after the foundation columns, which keep their order)
        channel,
        site_code,
        o2o_platform,
        submitted_at_is_date_only

    from unioned

)

select * from final
