{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='fail',
    )
}}
-- THE DECISION LEDGER: one row per decided application, appended by the round that decided it and
-- never rewritten (append only, full_refresh disabled). A run for round day D adds the decisions of
-- the applications that are candidates on D and not yet in the ledger; a rerun of the same or an
-- earlier day finds nothing new and adds nothing (a day before the ledger's latest round is never
-- decided after it: its candidates were, or will be, decided by the later rounds).
--
-- Candidates on D: current version (as of D) not withdrawn, verdict `eligible`, submitted before
-- D + 1 day (KST), an application programme of the catalogue, not yet decided; for committee
-- programmes also a committee score from a round on or before D.
-- Ranking within the sub-programme:
--   committee:  total_score desc, committee_score desc, bonus_points desc, submitted_at, seeded hash
--   first_come: submitted_at, seeded hash
-- Committee candidates under var('min_score') are `not_selected` (they keep their rank). The others
-- fill, in rank order, the remaining track quota (where the track quota is known) and then the
-- remaining sub-programme quota; "remaining" = quota minus the selections already in the ledger.
-- Whoever does not fit is `waitlisted`.
with

applications as (

    select * from {{ ref('int_applications_current') }}

),

eligibility as (

    select * from {{ ref('fct_eligibility') }}

),

scores as (

    select * from {{ ref('fct_score') }}

),

catalogue as (

    select * from {{ ref('program_catalogue') }}

),

tracks as (

    select * from {{ ref('program_tracks') }}

),

decided as (

    {% if is_incremental() -%}
    select application_id, program_code, track_code, round_date, decision from {{ this }}
    {%- else -%}
    select
        cast(null as text) as application_id,
        cast(null as text) as program_code,
        cast(null as text) as track_code,
        cast(null as date) as round_date,
        cast(null as text) as decision
    where false
    {%- endif %}

),

selected_per_program as (

    select program_code, count(*) as n_selected
    from decided
    where decision = 'selected'
    group by program_code

),

selected_per_track as (

    select program_code, track_code, count(*) as n_selected
    from decided
    where decision = 'selected' and track_code is not null
    group by program_code, track_code

),

candidates as (

    select
        applications.application_id,
        applications.program_code,
        applications.track_code,
        applications.submitted_at,
        catalogue.selection_method,
        scores.committee_score,
        scores.bonus_points,
        scores.total_score,
        catalogue.quota - coalesce(selected_per_program.n_selected, 0) as program_quota_left,
        tracks.quota - coalesce(selected_per_track.n_selected, 0) as track_quota_left,
        catalogue.support_per_company_krw,
        coalesce(tracks.self_pay_ratio, catalogue.self_pay_ratio, 0) as self_pay_ratio,
        {{ allocation_tiebreak('applications.application_id') }} as tiebreak_hash,
        catalogue.selection_method = 'first_come'
            or scores.total_score >= {{ var('min_score') }} as meets_min_score
    from applications
    inner join eligibility
        on applications.application_id = eligibility.application_id
    inner join catalogue
        on applications.program_code = catalogue.program_code
    left join tracks
        on applications.program_code = tracks.program_code
        and applications.track_code = tracks.track_code
    left join scores
        on applications.application_id = scores.application_id
    left join selected_per_program
        on applications.program_code = selected_per_program.program_code
    left join selected_per_track
        on applications.program_code = selected_per_track.program_code
        and applications.track_code = selected_per_track.track_code
    where eligibility.verdict = 'eligible'
        and applications.is_withdrawn is not true
        and applications.submitted_at < {{ round_end_kst() }}
        and catalogue.is_application_programme
        and catalogue.selection_method in ('committee', 'first_come')
        and catalogue.quota is not null
        and (catalogue.selection_method = 'first_come' or scores.total_score is not null)
        and not exists (
            select 1 from decided where decided.application_id = applications.application_id
        )
        -- the ledger moves forward in time: a day before its latest round decides nothing
        and not exists (
            select 1 from decided where decided.round_date > {{ round_date() }}
        )

),

ranked as (

    select
        candidates.*,
        row_number() over (
            partition by program_code
            order by
                case when selection_method = 'committee' then total_score end desc nulls last,
                case when selection_method = 'committee' then committee_score end desc nulls last,
                case when selection_method = 'committee' then bonus_points end desc nulls last,
                submitted_at,
                tiebreak_hash
        ) as rank_in_round
    from candidates

),

-- Track quota first: the n-th candidate of a track (in rank order, above the minimum) fits while
-- n <= the track's quota left. Unknown track quota: no track limit.
track_filled as (

    select
        ranked.*,
        meets_min_score and (
            track_quota_left is null
            or count(*) filter (where meets_min_score) over (
                partition by program_code, track_code
                order by rank_in_round
                rows between unbounded preceding and current row
            ) <= track_quota_left
        ) as fits_track
    from ranked

),

-- Then the sub-programme quota, counting only the candidates that fit their track.
program_filled as (

    select
        track_filled.*,
        fits_track and count(*) filter (where fits_track) over (
            partition by program_code
            order by rank_in_round
            rows between unbounded preceding and current row
        ) <= program_quota_left as is_selected
    from track_filled

),

decisions as (

    select
        program_filled.*,
        case
            when not meets_min_score then 'not_selected'
            when is_selected then 'selected'
            else 'waitlisted'
        end as decision,
        case when selection_method = 'committee' then
            min(total_score) filter (where is_selected) over (partition by program_code)
        end as cut_line,
        case when is_selected then
            cast(round(support_per_company_krw * (1 - self_pay_ratio)) as bigint)
        end as gov_support_krw
    from program_filled

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
        cast(rank_in_round as integer) as rank,
        selection_method,
        total_score,
        cast(cut_line as numeric) as cut_line,
        submitted_at,

        ---------- money (selected only)
        gov_support_krw,
        case when is_selected then
            cast(support_per_company_krw - gov_support_krw as bigint)
        end as self_pay_krw,

        ---------- provenance
        cast({{ var('min_score') }} as numeric) as min_score,
        cast({{ var_literal('allocation_seed') }} as text) as allocation_seed,
        cast({{ var_literal('run_id') }} as text) as decided_in_run,
        {{ round_date() }} as decided_at_round

    from decisions

)

select * from final
