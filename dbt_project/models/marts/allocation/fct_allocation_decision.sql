{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='fail',
        post_hook=['analyze {{ this }}'],
    )
}}
-- THE DECISION LEDGER: one row per decision event, appended by the round (var round_date) that made
-- it and never rewritten (append only, full_refresh disabled). Grain: (application_id, round_date);
-- an application has at most one event a round day and at most one event of each decision.
-- Life cycle: a candidate is first decided selected, waitlisted or not_selected; a waitlisted one may
-- later be selected (promotion); a selected or waitlisted one that withdraws gets a `withdrawn` event.
--
-- A run for round day D, unless the ledger already holds a later round (then it adds nothing):
--  1. withdrawals: selected or waitlisted applications whose current version (as of D) is withdrawn;
--     their places are free from this round on.
--  2. the pool, per sub-programme: first the waiting list (waitlisted before D, in the order of the
--     round that waitlisted them, then their rank there), then the new candidates of D ranked:
--       committee:  total_score desc, committee_score desc, bonus_points desc, submitted_at, seeded hash
--       first_come: submitted_at, seeded hash
--     New candidates: current version not withdrawn, verdict eligible, submitted before D + 1 day
--     (KST), an application programme of the catalogue, never decided; committee ones also scored.
--  3. in pool order, those that may be selected (eligible now, at or above var min_score for
--     committee programmes, not held back by a participation rule) fill the track quota left, then the
--     sub-programme quota left and the budget left ("left" = after the selections still held).
--     New candidates that fit are selected, the others waitlisted (or not_selected under the minimum);
--     waiting ones that fit are selected (promoted), the others stay waitlisted with no new event.
-- Participation rules (seed participation_rules, valid on D): a candidate whose business (BRN) holds a
-- selection a rule forbids waits (PARTICIPATION_LIMIT); among one business's live applications that a
-- rule puts in conflict only the earliest submitted may be selected (PARTICIPATION_PRIORITY). Both
-- depend only on what is already in the ledger or waiting, so a rerun of D with the same inputs finds
-- nothing more to do.
-- Analyzed after each append: its statistics otherwise end before the round just appended, and the
-- planner, guessing one row for the day's events, joined them with the waiting list by nested loop
-- (the extract took 6.6 s at 200,000 applications instead of 0.2 s).
-- The inputs read several times are `not materialized`: as materialized CTEs they carry no statistics,
-- the planner guessed trillions of rows for the pool and sized a hash join for them (a million batches
-- for 28,000 rows: 35 s at 200,000 applications instead of 3 s).
with

applications as not materialized (

    select
        application_id,
        program_code,
        track_code,
        submitted_at,
        coalesce(is_withdrawn, false) as is_withdrawn,
        brn
    from {{ ref('int_applications_current') }}

),

eligibility as not materialized (

    select application_id, verdict from {{ ref('fct_eligibility') }}

),

scores as not materialized (

    select application_id, committee_score, bonus_points, total_score from {{ ref('fct_score') }}

),

catalogue as not materialized (

    select * from {{ ref('program_catalogue') }}

),

tracks as not materialized (

    select * from {{ ref('program_tracks') }}

),

-- The participation rules valid on the round day, in both directions.
rules as (

    select program_code_a as program_code, program_code_b as other_program_code
    from {{ ref('participation_rules') }}
    where valid_from <= {{ round_date() }}
        and (valid_to is null or valid_to >= {{ round_date() }})
    union
    select program_code_b, program_code_a
    from {{ ref('participation_rules') }}
    where valid_from <= {{ round_date() }}
        and (valid_to is null or valid_to >= {{ round_date() }})

),

ledger as not materialized (

    {% if is_incremental() -%}
    select
        application_id, program_code, track_code, round_date, decision, rank, event_seq, gov_support_krw
    from {{ this }}
    {%- else -%}
    select
        cast(null as text) as application_id,
        cast(null as text) as program_code,
        cast(null as text) as track_code,
        cast(null as date) as round_date,
        cast(null as text) as decision,
        cast(null as integer) as rank,
        cast(null as integer) as event_seq,
        cast(null as bigint) as gov_support_krw
    where false
    {%- endif %}

),

-- The ledger moves forward in time: a day before its latest round decides nothing.
open_round as (

    select not exists (
        select 1 from ledger where ledger.round_date > {{ round_date() }}
    ) as is_open

),

latest as (

    select *
    from (
        select
            ledger.*,
            row_number() over (partition by application_id order by event_seq desc) as recency
        from ledger
    ) as numbered
    where recency = 1

),

---------- 1. withdrawals

withdrawals as (

    select latest.*
    from latest
    inner join applications
        on latest.application_id = applications.application_id
    cross join open_round
    where open_round.is_open
        and latest.decision in ('selected', 'waitlisted')
        and latest.round_date < {{ round_date() }}
        and applications.is_withdrawn

),

-- Selections still held once this round's withdrawals are taken out.
held as (

    select latest.*
    from latest
    where latest.decision = 'selected'
        and not exists (
            select 1 from withdrawals where withdrawals.application_id = latest.application_id
        )

),

held_per_program as (

    select program_code, count(*) as n_held, sum(coalesce(gov_support_krw, 0)) as committed_krw
    from held
    group by program_code

),

held_per_track as (

    select program_code, track_code, count(*) as n_held
    from held
    where track_code is not null
    group by program_code, track_code

),

---------- 2. the pool

waiting as (

    select
        latest.application_id,
        latest.program_code,
        latest.track_code,
        false as is_new,
        latest.round_date as waitlisted_on,
        latest.rank,
        latest.event_seq as previous_event_seq
    from latest
    cross join open_round
    where open_round.is_open
        and latest.decision = 'waitlisted'
        and latest.round_date < {{ round_date() }}
        and not exists (
            select 1 from withdrawals where withdrawals.application_id = latest.application_id
        )

),

new_candidates as (

    select
        applications.application_id,
        applications.program_code,
        applications.track_code,
        true as is_new,
        cast(null as date) as waitlisted_on,
        cast(row_number() over (
            partition by applications.program_code
            order by
                case when catalogue.selection_method = 'committee' then scores.total_score end desc nulls last,
                case when catalogue.selection_method = 'committee' then scores.committee_score end desc nulls last,
                case when catalogue.selection_method = 'committee' then scores.bonus_points end desc nulls last,
                applications.submitted_at,
                {{ allocation_tiebreak('applications.application_id') }}
        ) as integer) as rank,
        0 as previous_event_seq
    from applications
    inner join eligibility
        on applications.application_id = eligibility.application_id
    inner join catalogue
        on applications.program_code = catalogue.program_code
    left join scores
        on applications.application_id = scores.application_id
    cross join open_round
    where open_round.is_open
        and eligibility.verdict = 'eligible'
        and not applications.is_withdrawn
        and applications.submitted_at < {{ round_end_kst() }}
        and catalogue.is_application_programme
        and catalogue.selection_method in ('committee', 'first_come')
        and catalogue.quota is not null
        and (catalogue.selection_method = 'first_come' or scores.total_score is not null)
        and not exists (
            select 1 from ledger where ledger.application_id = applications.application_id
        )

),

pool as (

    select * from waiting
    union all
    select * from new_candidates

),

pool_joined as (

    select
        pool.*,
        applications.submitted_at,
        applications.brn,
        catalogue.selection_method,
        scores.committee_score,
        scores.bonus_points,
        scores.total_score,
        coalesce(eligibility.verdict = 'eligible', false) as is_eligible_now,
        catalogue.selection_method = 'first_come'
            or coalesce(scores.total_score >= {{ var('min_score') }}, false) as meets_min_score,
        catalogue.quota - coalesce(held_per_program.n_held, 0) as program_quota_left,
        tracks.quota - coalesce(held_per_track.n_held, 0) as track_quota_left,
        cast(catalogue.budget_million_krw as bigint) * 1000000
            - coalesce(held_per_program.committed_krw, 0) as budget_left_krw,
        catalogue.support_per_company_krw,
        cast(round(
            catalogue.support_per_company_krw * (1 - coalesce(tracks.self_pay_ratio, catalogue.self_pay_ratio, 0))
        ) as bigint) as gov_if_selected
    from pool
    inner join applications
        on pool.application_id = applications.application_id
    inner join catalogue
        on pool.program_code = catalogue.program_code
    left join eligibility
        on pool.application_id = eligibility.application_id
    left join scores
        on pool.application_id = scores.application_id
    left join tracks
        on pool.program_code = tracks.program_code
        and pool.track_code = tracks.track_code
    left join held_per_program
        on pool.program_code = held_per_program.program_code
    left join held_per_track
        on pool.program_code = held_per_track.program_code
        and pool.track_code = held_per_track.track_code

),

-- Live applications that a participation rule can hold another one back for: new candidates at or
-- above the minimum, and everything waitlisted and not withdrawn.
live as (

    select application_id, program_code
    from pool_joined
    where is_new and meets_min_score
    union
    select latest.application_id, latest.program_code
    from latest
    inner join applications
        on latest.application_id = applications.application_id
    where latest.decision = 'waitlisted'
        and not applications.is_withdrawn

),

live_businesses as (

    select live.application_id, live.program_code, applications.brn, applications.submitted_at
    from live
    inner join applications
        on live.application_id = applications.application_id
    where applications.brn is not null

),

held_businesses as (

    select held.application_id, held.program_code, applications.brn
    from held
    inner join applications
        on held.application_id = applications.application_id
    where applications.brn is not null

),

-- The two participation flags as joins on (BRN, programme): `exists (...)` in the select list is a
-- subplan run once per pool row over unindexed CTEs, which grows with pool x live applications.
limited as (

    select distinct rules.program_code, held_businesses.brn
    from held_businesses
    inner join rules
        on rules.other_program_code = held_businesses.program_code

),

behind as (

    select distinct pool_joined.application_id, pool_joined.program_code
    from pool_joined
    inner join rules
        on rules.program_code = pool_joined.program_code
    inner join live_businesses
        on live_businesses.program_code = rules.other_program_code
        and live_businesses.brn = pool_joined.brn
    where live_businesses.application_id <> pool_joined.application_id
        and (
            live_businesses.submitted_at < pool_joined.submitted_at
            or (
                live_businesses.submitted_at = pool_joined.submitted_at
                and live_businesses.application_id < pool_joined.application_id
            )
        )

),

flagged as (

    select
        pool_joined.*,
        limited.brn is not null as is_limited,
        behind.application_id is not null as is_behind_own_application
    from pool_joined
    left join limited
        on limited.program_code = pool_joined.program_code
        and limited.brn = pool_joined.brn
    left join behind
        on behind.application_id = pool_joined.application_id
        and behind.program_code = pool_joined.program_code

),

---------- 3. fill the places left, in pool order

ordered as (

    select
        flagged.*,
        is_eligible_now and meets_min_score and not is_limited and not is_behind_own_application
            as may_be_selected,
        row_number() over (
            partition by program_code
            order by is_new, waitlisted_on, rank, application_id
        ) as pool_position
    from flagged

),

-- Track quota first: the n-th that may be selected in a track fits while n <= the track's quota left.
-- Unknown track quota: no track limit.
track_filled as (

    select
        ordered.*,
        may_be_selected and (
            track_quota_left is null
            or count(*) filter (where may_be_selected) over (
                partition by program_code, track_code
                order by pool_position
                rows between unbounded preceding and current row
            ) <= track_quota_left
        ) as fits_track
    from ordered

),

-- Then the sub-programme's quota and budget, counting only those that fit their track. Both running
-- totals only grow, so the selected are a prefix of the ones that fit: never over quota or budget.
program_filled as (

    select
        track_filled.*,
        count(*) filter (where fits_track) over program_window as n_fitting,
        sum(case when fits_track then coalesce(gov_if_selected, 0) else 0 end) over program_window
            as gov_running_krw
    from track_filled
    window program_window as (
        partition by program_code
        order by pool_position
        rows between unbounded preceding and current row
    )

),

pool_decided as (

    select
        program_filled.*,
        fits_track
            and n_fitting <= program_quota_left
            and (budget_left_krw is null or gov_running_krw <= budget_left_krw) as is_selected
    from program_filled

),

pool_events as (

    select
        application_id,
        program_code,
        track_code,
        case
            when is_selected then 'selected'
            when is_new and not meets_min_score then 'not_selected'
            else 'waitlisted'
        end as decision,
        case
            when is_selected and is_new then 'WITHIN_QUOTA'
            when is_selected then 'PROMOTED_FROM_WAITLIST'
            when not meets_min_score then 'BELOW_MIN_SCORE'
            when is_limited then 'PARTICIPATION_LIMIT'
            when is_behind_own_application then 'PARTICIPATION_PRIORITY'
            when not fits_track then 'TRACK_QUOTA_FULL'
            when n_fitting > program_quota_left then 'QUOTA_FULL'
            else 'BUDGET_EXHAUSTED'
        end as reason_code,
        rank,
        previous_event_seq + 1 as event_seq,
        case when not is_new then 'waitlisted' end as previous_decision,
        selection_method,
        total_score,
        submitted_at,
        case when is_selected then gov_if_selected end as gov_support_krw,
        case when is_selected then support_per_company_krw - gov_if_selected end as self_pay_krw
    from pool_decided
    -- a waiting application that still does not fit stays waitlisted: no new event
    where is_new or is_selected

),

withdrawal_events as (

    select
        withdrawals.application_id,
        withdrawals.program_code,
        withdrawals.track_code,
        'withdrawn' as decision,
        case withdrawals.decision
            when 'selected' then 'WITHDRAWN_AFTER_SELECTION'
            else 'WITHDRAWN_FROM_WAITLIST'
        end as reason_code,
        withdrawals.rank,
        withdrawals.event_seq + 1 as event_seq,
        withdrawals.decision as previous_decision,
        catalogue.selection_method,
        scores.total_score,
        applications.submitted_at,
        cast(null as bigint) as gov_support_krw,
        cast(null as bigint) as self_pay_krw
    from withdrawals
    inner join applications
        on withdrawals.application_id = applications.application_id
    inner join catalogue
        on withdrawals.program_code = catalogue.program_code
    left join scores
        on withdrawals.application_id = scores.application_id

),

events as (

    select * from pool_events
    union all
    select * from withdrawal_events

),

final as (

    select
        ---------- ids
        application_id,
        program_code,
        track_code,

        ---------- the round
        {{ round_date() }} as round_date,

        ---------- the decision
        decision,
        reason_code,
        cast(rank as integer) as rank,
        cast(event_seq as integer) as event_seq,
        previous_decision,
        selection_method,
        total_score,
        -- lowest total selected in the sub-programme this round (committee programmes)
        cast(case when selection_method = 'committee' and decision <> 'withdrawn' then
            min(case when decision = 'selected' then total_score end) over (partition by program_code)
        end as numeric) as cut_line,
        submitted_at,

        ---------- money (selections only)
        cast(gov_support_krw as bigint) as gov_support_krw,
        cast(self_pay_krw as bigint) as self_pay_krw,

        ---------- provenance
        cast({{ var('min_score') }} as numeric) as min_score,
        cast({{ string_literal(var('allocation_seed')) }} as text) as allocation_seed,
        cast({{ string_literal(run_var('run_id', 'manual')) }} as text) as decided_in_run

    from events

)

select * from final
