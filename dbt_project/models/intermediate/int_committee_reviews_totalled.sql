-- One row per application scored by the selection committee in a round on or before the round day and
-- reviewer of that application's first round: the reviewer's rubric (product 40 + online_readiness 30 +
-- growth 30) and total, whether the reviewer counts (no conflict of interest, an unreadable conflict
-- flag counting as one, and all three criteria scored). An application of a first round without any
-- usable reviewer line keeps one row with a null reviewer_id. A criterion scored twice by one reviewer
-- in the round keeps the latest line (scored_at, then raw_id). Only the latest delivery of each score
-- file counts (a re-delivery is a correction). int_committee_scores_aggregated averages these.
--
-- Incremental, because the score lines pile up (1.9 million at 200,000 applications) and totalling
-- them all was the slowest model of a daily build. Each application's rows depend only on its own
-- lines (and the deliveries of their files), so a build totals again only the applications that have
-- lines staged since the last build or lines of a round that became visible since the last round day
-- read, and keeps the others' rows, which equal what a full build gives. The pre-hook empties the
-- table, and the build totals every line again, when the lines read may have changed
-- (start_over_unless_new_rows_follow in macros/folds.sql): a day before the last one read (a
-- backfill), a score file delivered again (its earlier delivery stops counting), a score load refused
-- or accepted or a line released from quarantine since, a change of this model's or the staging
-- model's code.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='application_id',
    on_schema_change='fail',
    indexes=[{'columns': ['application_id', 'reviewer_id'], 'unique': True}],
    tags=['folds_staged_rows'],
    pre_hook=[
        "{{ start_over_unless_new_rows_follow('stg_evaluation__scores', 'evaluation', 'evaluation_scores',"
        " late_when='exists (select 1 from staged as earlier where earlier.source_file = late.source_file"
        " and earlier.raw_id <= state.raw_id)') }}"
    ],
) }}
with

{%- if is_incremental() %}
-- How far the table has read: the last round day and staged raw_id.
state as materialized (

    select
        coalesce(max(read_through_day), date '-infinity') as day,
        coalesce(max(read_through_raw_id), 0) as raw_id
    from {{ this }}

),

-- The applications to total again: those with lines staged since, and those with lines of a round
-- that became visible since the last round day read (by the staging model's raw_id and round_date
-- indexes). Their rows are replaced (unique_key); an application keeps rows once it has them, since
-- between two start-overs lines are only added and rounds only become visible.
changed as materialized (

    select application_id from {{ ref('stg_evaluation__scores') }}
    where raw_id > (select raw_id from state)
    union
    select application_id from {{ ref('stg_evaluation__scores') }}
    where round_date > (select day from state) and round_date <= {{ round_date() }}

),
{%- endif %}

-- Not materialized, and only the columns used: materialized, every score line was copied whole to
-- disk before being read twice (8.1 s -> 6.8 s for 1.9 million lines).
lines as not materialized (

    select
        raw_id, source_file, file_sha256, application_id, round_id, round_date, program_code,
        reviewer_id, criterion, score, has_conflict_of_interest, scored_at
    from {{ ref('stg_evaluation__scores') }}
    {%- if is_incremental() %}
    where application_id in (select changed.application_id from changed)
    {%- endif %}

),

-- A corrected re-delivery of a score file (same name, other content) replaces the earlier delivery:
-- only the lines of the latest delivery of each file name count. Every line of the files read is
-- looked at, not only the changed applications' (an application left out of the corrected file
-- must lose the earlier delivery's lines).
latest_deliveries as (

    select distinct on (source_file)
        source_file,
        file_sha256
    from {{ ref('stg_evaluation__scores') }}
    {%- if is_incremental() %}
    where source_file in (select lines.source_file from lines)
    {%- endif %}
    group by source_file, file_sha256
    order by source_file, min(raw_id) desc

),

-- Only the columns read below: this is written out once and sorted, and the file's name and hash are
-- the widest part of a line.
scores as (

    select
        lines.raw_id, lines.application_id, lines.round_id, lines.round_date, lines.program_code,
        lines.reviewer_id, lines.criterion, lines.score, lines.has_conflict_of_interest, lines.scored_at
    from lines
    inner join latest_deliveries
        on lines.source_file = latest_deliveries.source_file
        and lines.file_sha256 = latest_deliveries.file_sha256
    where lines.application_id is not null
        and lines.round_id is not null
        and lines.round_date is not null
        and lines.round_date <= {{ round_date() }}

),

-- The rounds of each application first (a hash aggregate: about one in twelve lines), so that only
-- they are sorted, not every line.
application_rounds as (

    select distinct application_id, round_id, round_date, program_code
    from scores

),

first_rounds as (

    select distinct on (application_id)
        application_id,
        round_id,
        round_date,
        program_code
    from application_rounds
    order by application_id, round_date, round_id, program_code

),

criterion_scores as (

    select distinct on (scores.application_id, scores.reviewer_id, scores.criterion)
        scores.application_id,
        scores.reviewer_id,
        scores.criterion,
        scores.score,
        scores.has_conflict_of_interest
    from scores
    inner join first_rounds
        on scores.application_id = first_rounds.application_id
        and scores.round_id = first_rounds.round_id
    where scores.reviewer_id is not null
        and scores.criterion in ('product', 'online_readiness', 'growth')
    order by
        scores.application_id,
        scores.reviewer_id,
        scores.criterion,
        scores.scored_at desc nulls last,
        scores.raw_id desc

),

reviewer_totals as (

    select
        application_id,
        reviewer_id,
        max(score) filter (where criterion = 'product') as product_score,
        max(score) filter (where criterion = 'online_readiness') as online_readiness_score,
        max(score) filter (where criterion = 'growth') as growth_score,
        sum(score) as rubric_total,
        count(score) = 3 as is_complete,
        bool_or(coalesce(has_conflict_of_interest, true)) as has_conflict_of_interest
    from criterion_scores
    group by application_id, reviewer_id

),

final as (

    select
        first_rounds.application_id,
        first_rounds.round_id,
        first_rounds.round_date,
        first_rounds.program_code as round_program_code,
        reviewer_totals.reviewer_id,
        reviewer_totals.product_score,
        reviewer_totals.online_readiness_score,
        reviewer_totals.growth_score,
        reviewer_totals.rubric_total,
        reviewer_totals.has_conflict_of_interest,
        reviewer_totals.is_complete,
        coalesce(not reviewer_totals.has_conflict_of_interest and reviewer_totals.is_complete, false)
            as is_counted,
        ---------- how far the row has read (start_over_unless_new_rows_follow)
        {{ round_date() }} as read_through_day,
        (select max(raw_id) from {{ ref('stg_evaluation__scores') }}) as read_through_raw_id,
        {{ staged_rows_context('stg_evaluation__scores', 'evaluation', 'evaluation_scores') }} as context_fingerprint
    from first_rounds
    left join reviewer_totals
        on first_rounds.application_id = reviewer_totals.application_id

)

select * from final
