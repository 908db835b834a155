-- One row per application and eligibility rule in force on the round day (the seed eligibility_rules),
-- judged on the round day: the result (pass / fail / review), the reason code, the reason as staff read
-- it (Korean, from the seed reason_codes), the verdict the reason leads to and what was found.
{%- set rules = [
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
] %}
with

checked as (

    select * from {{ ref('int_applications_checked_for_eligibility') }}

),

rules as (

    select * from {{ ref('eligibility_rules') }}
    where {{ in_force_on(round_date()) }}

),

reason_codes as (

    select * from {{ ref('reason_codes') }}

),

unpivoted as (

    {% for rule in rules -%}
    select
        application_id,
        '{{ rule }}' as rule_code,
        {{ rule }}_result as result,
        {{ rule }}_reason_code as reason_code,
        {{ rule }}_detail as detail,
        judged_at
    from checked
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
        unpivoted.judged_at,
        {{ eligibility_rule_version() }} as rule_version,
        -- added after the foundation columns, which keep their order
        rules.name_ko as rule_name_ko,
        -- a reason missing from the catalogue still blocks (tests/assert_reason_codes_in_catalogue.sql)
        case
            when unpivoted.result = 'pass' then null
            else coalesce(
                reason_codes.verdict,
                case unpivoted.result when 'fail' then 'ineligible' else 'needs_review' end
            )
        end as leads_to
    from unpivoted
    inner join rules
        on unpivoted.rule_code = rules.rule_code
    left join reason_codes
        on unpivoted.reason_code = reason_codes.reason_code

)

select * from final
