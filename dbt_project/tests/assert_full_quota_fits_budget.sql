-- Every sub-programme's whole quota fits its budget: quota × support_per_company_krw never exceeds
-- budget_million_krw × 1,000,000, so the allocation (which never commits more than the budget) can fill
-- every place. An `average` amount is budget ÷ quota rounded down to the won; the stated one (2-6) fits.
select
    program_code,
    quota,
    budget_million_krw,
    support_per_company_krw,
    support_basis
from {{ ref('program_catalogue') }}
where support_per_company_krw is not null
    and (
        cast(support_per_company_krw as bigint) * quota > cast(budget_million_krw as bigint) * 1000000
        or (
            support_basis = 'average'
            and support_per_company_krw <> floor(cast(budget_million_krw as bigint) * 1000000 / quota)
        )
    )
