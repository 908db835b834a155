-- One row per distinct row of the certification list (raw.reference_certifications), typed. cert_type is
-- a bonus ③ code (century_store, venture, patent, ...), lower-cased.
{%- set snapshot_day = "regexp_replace(source_file, '^.*_([0-9]{4})([0-9]{2})([0-9]{2})\\.csv$', '\\1-\\2-\\3')" %}
with

source as (

    select * from {{ stageable_rows('reference', 'reference_certifications') }} as landed

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

        ---------- certification
        lower({{ json_text('record', 'cert_type') }}) as cert_type,
        {{ json_text('record', 'cert_no') }} as cert_no,

        ---------- dates
        {{ try_cast_date(json_text('record', 'valid_from')) }} as valid_from,
        {{ try_cast_date(json_text('record', 'valid_to')) }} as valid_to,

        ---------- receipt (the first daily snapshot that carried the row)
        {{ try_cast_date(snapshot_day) }} as first_snapshot_on,
        loaded_at as first_received_at

    from source

)

select * from renamed
