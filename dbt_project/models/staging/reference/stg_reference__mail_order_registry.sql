-- One row per distinct row of the 통신판매업 신고 registry (raw.reference_mail_order_registry), typed.
-- A status change of a registration lands as another row: the intermediate layer picks the one in force.
{%- set snapshot_day = "regexp_replace(source_file, '^.*_([0-9]{4})([0-9]{2})([0-9]{2})\\.csv$', '\\1-\\2-\\3')" %}
with

source as (

    select * from {{ stageable_rows('reference', 'reference_mail_order_registry') }} as landed

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
        {{ try_cast_date(json_text('record', 'registered_on')) }} as registered_on,

        ---------- status (정상영업 / 휴업 / 폐업)
        {{ json_text('record', 'status') }} as status_ko,
        case replace({{ json_text('record', 'status') }}, ' ', '')
            when '정상영업' then 'active'
            when '휴업' then 'suspended'
            when '폐업' then 'closed'
        end as status,

        ---------- receipt (the first daily snapshot that carried the row)
        {{ try_cast_date(snapshot_day) }} as first_snapshot_on,
        loaded_at as first_received_at

    from source

)

select * from renamed
