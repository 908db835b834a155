-- The state support held by a sub-programme's selections never exceeds its budget (budget_million_krw
-- × 1,000,000) at the end of any round day: a selection holds its gov_support_krw from its round day
-- until the round day of its withdrawal (if any). Programmes without a budget (P-1) hold no money.
with

held as (

    {{ places_held(ref('fct_allocation_decision')) }}

),

deltas as (

    select program_code, held_from as as_of, gov_support_krw as change from held
    union all
    select program_code, held_until, -gov_support_krw from held where held_until is not null

),

committed as (

    select
        program_code,
        as_of,
        sum(sum(change)) over (partition by program_code order by as_of) as gov_support_krw
    from deltas
    group by program_code, as_of

)

select
    committed.*,
    cast(catalogue.budget_million_krw as bigint) * 1000000 as budget_krw
from committed
inner join {{ ref('program_catalogue') }} as catalogue
    on committed.program_code = catalogue.program_code
where committed.gov_support_krw > cast(catalogue.budget_million_krw as bigint) * 1000000
    or (catalogue.budget_million_krw is null and committed.gov_support_krw is not null)
