-- One row per received version of a 판판대로 application (raw.portal_applications), typed.
-- Malformed values become null through the safe casts; nothing here raises an error on bad input.
-- Rows that cannot be typed (no application id, no readable updated_at, ...) are in quarantine instead
-- (macros/quarantine.sql).
-- int_applications_current_folded finds the versions staged or become visible since its last build, and
-- reads those applications' versions: the indexes beside the staging models' own (raw_id, load_id;
-- dbt_project.yml) find them without reading every version.
{{ config(indexes=[
    {'columns': ['raw_id'], 'unique': True},
    {'columns': ['load_id']},
    {'columns': ['application_id']},
    {'columns': ['updated_at']},
]) }}
with

source as (

    select * from {{ stageable_rows('portal', 'portal_applications') }} as landed

),

renamed as (

    select
        ---------- ids
        raw_id,
        load_id,
        record_hash,
        {{ portal_application_id() }} as application_id,
        {{ json_text('record', 'program_code') }} as program_code,
        {{ json_text('record', 'track_code') }} as track_code,

        ---------- status
        lower({{ json_text('record', 'status') }}) as status,

        ---------- timestamps (KST when the text has no offset)
        {{ try_cast_timestamptz(json_text('record', 'submitted_at')) }} as submitted_at,
        {{ json_text('record', 'submitted_at') }} as submitted_at_text,
        {{ try_cast_timestamptz(portal_updated_at_text()) }}
            as updated_at,

        ---------- business identity (personal data: kept out of marts)
        {{ normalize_brn(json_text('record', 'business,brn')) }} as brn,
        {{ json_text('record', 'business,brn') }} as brn_text,
        {{ brn_is_valid(json_text('record', 'business,brn')) }} as brn_is_valid,
        {{ json_text('record', 'business,corporate_no') }} as corporate_no,
        {{ json_text('record', 'business,name') }} as business_name,
        {{ json_text('record', 'business,representative_name') }} as representative_name,
        {{ json_text('record', 'business,business_type') }} as business_type,
        {{ try_cast_date(json_text('record', 'business,opened_on')) }} as opened_on,

        ---------- industry and size
        {{ json_text('record', 'business,ksic_code') }} as ksic_code,
        {{ try_cast_integer(json_text('record', 'business,ksic_revision')) }} as ksic_revision,
        {{ try_cast_amount(json_text('record', 'business,employees')) }} as employees,
        {{ try_cast_amount(json_text('record', 'business,annual_revenue_krw')) }} as annual_revenue_krw,

        ---------- location and contact (personal data: kept out of marts)
        {{ json_text('record', 'business,sido') }} as sido,
        {{ json_text('record', 'business,sigungu') }} as sigungu,
        {{ json_text('record', 'business,address') }} as address,
        {{ json_text('record', 'business,phone') }} as phone,
        {{ json_text('record', 'business,email') }} as email,

        ---------- online presence
        {{ try_cast_boolean(json_text('record', 'online_presence,has_own_mall')) }} as has_own_mall,
        {{ json_text('record', 'online_presence,own_mall_url') }} as own_mall_url,
        {{ try_cast_boolean(json_text('record', 'online_presence,mail_order_registered')) }}
            as mail_order_registered,
        {{ try_cast_date(json_text('record', 'online_presence,mail_order_registered_on')) }}
            as mail_order_registered_on,
        {{ json_text('record', 'online_presence,smartstore_url') }} as smartstore_url,
        {{ try_cast_date(json_text('record', 'online_presence,smartstore_opened_on')) }}
            as smartstore_opened_on,

        ---------- product
        {{ json_text('record', 'product,name') }} as product_name,
        {{ json_text('record', 'product,category') }} as product_category,
        {{ try_cast_boolean(json_text('record', 'product,is_imported')) }} as is_imported,
        {{ try_cast_boolean(json_text('record', 'product,is_large_company_product')) }}
            as is_large_company_product,
        {{ try_cast_amount(json_text('record', 'product,unit_price_krw')) }} as unit_price_krw,

        ---------- nested lists and answers (kept as jsonb)
        {{ json_value('record', 'documents') }} as documents,
        ---------- the uploaded documents typed once per version here, not every day by the judging
        uploads.document_uploads,
        {{ json_value('record', 'bonus_claims') }} as bonus_claims,
        {{ json_value('record', 'program_answers') }} as program_answers,

        ---------- consents (null when the consents key is missing)
        {{ try_cast_boolean(json_text('record', 'consents,privacy')) }} as consent_privacy,
        {{ try_cast_boolean(json_text('record', 'consents,third_party')) }} as consent_third_party

    from source
    left join lateral (
        select jsonb_agg(
            jsonb_build_object(
                'type', lower(btrim(upload.document ->> 'type')),
                'issued_on', {{ try_cast_date("btrim(upload.document ->> 'issued_on')") }},
                'valid_until', {{ try_cast_date("btrim(upload.document ->> 'valid_until')") }},
                'bonus_code', lower(btrim(upload.document ->> 'bonus_code'))
            )
            order by upload.n
        ) as document_uploads
        from jsonb_array_elements(
            case when jsonb_typeof(source.record -> 'documents') = 'array' then source.record -> 'documents' end
        ) with ordinality as upload (document, n)
        where jsonb_typeof(upload.document) = 'object'
    ) as uploads on true

)

select * from renamed
