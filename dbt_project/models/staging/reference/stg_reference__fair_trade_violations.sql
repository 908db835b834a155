-- One row per distinct row of the 공정거래위원회 decision list (raw.reference_fair_trade_violations), typed.
{%- set snapshot_day = "regexp_replace(source_file, '^.*_([0-9]{4})([0-9]{2})([0-9]{2})\\.csv$', '\\1-\\2-\\3')" %}
with

source as (

    select * from {{ stageable_rows('reference', 'reference_fair_trade_violations') }} as landed

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

        ---------- decision
        {{ json_text('record', 'case_no') }} as case_no,
        {{ try_cast_date(json_text('record', 'decided_on')) }} as decided_on,
        {{ json_text('record', 'violation_type') }} as violation_type,

        ---------- receipt (the first daily snapshot that carried the row)
        {{ try_cast_date(snapshot_day) }} as first_snapshot_on,
        loaded_at as first_received_at

    from source

)

select * from renamed
