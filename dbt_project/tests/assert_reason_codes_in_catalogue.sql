-- Every reason code the eligibility models write is in the catalogue (seed reason_codes), under the same
-- rule and result, and the verdict it leads to is the catalogue's; every code of a verdict's list too.
with

catalogue as (

    select * from {{ ref('reason_codes') }}

),

checks as (

    select application_id, rule_code, result, reason_code, leads_to
    from {{ ref('fct_eligibility_check') }}
    where reason_code is not null or result <> 'pass'

),

verdict_codes as (

    select application_id, unnest(reason_codes) as reason_code
    from {{ ref('fct_eligibility') }}

)

select
    checks.application_id,
    checks.rule_code,
    checks.reason_code,
    'check reason not in the catalogue under its rule and result' as problem
from checks
left join catalogue
    on checks.reason_code = catalogue.reason_code
    and checks.rule_code = catalogue.rule_code
    and checks.result = catalogue.result
    and checks.leads_to = catalogue.verdict
where catalogue.reason_code is null

union all

select
    verdict_codes.application_id,
    null,
    verdict_codes.reason_code,
    'verdict reason not in the catalogue'
from verdict_codes
left join catalogue
    on verdict_codes.reason_code = catalogue.reason_code
where catalogue.reason_code is null
