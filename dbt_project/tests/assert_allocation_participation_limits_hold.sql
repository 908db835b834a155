-- No business ever holds two selections that a participation rule valid on that round day forbids:
-- checked at the end of every round day of the ledger, over the selections held then. The business is
-- fct_application.business_key (a salted hash of the BRN: same BRN, same key), so the test reads marts
-- only.
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
        row_number() over (
            partition by days.as_of, ledger.application_id order by ledger.event_seq desc
        ) as recency
    from days
    inner join ledger
        on ledger.round_date <= days.as_of

),

held as (

    select standing.as_of, standing.application_id, standing.program_code, applications.business_key
    from standing
    inner join {{ ref('fct_application') }} as applications
        on standing.application_id = applications.application_id
    where standing.recency = 1
        and standing.decision = 'selected'
        and applications.business_key is not null

)

select
    one.as_of,

    one.application_id,
    one.program_code,
    other.application_id as other_application_id,
    other.program_code as other_program_code,
    rules.rule_id
from held as one
inner join held as other
    on one.as_of = other.as_of
    and one.business_key = other.business_key
    and one.application_id < other.application_id
inner join {{ ref('participation_rules') }} as rules
    on (
        (rules.program_code_a = one.program_code and rules.program_code_b = other.program_code)
        or (rules.program_code_b = one.program_code and rules.program_code_a = other.program_code)
    )
    and rules.valid_from <= one.as_of
    and (rules.valid_to is null or rules.valid_to >= one.as_of)
