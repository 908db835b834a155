-- One row per line of a committee score file (raw.evaluation_scores), typed.
-- round_id is `YYYYMMDD-<program_code>`: the round's day and sub-programme are parsed from it.
-- raw_id orders the lines as they were landed (a later delivery has larger ids).
-- int_committee_reviews_totalled totals again only the applications with new lines or lines of a round
-- that became visible, and reads their lines and their files' lines: the indexes beside the staging
-- models' own (raw_id, load_id; dbt_project.yml) find them without reading every line.
{{ config(indexes=[
    {'columns': ['raw_id'], 'unique': True},
    {'columns': ['load_id']},
    {'columns': ['application_id']},
    {'columns': ['round_date']},
    {'columns': ['source_file', 'raw_id']},
]) }}
with

source as (

    select * from {{ stageable_rows('evaluation', 'evaluation_scores') }} as landed

),

renamed as (

    select
        ---------- ids
        raw_id,
        load_id,
        source_file,
        file_sha256,
        line_no,
        {{ json_text('record', 'application_id') }} as application_id,
        {{ json_text('record', 'round_id') }} as round_id,
        {{ json_text('record', 'reviewer_id') }} as reviewer_id,

        ---------- round (parsed from round_id `YYYYMMDD-<program_code>`)
        {{ try_cast_date(
            "case when " ~ json_text('record', 'round_id') ~ " ~ '^[0-9]{8}-.+$' then "
            ~ "substr(" ~ json_text('record', 'round_id') ~ ", 1, 4) || '-' || "
            ~ "substr(" ~ json_text('record', 'round_id') ~ ", 5, 2) || '-' || "
            ~ "substr(" ~ json_text('record', 'round_id') ~ ", 7, 2) end"
        ) }} as round_date,
        case when {{ json_text('record', 'round_id') }} ~ '^[0-9]{8}-.+$'
            then substr({{ json_text('record', 'round_id') }}, 10)
        end as program_code,

        ---------- score
        lower({{ json_text('record', 'criterion') }}) as criterion,
        {{ try_cast_numeric(json_text('record', 'score')) }} as score,
        {{ try_cast_numeric(json_text('record', 'max_score')) }} as max_score,

        ---------- flags
        {{ try_cast_boolean(json_text('record', 'conflict_of_interest')) }} as has_conflict_of_interest,

        ---------- timestamps
        {{ try_cast_timestamptz(json_text('record', 'scored_at')) }} as scored_at

    from source

)

select * from renamed
