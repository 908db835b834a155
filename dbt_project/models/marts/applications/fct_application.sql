-- One row per application, from every channel (판판대로 portal, 소상공인24 O2O, 소담스퀘어 KakaoTalk): its
-- current version as of the end of the round day (KST).
-- No personal data: the business is identified by business_key, a salted hash of the BRN.
with

applications as (

    select * from {{ ref('int_applications_current') }}

),

final as (

    select
        ---------- ids
        application_id,
        program_code,
        track_code,
        {{ business_key('brn') }} as business_key,

        ---------- status
        status,
        coalesce(is_withdrawn, false) as is_withdrawn,

        ---------- timestamps
        submitted_at,
        updated_at,

        ---------- business profile (not personal)
        sido,
        ksic_code,
        ksic_revision,
        employees,
        annual_revenue_krw,

        ---------- lineage
        raw_id as source_raw_id,
        versions_as_of_round,
        as_of_round_date,

        ---------- channel
        channel,
        site_code,
        o2o_platform,
        submitted_at_is_date_only

    from applications

)

select * from final
