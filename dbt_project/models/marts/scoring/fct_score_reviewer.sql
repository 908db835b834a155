-- One row per scored application and reviewer of its first committee round: the reviewer's rubric and
-- total, and whether the reviewer counts in the committee score (no conflict of interest, complete
-- rubric). reviewer_id is the committee's pseudonymous member code, not personal data.
with

reviews as (

    select * from {{ ref('int_committee_reviews_totalled') }}
    where reviewer_id is not null

),

applications as (

    select application_id from {{ ref('int_applications_current') }}

),

final as (

    select
        reviews.application_id,
        reviews.round_id,
        reviews.round_date,
        reviews.reviewer_id,
        reviews.product_score,
        reviews.online_readiness_score,
        reviews.growth_score,
        reviews.rubric_total,
        reviews.has_conflict_of_interest,
        reviews.is_complete,
        reviews.is_counted
    from reviews
    inner join applications
        on reviews.application_id = applications.application_id

)

select * from final
