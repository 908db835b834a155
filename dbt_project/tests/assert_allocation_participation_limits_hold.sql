-- No business ever holds two selections that a participation rule forbids while the rule is valid. A
-- selection is held from its round day until the round day of its withdrawal (if any); two held
-- selections of one business clash when their holding periods overlap on a day the rule is valid. The
-- business is fct_application.business_key (a salted hash of the BRN: same BRN, same key), so the
-- test reads marts only.
with

held as (

    select
        places.application_id,
        places.program_code,
        applications.business_key,
        places.held_from,
        coalesce(places.held_until, cast('infinity' as date)) as held_until
    from ({{ places_held(ref('fct_allocation_decision')) }}) as places
    inner join {{ ref('fct_application') }} as applications
        on places.application_id = applications.application_id
    where applications.business_key is not null

)

select
    one.application_id,
    one.program_code,
    other.application_id as other_application_id,
    other.program_code as other_program_code,
    greatest(one.held_from, other.held_from) as clash_from,
    rules.rule_id
from held as one
inner join held as other
    on one.business_key = other.business_key
    and one.application_id < other.application_id
    -- both held at the end of some round day
    and one.held_from < other.held_until
    and other.held_from < one.held_until
inner join {{ ref('participation_rules') }} as rules
    on (
        (rules.program_code_a = one.program_code and rules.program_code_b = other.program_code)
        or (rules.program_code_b = one.program_code and rules.program_code_a = other.program_code)
    )
    -- the rule is valid on a day of the overlap
    and rules.valid_from < least(one.held_until, other.held_until)
    and coalesce(rules.valid_to, cast('infinity' as date)) >= greatest(one.held_from, other.held_from)
