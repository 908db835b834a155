-- One row per application: the eligibility verdict from its checks (int_eligibility_checks). The body
-- of marts.fct_eligibility, which adds the round day. Each reason leads to a verdict
-- (reason_codes.verdict, leads_to); the strongest wins:
--   any reason leading to ineligible (a rule failed)                      -> ineligible
--   else any leading to incomplete (documents missing: a supplement request,
--     not a rejection, decided before the manual review it may need)      -> incomplete
--   else any leading to needs_review                                        -> needs_review
--   else                                                                    -> eligible
-- reason_codes lists every reason found (sorted); primary_reason_code is the first, in rule order, of
-- those that gave the verdict.
--
-- Incremental by content like its checks: an application is judged again when the fingerprint of its
-- checks (which covers this model's code) is not the one its verdict was made from; one no longer
-- checked is deleted. So a build equals a full one whatever was built before.
{#- vacuum outside the transaction: the day's deletes would otherwise leave dead rows and clear the
    visibility map under the next day's fingerprint probes and index-only scans -#}
{{ config(
    materialized='incremental',
    tags=['built_with_marts'],
    incremental_strategy='delete+insert',
    unique_key='application_id',
    on_schema_change='fail',
    indexes=[{'columns': ['application_id'], 'unique': True}],
    post_hook=[
        "{{ delete_applications_not_in(ref('int_eligibility_checks')) }}",
        {"sql": "vacuum analyze {{ this }}", "transaction": False},
    ],
) }}
with

-- The fingerprint of each application's checks (which covers this model's code too), read off the
-- index on (application_id, judgement_fingerprint) rather than the 16 rows of every application.
fingerprints as (

    select distinct application_id, judgement_fingerprint
    from {{ ref('int_eligibility_checks') }}

),

to_judge as (

    select * from fingerprints
    {% if is_incremental() -%}
    where not exists (
        select 1
        from {{ this }} as judged
        where judged.application_id = fingerprints.application_id
            and judged.judgement_fingerprint = fingerprints.judgement_fingerprint
    )
    {%- endif %}

),

-- Materialized, and only the columns used: the checks of the applications to judge (a day's few, read
-- by index), used twice below.
judged_checks as materialized (

    select
        checks.application_id, checks.rule_order, checks.reason_code, checks.reason, checks.leads_to,
        checks.rule_version, to_judge.judgement_fingerprint
    from to_judge
    {% if is_incremental() -%}
    -- a day's few applications: their rows by index (the planner cannot know how few there are and
    -- sorted all 4.2 million rows for a merge join)
    cross join lateral (
        select * from {{ ref('int_eligibility_checks') }} as checks
        where checks.application_id = to_judge.application_id
        offset 0  -- kept a subquery: pulled up into a join, it becomes the merge join again
    ) as checks
    {%- else -%}
    inner join {{ ref('int_eligibility_checks') }} as checks
        on to_judge.application_id = checks.application_id
    {%- endif %}

),

verdicts as (

    select
        application_id,
        case
            when bool_or(leads_to = 'ineligible') then 'ineligible'
            when bool_or(leads_to = 'incomplete') then 'incomplete'
            when bool_or(leads_to = 'needs_review') then 'needs_review'
            else 'eligible'
        end as verdict,
        coalesce(
            array_agg(distinct reason_code order by reason_code) filter (where reason_code is not null),
            cast(array[] as text[])
        ) as reason_codes,
        min(rule_version) as rule_version,
        min(judgement_fingerprint) as judgement_fingerprint
    from judged_checks
    group by application_id

),

primary_reasons as (

    select distinct on (judged_checks.application_id)
        judged_checks.application_id,
        judged_checks.reason_code,
        judged_checks.reason
    from judged_checks
    inner join verdicts
        on judged_checks.application_id = verdicts.application_id
        and judged_checks.leads_to = verdicts.verdict
    order by judged_checks.application_id, judged_checks.rule_order

),

final as (

    select
        verdicts.application_id,
        verdicts.verdict,
        verdicts.reason_codes,
        verdicts.rule_version,
        primary_reasons.reason_code as primary_reason_code,
        primary_reasons.reason as primary_reason,
        verdicts.judgement_fingerprint
    from verdicts
    left join primary_reasons
        on verdicts.application_id = primary_reasons.application_id

)

select * from final
order by application_id
