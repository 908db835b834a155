-- One row per application and eligibility rule in force on the round day: the checks of
-- int_applications_checked_for_eligibility unpivoted, with the reason texts of the seed reason_codes and
-- the verdict each reason leads to. The body of marts.fct_eligibility_check, which adds the round day.
--
-- Incremental by content, not by date: judgement_fingerprint is the md5 of everything a row is made of
-- (macro fingerprinted_eligibility_checks). A build rewrites only the applications whose fingerprint
-- changed, and deletes those no longer judged, so it equals a full build on any day, forward or back.
-- A check's result does not carry the round day itself (judged_at is the mart view's), so an unchanged
-- application keeps its rows: at 200,000 applications that is 4.2 million rows not rewritten a day.
{%- set rules = eligibility_rule_codes() %}
{#- vacuum outside the transaction: the day's deletes would otherwise leave dead rows and clear the
    visibility map under the next day's fingerprint probes and index-only scans.
    The contract's constraints (in the yml) check each row as it is written, where data tests on the
    mart read all 4.2 million rows every day; dbt adds them when it creates the table (docs/operations.md). -#}
{{ config(
    materialized='incremental',
    tags=['built_with_marts'],
    incremental_strategy='delete+insert',
    unique_key='application_id',
    on_schema_change='fail',
    contract={'enforced': True},
    indexes=[
        {'columns': ['application_id', 'rule_code'], 'unique': True},
        {'columns': ['application_id', 'judgement_fingerprint']},
    ],
    pre_hook=["{{ start_over_when_every_judgement_changed() }}"],
    post_hook=[
        "{{ delete_applications_not_in(ref('int_applications_checked_for_eligibility')) }}",
        {"sql": "vacuum analyze {{ this }}", "transaction": False},
    ],
) }}
with

rules as (

    select * from {{ ref('eligibility_rules') }}
    where {{ in_force_on(round_date()) }}

),

reason_codes as (

    select * from {{ ref('reason_codes') }}

),

-- Materialized: only the narrow pair is kept and hashed (inlined, the planner hashed the 48 columns the
-- md5 is made of and spilled them to disk: 27 s at 200,000 applications).
fingerprints as materialized (

    {{ fingerprinted_eligibility_checks() }}

),

changed as (

    select fingerprints.*
    from fingerprints
    {% if is_incremental() -%}
    left join (
        -- off the index on (application_id, judgement_fingerprint)
        select distinct application_id, judgement_fingerprint from {{ this }}
    ) as judged
        on fingerprints.application_id = judged.application_id
        and fingerprints.judgement_fingerprint = judged.judgement_fingerprint
    where judged.application_id is null
    {%- endif %}

),

-- The wide rows of the applications to judge, joined after the narrow comparison.
to_judge as materialized (

    select checked.*, changed.judgement_fingerprint
    from {{ ref('int_applications_checked_for_eligibility') }} as checked
    inner join changed
        on checked.application_id = changed.application_id

),

unpivoted as (

    {% for rule in rules -%}
    select
        application_id,
        '{{ rule }}' as rule_code,
        {{ rule }}_result as result,
        {{ rule }}_reason_code as reason_code,
        {{ rule }}_detail as detail,
        judgement_fingerprint
    from to_judge
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}

),

final as (

    select
        unpivoted.application_id,
        unpivoted.rule_code,
        cast(rules.rule_order as integer) as rule_order,
        unpivoted.result,
        unpivoted.reason_code,
        reason_codes.text_ko as reason,
        reason_codes.text_en as reason_en,
        unpivoted.detail,
        {{ eligibility_rule_version() }} as rule_version,
        rules.name_ko as rule_name_ko,
        -- a reason missing from the catalogue still blocks (tests/assert_reason_codes_in_catalogue.sql)
        case
            when unpivoted.result = 'pass' then null
            else coalesce(
                reason_codes.verdict,
                case unpivoted.result when 'fail' then 'ineligible' else 'needs_review' end
            )
        end as leads_to,
        unpivoted.judgement_fingerprint
    from unpivoted
    inner join rules
        on unpivoted.rule_code = rules.rule_code
    left join reason_codes
        on unpivoted.reason_code = reason_codes.reason_code

)

select * from final
-- in key order: the index entries are then appended, and an application's rows share a page
order by application_id, rule_code
