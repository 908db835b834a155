-- One row per business number: its 국세청 status as of the cut-off (the round day). The API answers the
-- status *now*, so the warehouse keeps each day's answer: the latest answer asked on or before the
-- cut-off is the status on the cut-off (answers asked later are not looked at, so a rerun of a day
-- judges what that day knew). The rule compares closed_on with the cut-off: a closure dated after it
-- (a closure filed ahead) still leaves the business open on the cut-off.
--
-- answer_since is the first day of the latest run of the same answer (registration, status, closing
-- day). The check's detail names it rather than answered_on: the number of every undecided application
-- is asked again each day, and a detail naming the day of the answer would change every day an answer
-- did not, so every such application would be judged and its checks rewritten again (61,567 of 264,648
-- applications a day at 200,000).
with

answers as (

    select * from {{ ref('stg_nts__status_answers') }}
    where brn is not null
        and asked_on <= {{ round_date() }}

),

-- One sort: each answer in order, the day it starts a new answer, and whether it is the latest.
changes as (

    select
        *,
        case
            when lag(row(is_registered, status, closed_on)) over by_day
                is not distinct from row(is_registered, status, closed_on)
                then null
            else asked_on
        end as changed_on,
        lead(raw_id) over by_day is null as is_latest
    from answers
    window by_day as (partition by brn order by asked_on, raw_id)

),

runs as (

    select
        *,
        max(changed_on) over (partition by brn order by asked_on, raw_id) as answer_since
    from changes

),

final as (

    select
        brn,
        asked_on as answered_on,
        answer_since,
        status_code,
        status,
        is_registered,
        closed_on,
        end_dt_text,
        {{ round_date() }} as judged_at
    from runs
    where is_latest

)

select * from final
