-- No sub-programme and no track ever has more selections in the decision ledger than its quota,
-- across every round decided so far.
with

selections as (

    select program_code, track_code
    from {{ ref('fct_allocation_decision') }}
    where decision = 'selected'

),

per_program as (

    select
        selections.program_code,
        cast(null as text) as track_code,
        count(*) as n_selected,
        max(catalogue.quota) as quota
    from selections
    left join {{ ref('program_catalogue') }} as catalogue
        on selections.program_code = catalogue.program_code
    group by selections.program_code

),

per_track as (

    select
        selections.program_code,
        selections.track_code,
        count(*) as n_selected,
        max(tracks.quota) as quota
    from selections
    inner join {{ ref('program_tracks') }} as tracks
        on selections.program_code = tracks.program_code
        and selections.track_code = tracks.track_code
    where tracks.quota is not null
    group by selections.program_code, selections.track_code

)

select * from per_program where quota is null or n_selected > quota
union all
select * from per_track where n_selected > quota
