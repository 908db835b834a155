-- One row per application: the eligibility verdict on the round day (the cut-off), from its checks
-- (fct_eligibility_check). The strongest reason wins: ineligible, then incomplete, then needs_review;
-- eligible when every check passed (int_eligibility_verdicts, which stores the verdicts and rewrites
-- only the applications whose checks changed). A view: the round day they are judged on is this build's.
{{ config(materialized='view') }}
select
    application_id,
    verdict,
    reason_codes,
    {{ round_date() }} as judged_at,
    rule_version,
    primary_reason_code,
    primary_reason
from {{ ref('int_eligibility_verdicts') }}
