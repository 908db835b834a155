-- One row per application and eligibility rule in force on the round day (the seed eligibility_rules),
-- judged on the round day: the result (pass / fail / review), the reason code, the reason as staff read
-- it (Korean, from the seed reason_codes), the verdict the reason leads to and what was found.
-- A view: the checks are stored by int_eligibility_checks, which rewrites only the applications whose
-- inputs changed; the round day they are judged on is this build's.
{{ config(materialized='view') }}
select
    application_id,
    rule_code,
    rule_order,
    result,
    reason_code,
    reason,
    reason_en,
    detail,
    {{ round_date() }} as judged_at,
    rule_version,
    -- added after the foundation columns, which keep their order
    rule_name_ko,
    leads_to
from {{ ref('int_eligibility_checks') }}
