-- The current version of each application as of the end of the round day (KST): the latest version
-- whose updated_at is before round_date + 1 day at 00:00 +09:00 (ties: the later landed row).
-- Versions without an application_id or a readable updated_at cannot be placed in time and are left out.
with

versions as (

    select * from {{ ref('stg_portal__applications') }}
    where application_id is not null
        and updated_at < {{ round_end_kst() }}

),

ranked as (

    select
        versions.*,
        row_number() over (
            partition by application_id
            order by updated_at desc, raw_id desc
        ) as version_rank,
        count(*) over (partition by application_id) as versions_as_of_round
    from versions

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
        status = 'withdrawn' as is_withdrawn,

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
        {{ round_date() }} as as_of_round_date

    from ranked
    where version_rank = 1

)

select * from final
