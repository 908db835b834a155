-- One row per application scored by the selection committee in a round on or before the round day.
-- total_score = committee_score + bonus_points. Bonus points are 0 for now: the evidence-backed bonus
-- (rows A and B of the notice, capped) comes with the evidence joins; bonus_codes is empty until then.
with

committee_scores as (

    select * from {{ ref('int_committee_scores_aggregated') }}

),

applications as (

    select application_id from {{ ref('int_applications_current') }}

),

final as (

    select
        committee_scores.application_id,
        committee_scores.round_id,
        committee_scores.round_date,
        committee_scores.committee_score,
        committee_scores.reviewer_count,
        cast(0 as numeric) as bonus_points,
        cast(array[] as text[]) as bonus_codes,
        committee_scores.committee_score + 0 as total_score
    from committee_scores
    inner join applications
        on committee_scores.application_id = applications.application_id

)

select * from final
