{#- The eligibility rules, in the order of int_applications_checked_for_eligibility's columns. -#}
{% macro eligibility_rule_codes() -%}
    {{ return([
        'brn_valid',
        'industry_not_excluded',
        'consent_given',
        'submitted_at_valid',
        'not_withdrawn',
        'program_known',
        'small_business_employees',
        'small_business_revenue',
        'business_active',
        'no_tax_arrears',
        'no_financial_default',
        'no_fair_trade_violation',
        'product_not_imported',
        'product_not_large_company',
        'program_condition',
        'documents_complete',
    ]) }}
{%- endmacro %}

{#- The application_id of every row of int_applications_checked_for_eligibility with its
    judgement_fingerprint, the md5 of all its checks are made of: its 48 rule columns, the rules in force on the round day, the reason catalogue,
    the rule version, and the code of int_eligibility_checks and int_eligibility_verdicts (the model
    calling this must be int_eligibility_checks). -#}
{% macro fingerprinted_eligibility_checks() -%}
    {%- set verdicts = graph.get("nodes", {}).get("model.panro.int_eligibility_verdicts", {}) -%}
    {%- set code = model.raw_code ~ verdicts.get("raw_code", "") -%}
    select
        checked.application_id,
        md5(
            cast(row(
                {%- for rule in eligibility_rule_codes() %}
                checked.{{ rule }}_result, checked.{{ rule }}_reason_code, checked.{{ rule }}_detail
                {%- if not loop.last %},{% endif %}
                {%- endfor %}
            ) as text) || context.text
        ) as judgement_fingerprint
    from {{ ref('int_applications_checked_for_eligibility') }} as checked
    cross join (
        -- hashed once (offset 0 keeps the subquery from being pulled up into a per-row expression:
        -- 15 kB hashed again for every application took 5 s at 200,000 applications)
        select md5(
            coalesce((
                select string_agg(cast(row(r.*) as text), ';' order by r.rule_code)
                from {{ ref('eligibility_rules') }} as r
                where {{ in_force_on(round_date(), 'r') }}
            ), '')
            || coalesce((
                select string_agg(cast(row(c.*) as text), ';' order by c.reason_code)
                from {{ ref('reason_codes') }} as c
            ), '')
            || {{ eligibility_rule_version() }}
            || '{{ local_md5(code) }}'
        ) as text
        offset 0
    ) as context
{%- endmacro %}

{#- Pre-hook of int_eligibility_checks: when not one of the first 200 applications keeps its fingerprint
    (the rules, the catalogue or the code changed, so every application is judged again), empty the
    table first. Deleting and inserting all 4.2 million rows through two indexes took 144 s at 200,000
    applications; inserting into an empty table is a fraction of that. Only speed depends on it: a
    build judges again whatever does not match, emptied or not. -#}
{% macro start_over_when_every_judgement_changed() -%}
    {%- set kept = 1 -%}
    {%- if execute and is_incremental() -%}
        {%- set sample -%}
            select count(*) from (select * from ({{ fingerprinted_eligibility_checks() }}) as f limit 200) as f
            inner join {{ this }} as judged
                on judged.application_id = f.application_id
                and judged.judgement_fingerprint = f.judgement_fingerprint
        {%- endset -%}
        {%- set kept = run_query(sample).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if kept == 0 -%} truncate {{ this }} {%- else -%} select 1 {%- endif -%}
{%- endmacro %}

{#- Post-hook of a model judged incrementally by content (int_eligibility_checks, int_eligibility_verdicts):
    delete the applications its input no longer holds (a refused load took their only version away, a
    backfill to a day before they applied). A delete+insert build replaces the applications it judges
    again; nothing else would remove these. The applications held are read off the index. -#}
{% macro delete_applications_not_in(input) -%}
    delete from {{ this }}
    where application_id in (
        select held.application_id
        from (select distinct application_id from {{ this }}) as held
        where not exists (
            select 1 from {{ input }} as current_input where current_input.application_id = held.application_id
        )
    )
{%- endmacro %}
