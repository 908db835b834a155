-- One row per business number: its 국세청 status as of the cut-off (the round day). The API answers the
-- status *now*, so the warehouse keeps each day's answer: the latest answer asked on or before the
-- cut-off is the status on the cut-off (answers asked later are not looked at, so a rerun of a day
-- judges what that day knew). The rule compares closed_on with the cut-off: a closure dated after it
-- (a closure filed ahead) still leaves the business open on the cut-off.
--
-- answer_since is the first day of the latest run of the same answer (registration, status, closing
-- day). The check's detail names it rather than answered_on: the number of every undecided application
-- is asked again each day, and a detail naming the day of the answer would change every day an answer
-- did not, so every such application would be judged and its checks rewritten again (61,567 of 264,648
-- applications a day at 200,000).
--
-- Incremental, because those answers pile up: about 49,000 a day at 200,000 applications, 12 million in
-- a programme year, which a full build would sort every day. A build reads only the answers after the
-- ones it has read (in asked order: asked_on, raw_id), and folds them into the stored status of their
-- numbers; the other numbers keep their rows, which equal what a full build gives. When the answers
-- read before may have changed, the pre-hook empties the table and the build reads every answer again
-- (start_over_unless_new_rows_follow in macros/folds.sql): a day before the last one read (a backfill),
-- an answer landed late for a day already read, a 국세청 load refused or accepted or an answer released
-- since, a change of this model's or the staging model's code.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='brn',
    on_schema_change='fail',
    indexes=[{'columns': ['brn'], 'unique': True}],
    tags=['folds_staged_rows'],
    pre_hook=[
        "{{ start_over_unless_new_rows_follow('stg_nts__status_answers', 'nts', 'nts_status_answers',"
        " late_when='late.asked_on < state.day') }}"
    ],
) }}
with

answers as (

    select * from {{ ref('stg_nts__status_answers') }}
    where brn is not null
        and asked_on <= {{ round_date() }}
    {%- if is_incremental() %}
        -- after the answers read: the first bound is the index's range, the second the exact one
        and asked_on >= (select coalesce(max(read_through_day), date '-infinity') from {{ this }})
        and (asked_on, raw_id) > (
            select coalesce(max(read_through_day), date '-infinity'), coalesce(max(read_through_raw_id), 0)
            from {{ this }}
        )
    {%- endif %}

),

-- The answers of each number in order, after its stored status (the answers read before, summed up:
-- their latest, and the day its run started) when it has one.
sequence as (

    {%- if is_incremental() %}
    select
        brn,
        answered_on as asked_on,
        cast(0 as bigint) as raw_id,  -- before any answer of the same day not read yet
        answer_since as stored_since,
        status_code,
        status,
        is_registered,
        closed_on,
        end_dt_text
    from {{ this }}
    where brn in (select answers.brn from answers)

    union all
    {%- endif %}

    select
        brn,
        asked_on,
        raw_id,
        cast(null as date) as stored_since,
        status_code,
        status,
        is_registered,
        closed_on,
        end_dt_text
    from answers

),

-- One sort: the day each answer starts a new run of answers, and whether it is the latest.
changes as (

    select
        *,
        case
            when stored_since is not null then stored_since
            when lag(row(is_registered, status, closed_on)) over by_day
                is not distinct from row(is_registered, status, closed_on)
                then null
            else asked_on
        end as changed_on,
        lead(raw_id) over by_day is null as is_latest
    from sequence
    window by_day as (partition by brn order by asked_on, raw_id)

),

runs as (

    select
        *,
        max(changed_on) over (partition by brn order by asked_on, raw_id) as answer_since
    from changes

),

final as (

    select
        brn,
        asked_on as answered_on,
        answer_since,
        status_code,
        status,
        is_registered,
        closed_on,
        end_dt_text,
        ---------- how far the row has read (start_over_unless_new_rows_follow)
        {{ round_date() }} as read_through_day,
        (select max(raw_id) from {{ ref('stg_nts__status_answers') }}) as read_through_raw_id,
        {{ staged_rows_context('stg_nts__status_answers', 'nts', 'nts_status_answers') }} as context_fingerprint
    from runs
    where is_latest

)

select * from final
