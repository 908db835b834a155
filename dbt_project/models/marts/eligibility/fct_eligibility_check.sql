-- One row per application and eligibility rule, judged on the round day: the result (pass / fail /
-- review), the reason code and the reason as staff read it (Korean), and what was found.
{%- set rules = [
    'brn_valid',
    'industry_not_excluded',
    'consent_given',
    'submitted_at_valid',
    'not_withdrawn',
    'program_known',
] %}
with

checked as (

    select * from {{ ref('int_applications_checked_for_eligibility') }}

),

reason_codes as (

    select * from {{ ref('reason_codes') }}

),

unpivoted as (

    {% for rule in rules -%}
    select
        application_id,
        '{{ rule }}' as rule_code,
        {{ loop.index }} as rule_order,
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
        cast(unpivoted.rule_order as integer) as rule_order,
        unpivoted.result,
        unpivoted.reason_code,
        reason_codes.text_ko as reason,
        reason_codes.text_en as reason_en,
        unpivoted.detail,
        unpivoted.judged_at,
        {{ eligibility_rule_version() }} as rule_version
    from unpivoted
    left join reason_codes
        on unpivoted.reason_code = reason_codes.reason_code

)

select * from final
