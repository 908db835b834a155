-- One row per application: the eligibility verdict on the round day.
--   any rule failed -> ineligible; else any rule to review -> needs_review; else eligible.
--   `incomplete` (documents missing: a supplement request, not a rejection) is part of the contract
--   but no rule gives it yet.
with

checks as (

    select * from {{ ref('fct_eligibility_check') }}

),

final as (

    select
        application_id,
        case
            when bool_or(result = 'fail') then 'ineligible'
            when bool_or(result = 'review') then 'needs_review'
            else 'eligible'
        end as verdict,
        coalesce(
            array_agg(distinct reason_code order by reason_code) filter (where reason_code is not null),
            cast(array[] as text[])
        ) as reason_codes,
        min(judged_at) as judged_at,
        min(rule_version) as rule_version
    from checks
    group by application_id

)

select * from final
