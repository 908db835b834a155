-- One row per application scored by the selection committee in a round on or before the round day.
--   committee_score  mean over the reviewers who count (no conflict of interest, complete rubric) of each
--                    reviewer's rubric total (0-100), with reviewer_count;
--   bonus_points     Row A's points once if any verified claim of items ① or ② (bonus_rows), Row B's
--                    once if any verified claim of ③, capped at rule_parameters.bonus_max_points (the
--                    values the notice lost are assumed, marked is_assumed); only claims whose evidence
--                    was valid on the application date count (int_bonus_claims_verified);
--   total_score      committee_score + bonus_points (null when no reviewer counts).
-- Row points and the cap are those in force on the application date. First-come sub-programmes are
-- not scored (they rank by arrival) and have no row.
with

committee_scores as (

    select * from {{ ref('int_committee_scores_aggregated') }}

),

applications as (

    select
        application_id,
        cast(submitted_at at time zone 'Asia/Seoul' as date) as applied_on
    from {{ ref('int_applications_current') }}

),

claims as (

    select * from {{ ref('int_bonus_claims_verified') }}

),

bonus_rows as (

    select * from {{ ref('bonus_rows') }}

),

bonus_cap as (

    select * from {{ ref('rule_parameters') }}
    where parameter_code = 'bonus_max_points'

),

per_application as (

    select
        application_id,
        bool_or(is_verified and bonus_row = 'A') as has_row_a,
        bool_or(is_verified and bonus_row = 'B') as has_row_b,
        coalesce(
            array_agg(bonus_code order by bonus_code) filter (where is_verified),
            cast(array[] as text[])
        ) as bonus_codes,
        array_agg(bonus_code order by bonus_code) as bonus_claimed_codes
    from claims
    group by application_id

),

bonus as (

    select
        applications.application_id,
        case when per_application.has_row_a then coalesce(row_a.points, 0) else 0 end as row_a_points,
        case when per_application.has_row_b then coalesce(row_b.points, 0) else 0 end as row_b_points,
        bonus_cap.value as max_points,
        coalesce(per_application.bonus_codes, cast(array[] as text[])) as bonus_codes,
        coalesce(per_application.bonus_claimed_codes, cast(array[] as text[])) as bonus_claimed_codes
    from applications
    left join per_application
        on applications.application_id = per_application.application_id
    left join bonus_rows as row_a
        on row_a.bonus_row = 'A'
        and {{ in_force_on('applications.applied_on', 'row_a') }}
    left join bonus_rows as row_b
        on row_b.bonus_row = 'B'
        and {{ in_force_on('applications.applied_on', 'row_b') }}
    left join bonus_cap
        on {{ in_force_on('applications.applied_on', 'bonus_cap') }}

),

final as (

    select
        committee_scores.application_id,
        committee_scores.round_id,
        committee_scores.round_date,
        committee_scores.committee_score,
        committee_scores.reviewer_count,
        cast(
            case
                when bonus.max_points is null then bonus.row_a_points + bonus.row_b_points
                else least(bonus.row_a_points + bonus.row_b_points, bonus.max_points)
            end as numeric
        ) as bonus_points,
        bonus.bonus_codes,
        committee_scores.committee_score + cast(
            case
                when bonus.max_points is null then bonus.row_a_points + bonus.row_b_points
                else least(bonus.row_a_points + bonus.row_b_points, bonus.max_points)
            end as numeric
        ) as total_score,
        cast(bonus.row_a_points as numeric) as bonus_row_a_points,
        cast(bonus.row_b_points as numeric) as bonus_row_b_points,
        cast(bonus.max_points as numeric) as bonus_max_points,
        bonus.bonus_claimed_codes,
        committee_scores.conflicted_reviewer_count,
        committee_scores.incomplete_reviewer_count
    from committee_scores
    inner join bonus
        on committee_scores.application_id = bonus.application_id

)

select * from final
