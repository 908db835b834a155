-- The state support held by a sub-programme's selections never exceeds its budget (budget_million_krw
-- × 1,000,000), at the end of every round day of the ledger; a withdrawn selection no longer holds any.
-- Programmes without a budget (P-1) hold no money at all.
with

ledger as (

    select * from {{ ref('fct_allocation_decision') }}

),

days as (

    select distinct round_date as as_of from ledger

),

standing as (

    select
        days.as_of,
        ledger.application_id,
        ledger.program_code,
        ledger.decision,
        ledger.gov_support_krw,
        row_number() over (
            partition by days.as_of, ledger.application_id order by ledger.event_seq desc
        ) as recency
    from days
    inner join ledger
        on ledger.round_date <= days.as_of

),

committed as (

    select as_of, program_code, sum(gov_support_krw) as gov_support_krw
    from standing
    where recency = 1 and decision = 'selected'
    group by as_of, program_code

)

select
    committed.*,
    cast(catalogue.budget_million_krw as bigint) * 1000000 as budget_krw
from committed
inner join {{ ref('program_catalogue') }} as catalogue
    on committed.program_code = catalogue.program_code
where committed.gov_support_krw > cast(catalogue.budget_million_krw as bigint) * 1000000
    or (catalogue.budget_million_krw is null and committed.gov_support_krw is not null)
