-- The verdict follows the checks: ineligible exactly when a check failed; eligible exactly when every
-- check passed; incomplete only with documents missing and nothing failed; the reason list holds
-- exactly the reasons of the checks that did not pass.
with

checks as (

    select
        application_id,
        bool_or(result = 'fail') as has_fail,
        bool_and(result = 'pass') as all_pass,
        bool_or(leads_to = 'incomplete') as has_incomplete,
        coalesce(
            array_agg(distinct reason_code order by reason_code) filter (where reason_code is not null),
            cast(array[] as text[])
        ) as reason_codes
    from {{ ref('fct_eligibility_check') }}
    group by application_id

)

select
    eligibility.application_id,
    eligibility.verdict,
    eligibility.reason_codes,
    checks.reason_codes as check_reason_codes
from {{ ref('fct_eligibility') }} as eligibility
inner join checks
    on eligibility.application_id = checks.application_id
where (eligibility.verdict = 'ineligible') <> checks.has_fail
    or (eligibility.verdict = 'eligible') <> checks.all_pass
    or (eligibility.verdict = 'incomplete' and (checks.has_fail or not checks.has_incomplete))
    or eligibility.reason_codes <> checks.reason_codes
