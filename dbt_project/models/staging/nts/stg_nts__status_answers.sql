-- One row per 국세청 status answer for a business number on a day (raw.nts_status_answers), typed.
-- b_stt_cd 01 in business, 02 suspended (휴업), 03 closed (폐업, end_dt = closing day YYYYMMDD); an empty
-- code means the tax office does not know the number: status_code is null, is_registered false, and the
-- API's message in tax_type ("국세청에 등록되지 않은 사업자등록번호입니다.") is not kept as a tax type.
{#- The answers pile up (the undecided applications' numbers are asked every day: about 49,000 answers a
    day at 200,000 applications), so nothing here reads all of them each day: the contract's constraints
    (in the yml) check each answer as it is written, and the key (asked_on, brn_text) is a unique index,
    as raw's (asked_on, b_no) is, which int_business_statuses_as_of_cutoff also reads the new answers by.
    The folder's two indexes are repeated: this list replaces theirs. -#}
{{ config(contract={'enforced': True}, indexes=[
    {'columns': ['raw_id'], 'unique': True},
    {'columns': ['load_id']},
    {'columns': ['asked_on', 'brn_text'], 'unique': True},
]) }}
{%- set yyyymmdd_template = "case when KEY ~ '^[0-9]{8}$' then substr(KEY, 1, 4) || '-' || substr(KEY, 5, 2) || '-' || substr(KEY, 7, 2) end" %}
with

source as (

    select * from {{ stageable_rows('nts', 'nts_status_answers') }} as landed

),

renamed as (

    select
        ---------- ids
        raw_id,
        load_id,
        record_hash,
        asked_on,

        ---------- business identity
        {{ normalize_brn("coalesce(" ~ json_text('record', 'b_no') ~ ", b_no)") }} as brn,
        coalesce({{ json_text('record', 'b_no') }}, b_no) as brn_text,
        {{ brn_is_valid("coalesce(" ~ json_text('record', 'b_no') ~ ", b_no)") }} as brn_is_valid,

        ---------- status (b_stt_cd: 01 / 02 / 03, empty when unknown to the tax office)
        {{ json_text('record', 'b_stt_cd') }} as status_code,
        {{ json_text('record', 'b_stt') }} as status_ko,
        case {{ json_text('record', 'b_stt_cd') }}
            when '01' then 'in_business'
            when '02' then 'suspended'
            when '03' then 'closed'
        end as status,
        coalesce({{ json_text('record', 'b_stt_cd') }} in ('01', '02', '03'), false) as is_registered,

        ---------- dates (YYYYMMDD, empty when none)
        {{ try_cast_date(yyyymmdd_template | replace('KEY', json_text('record', 'end_dt'))) }} as closed_on,
        {{ json_text('record', 'end_dt') }} as end_dt_text,
        {{ try_cast_date(yyyymmdd_template | replace('KEY', json_text('record', 'tax_type_change_dt'))) }}
            as tax_type_changed_on,

        ---------- tax type (null for a number the tax office does not know)
        case
            when {{ json_text('record', 'b_stt_cd') }} in ('01', '02', '03')
                then {{ json_text('record', 'tax_type') }}
        end as tax_type,
        case
            when {{ json_text('record', 'b_stt_cd') }} in ('01', '02', '03')
                then {{ json_text('record', 'tax_type_cd') }}
        end as tax_type_code,

        ---------- receipt
        loaded_at as received_at

    from source

)

select * from renamed
