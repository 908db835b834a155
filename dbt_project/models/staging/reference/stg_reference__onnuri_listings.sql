-- One row per distinct row of the 온누리상품관 listing history (raw.reference_onnuri_listings), typed.
-- listed_to is empty while the listing lasts; its end lands later as another row.
{%- set snapshot_day = "regexp_replace(source_file, '^.*_([0-9]{4})([0-9]{2})([0-9]{2})\\.csv$', '\\1-\\2-\\3')" %}
with

source as (

    select * from {{ stageable_rows('reference', 'reference_onnuri_listings') }} as landed

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
        {{ try_cast_date(json_text('record', 'listed_from')) }} as listed_from,
        {{ try_cast_date(json_text('record', 'listed_to')) }} as listed_to,
        {{ json_text('record', 'listed_to') }} is null as is_open_ended,

        ---------- receipt (the first daily snapshot that carried the row)
        {{ try_cast_date(snapshot_day) }} as first_snapshot_on,
        loaded_at as first_received_at

    from source

)

select * from renamed
