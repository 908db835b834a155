-- No sub-programme and no track ever holds more selections than its quota: at the end of every round
-- day of the decision ledger, the applications whose latest event by then is `selected` (withdrawn
-- ones no longer count) are within the quota of the catalogue and of their track.
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
        ledger.track_code,
        ledger.decision,
        row_number() over (
            partition by days.as_of, ledger.application_id order by ledger.event_seq desc
        ) as recency
    from days
    inner join ledger
        on ledger.round_date <= days.as_of

),

held as (

    select * from standing where recency = 1 and decision = 'selected'

),

per_program as (

    select
        held.as_of,
        held.program_code,
        cast(null as text) as track_code,
        count(*) as n_selected,
        max(catalogue.quota) as quota
    from held
    left join {{ ref('program_catalogue') }} as catalogue
        on held.program_code = catalogue.program_code
    group by held.as_of, held.program_code

),

per_track as (

    select
        held.as_of,
        held.program_code,
        held.track_code,
        count(*) as n_selected,
        max(tracks.quota) as quota
    from held
    inner join {{ ref('program_tracks') }} as tracks
        on held.program_code = tracks.program_code
        and held.track_code = tracks.track_code
    where tracks.quota is not null
    group by held.as_of, held.program_code, held.track_code

)

select * from per_program where quota is null or n_selected > quota
union all
select * from per_track where n_selected > quota
