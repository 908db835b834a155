-- The decision ledger read as "where does each application stand now": one row per decided
-- application with its latest event, its first decision, and its place on the waiting list.
with

ledger as (

    select * from {{ ref('fct_allocation_decision') }}

),

numbered as (

    select
        ledger.*,
        row_number() over (partition by application_id order by event_seq desc) as recency,
        count(*) over (partition by application_id) as n_events,
        min(round_date) over (partition by application_id) as first_decided_on,
        coalesce(bool_or(decision = 'selected' and previous_decision = 'waitlisted')
            over (partition by application_id), false) as was_promoted
    from ledger

),

firsts as (

    select application_id, decision as first_decision
    from ledger
    where event_seq = 1

),

latest as (

    select numbered.*
    from numbered
    where recency = 1

),

final as (

    select
        ---------- ids
        latest.application_id,
        latest.program_code,
        latest.track_code,

        ---------- where it stands
        latest.decision as current_decision,
        latest.reason_code as current_reason_code,
        latest.round_date as decided_on,
        latest.rank,
        case when latest.decision = 'waitlisted' then
            cast(row_number() over (
                partition by latest.program_code, latest.decision = 'waitlisted'
                order by latest.round_date, latest.rank, latest.application_id
            ) as integer)
        end as waitlist_position,
        latest.total_score,

        ---------- how it got there
        firsts.first_decision,
        latest.first_decided_on,
        latest.was_promoted,
        cast(latest.n_events as integer) as event_count,

        ---------- money held (selections only)
        case when latest.decision = 'selected' then latest.gov_support_krw end as gov_support_krw,
        case when latest.decision = 'selected' then latest.self_pay_krw end as self_pay_krw,

        ---------- provenance
        latest.decided_in_run as last_decided_in_run

    from latest
    inner join firsts
        on latest.application_id = firsts.application_id

)

select * from final
