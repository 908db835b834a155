-- A score's bonus comes only from verified claims: its bonus_codes are exactly the verified claims of
-- the application, each row's points are earned once, the total bonus never exceeds the maximum and
-- total_score = committee_score + bonus_points.
with

claims as (

    select
        application_id,
        coalesce(
            array_agg(bonus_code order by bonus_code) filter (where is_verified),
            cast(array[] as text[])
        ) as verified_codes,
        bool_or(is_verified and bonus_row = 'A') as has_row_a,
        bool_or(is_verified and bonus_row = 'B') as has_row_b
    from {{ ref('fct_bonus_claim') }}
    group by application_id

)

select
    scores.application_id,
    scores.bonus_points,
    scores.bonus_codes,
    claims.verified_codes
from {{ ref('fct_score') }} as scores
left join claims
    on scores.application_id = claims.application_id
where scores.bonus_codes <> coalesce(claims.verified_codes, cast(array[] as text[]))
    or (scores.bonus_row_a_points > 0) <> coalesce(claims.has_row_a, false)
    or (scores.bonus_row_b_points > 0) <> coalesce(claims.has_row_b, false)
    or scores.bonus_points > scores.bonus_max_points
    or scores.bonus_points > scores.bonus_row_a_points + scores.bonus_row_b_points
    or scores.total_score is distinct from scores.committee_score + scores.bonus_points
