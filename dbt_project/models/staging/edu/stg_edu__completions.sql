-- One row per distinct course completion (raw.edu_completions), typed. A completion repeated inside a
-- file or in a later file is one row: rows are grouped by their typed content (the BRN normalised, the
-- course type lower-cased, the date read), the first landed row is kept, and times_received counts them.
-- completed_on must be YYYY-MM-DD as the contract says: any other form is malformed and gives null.
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
        loaded_at as first_received_at

    from source

),

counted as (

    select
        renamed.*,
        row_number() over (same_completion order by raw_id) as receipt_no,
        count(*) over same_completion as times_received,
        {{ raw_ids_over('same_completion') }} as raw_ids
    from renamed
    window same_completion as (
        partition by
            coalesce(brn, brn_text),
            learner_id,
            course_type,
            course_code,
            course_name,
            coalesce(cast(completed_on as text), completed_on_text)
    )

),

final as (

    select
        ---------- ids
        raw_id,
        load_id,
        record_hash,
        source_file,
        line_no,
        learner_id,

        ---------- business identity
        brn,
        brn_text,
        brn_is_valid,

        ---------- course
        course_type,
        course_code,
        course_name,

        ---------- dates
        completed_on,
        completed_on_text,

        ---------- receipt
        first_received_at,
        cast(times_received as integer) as times_received,
        raw_ids

    from counted
    where receipt_no = 1

)

select * from final
