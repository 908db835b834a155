-- One row per distinct course completion (raw.edu_completions), from its lines typed once
-- (base_edu__completion_rows). A completion repeated inside a file or in a later file is one row: lines
-- are grouped by their typed content (the BRN normalised, the course type lower-cased, the date read),
-- the first landed line is kept, and times_received counts them. Rebuilt whole, from typed lines only.
with

lines as (

    select * from {{ ref('base_edu__completion_rows') }}

),

counted as (

    select
        lines.*,
        row_number() over (same_completion order by raw_id) as receipt_no,
        count(*) over same_completion as times_received,
        {{ raw_ids_over('same_completion') }} as raw_ids
    from lines
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
        received_at as first_received_at,
        cast(times_received as integer) as times_received,
        raw_ids

    from counted
    where receipt_no = 1

)

select * from final
