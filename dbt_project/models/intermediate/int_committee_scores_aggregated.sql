-- One row per application scored by the selection committee in a round on or before the round day.
-- The score is that of the first round that scored the application; within it, each reviewer's rubric
-- total (product 40 + online_readiness 30 + growth 30) is averaged over the reviewers who count:
-- no conflict of interest (an unreadable conflict flag counts as a conflict) and all three criteria
-- scored. A criterion scored twice by one reviewer in the round keeps the latest line (scored_at,
-- then raw_id). Only the latest delivery of each score file counts (a re-delivery is a correction).
with

lines as (

    select * from {{ ref('stg_evaluation__scores') }}

),

-- A corrected re-delivery of a score file (same name, other content) replaces the earlier delivery:
-- only the lines of the latest delivery of each file name count.
latest_deliveries as (

    select distinct on (source_file)
        source_file,
        file_sha256
    from lines
    group by source_file, file_sha256
    order by source_file, min(raw_id) desc

),

scores as (

    select lines.*
    from lines
    inner join latest_deliveries
        on lines.source_file = latest_deliveries.source_file
        and lines.file_sha256 = latest_deliveries.file_sha256
    where lines.application_id is not null
        and lines.round_id is not null
        and lines.round_date is not null
        and lines.round_date <= {{ round_date() }}

),

first_rounds as (

    select distinct on (application_id)
        application_id,
        round_id,
        round_date,
        program_code
    from scores
    order by application_id, round_date, round_id

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
        cast(count(reviewer_totals.reviewer_id) filter (
            where not reviewer_totals.has_conflict_of_interest and reviewer_totals.is_complete
        ) as integer) as reviewer_count,
        cast(count(reviewer_totals.reviewer_id) filter (
            where reviewer_totals.has_conflict_of_interest
        ) as integer) as conflicted_reviewer_count,
        cast(count(reviewer_totals.reviewer_id) filter (
            where not reviewer_totals.has_conflict_of_interest and not reviewer_totals.is_complete
        ) as integer) as incomplete_reviewer_count,
        round(avg(reviewer_totals.rubric_total) filter (
            where not reviewer_totals.has_conflict_of_interest and reviewer_totals.is_complete
        ), 2) as committee_score
    from first_rounds
    left join reviewer_totals
        on first_rounds.application_id = reviewer_totals.application_id
    group by
        first_rounds.application_id,
        first_rounds.round_id,
        first_rounds.round_date,
        first_rounds.program_code

)

select * from final
