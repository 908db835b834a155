-- One row per business number: its latest tax-arrears and financial-default check (reference
-- credit_checks) dated on or before the cut-off (the round day). A later check replaces an earlier one
-- (arrears paid since); a check dated after the cut-off is not looked at.
with

checks as (

    select * from {{ ref('stg_reference__credit_checks') }}
    where brn is not null
        and checked_on <= {{ round_date() }}

),

final as (

    select distinct on (brn)
        brn,
        checked_on,
        has_national_tax_arrears,
        has_local_tax_arrears,
        has_financial_default,
        {{ round_date() }} as judged_at
    from checks
    order by brn, checked_on desc, raw_id desc

)

select * from final
