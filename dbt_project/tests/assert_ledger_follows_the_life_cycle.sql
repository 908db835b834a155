-- Every application's events in the decision ledger follow the life cycle:
--   event 1: selected | waitlisted | not_selected
--   waitlisted -> selected (promotion) | withdrawn;  selected -> withdrawn;  nothing after
--   not_selected or withdrawn.
-- event_seq runs 1, 2, 3 without gaps, round days strictly increase with it, previous_decision names
-- the event before, programme and track never change, and only selections carry money.
with

events as (

    select
        ledger.*,
        lag(decision) over by_application as actual_previous,
        lag(round_date) over by_application as previous_round_date,
        lag(program_code) over by_application as previous_program_code,
        lag(track_code) over by_application as previous_track_code,
        row_number() over by_application as position
    from {{ ref('fct_allocation_decision') }} as ledger
    window by_application as (partition by application_id order by event_seq)

)

select application_id, event_seq, round_date, decision, previous_decision, actual_previous
from events
where event_seq <> position
    or previous_decision is distinct from actual_previous
    or (actual_previous is null and decision not in ('selected', 'waitlisted', 'not_selected'))
    or (actual_previous = 'waitlisted' and decision not in ('selected', 'withdrawn'))
    or (actual_previous = 'selected' and decision <> 'withdrawn')
    or actual_previous in ('not_selected', 'withdrawn')
    or round_date <= previous_round_date
    or program_code is distinct from coalesce(previous_program_code, program_code)
    or (actual_previous is not null and track_code is distinct from previous_track_code)
    or (decision <> 'selected' and (gov_support_krw is not null or self_pay_krw is not null))
