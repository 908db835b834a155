-- One row per received line of a completions file (raw.edu_completions), typed: the BRN normalised,
-- course_type lower-cased, completed_on read (YYYY-MM-DD only, as the contract says: any other form
-- gives null). Row by row and incremental: each raw line is typed once, when it lands;
-- stg_edu__completions collapses repeated completions into one.
with

source as (

    select * from {{ stageable_rows('edu', 'edu_completions') }} as landed

),

renamed as (

    select
        ---------- ids
        raw_id,
        load_id,
        record_hash,
        source_file,
        line_no,
        {{ json_text('record', 'learner_id') }} as learner_id,

        ---------- business identity
        {{ normalize_brn(json_text('record', 'brn')) }} as brn,
        {{ json_text('record', 'brn') }} as brn_text,
        {{ brn_is_valid(json_text('record', 'brn')) }} as brn_is_valid,

        ---------- course
        lower({{ json_text('record', 'course_type') }}) as course_type,
        {{ json_text('record', 'course_code') }} as course_code,
        {{ json_text('record', 'course_name') }} as course_name,

        ---------- dates
        {{ try_cast_date(json_text('record', 'completed_on')) }} as completed_on,
        {{ json_text('record', 'completed_on') }} as completed_on_text,

        ---------- receipt
        loaded_at as received_at

    from source

)

select * from renamed
