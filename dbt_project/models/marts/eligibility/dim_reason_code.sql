-- The reason-code catalogue as BI reads it: one row per reason code of the eligibility rules (seed
-- reason_codes), with the rule it belongs to, its result, the verdict it leads to and the texts staff
-- and analysts read. Decodes fct_eligibility.reason_codes and fct_eligibility_check.reason_code.
with

reason_codes as (

    select * from {{ ref('reason_codes') }}

),

rules as (

    select * from {{ ref('eligibility_rules') }}

),

final as (

    select
        reason_codes.reason_code,
        reason_codes.rule_code,
        rules.name_ko as rule_name_ko,
        cast(rules.rule_order as integer) as rule_order,
        reason_codes.result,
        reason_codes.verdict,
        reason_codes.text_ko,
        reason_codes.text_en,
        reason_codes.legal_reference
    from reason_codes
    left join rules
        on reason_codes.rule_code = rules.rule_code

)

select * from final
