-- One row per application scored by the selection committee in a round on or before the round day.
-- The score is that of the first round that scored the application; within it, each reviewer's rubric
-- total (product 40 + online_readiness 30 + growth 30) is averaged over the reviewers who count:
-- no conflict of interest (an unreadable conflict flag counts as a conflict) and all three criteria
-- scored (int_committee_reviews_totalled). Only the latest delivery of each score file counts.
with

reviews as (

    select * from {{ ref('int_committee_reviews_totalled') }}

),

final as (

    select
        application_id,
        round_id,
        round_date,
        round_program_code,
        cast(count(reviewer_id) filter (where is_counted) as integer) as reviewer_count,
        cast(count(reviewer_id) filter (where has_conflict_of_interest) as integer) as conflicted_reviewer_count,
        cast(count(reviewer_id) filter (
            where not has_conflict_of_interest and not is_complete
        ) as integer) as incomplete_reviewer_count,
        round(avg(rubric_total) filter (where is_counted), 2) as committee_score
    from reviews
    group by application_id, round_id, round_date, round_program_code

)

select * from final
