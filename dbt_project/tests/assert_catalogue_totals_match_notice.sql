-- The catalogue reproduces the totals printed in the 2024 notice: budget 101,930 백만원 and
-- quota 71,335 companies/people (reference/program-2024.md), over all 19 sub-programmes.
with

totals as (

    select
        count(*) as n_programmes,
        sum(budget_million_krw) as budget_million_krw,
        sum(quota) as quota
    from {{ ref('program_catalogue') }}

)

select *
from totals
where n_programmes <> 19
    or budget_million_krw is distinct from 101930
    or quota is distinct from 71335
