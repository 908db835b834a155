-- One row per distinct row of the credit check list (raw.reference_credit_checks), typed: tax arrears and
-- financial default checks of a business on a day. Y/N flags become booleans (anything else: null).
{%- set snapshot_day = "regexp_replace(source_file, '^.*_([0-9]{4})([0-9]{2})([0-9]{2})\\.csv$', '\\1-\\2-\\3')" %}
with

source as (

    select * from {{ stageable_rows('reference', 'reference_credit_checks') }} as landed

),

renamed as (

    select
        ---------- ids
        raw_id,
        load_id,
        record_hash,
        source_file,
        line_no,

        ---------- business identity
        {{ normalize_brn(json_text('record', 'brn')) }} as brn,
        {{ json_text('record', 'brn') }} as brn_text,
        {{ brn_is_valid(json_text('record', 'brn')) }} as brn_is_valid,

        ---------- dates
        {{ try_cast_date(json_text('record', 'checked_on')) }} as checked_on,

        ---------- flags (Y/N)
        {{ try_cast_boolean(json_text('record', 'national_tax_arrears')) }} as has_national_tax_arrears,
        {{ try_cast_boolean(json_text('record', 'local_tax_arrears')) }} as has_local_tax_arrears,
        {{ try_cast_boolean(json_text('record', 'financial_default')) }} as has_financial_default,

        ---------- receipt (the first daily snapshot that carried the row)
        {{ try_cast_date(snapshot_day) }} as first_snapshot_on,
        loaded_at as first_received_at

    from source

)

select * from renamed
