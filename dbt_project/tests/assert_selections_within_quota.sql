-- No sub-programme and no track ever holds more selections than its quota. A selection is held from
-- its round day until the round day of its withdrawal (if any): the standing at the end of every round
-- day is the running sum of +1 per selection and -1 per withdrawal of a selection, by day.
with

held as (

    {{ places_held(ref('fct_allocation_decision')) }}

),

deltas as (

    select program_code, track_code, held_from as as_of, 1 as change from held
    union all
    select program_code, track_code, held_until, -1 from held where held_until is not null

),

per_program as (

    select
        program_code,
        cast(null as text) as track_code,
        as_of,
        sum(sum(change)) over (partition by program_code order by as_of) as n_selected
    from deltas
    group by program_code, as_of

),

per_track as (

    select
        program_code,
        track_code,
        as_of,
        sum(sum(change)) over (partition by program_code, track_code order by as_of) as n_selected
    from deltas
    where track_code is not null
    group by program_code, track_code, as_of

)

select per_program.*, catalogue.quota
from per_program
left join {{ ref('program_catalogue') }} as catalogue
    on per_program.program_code = catalogue.program_code
where catalogue.quota is null or per_program.n_selected > catalogue.quota
union all
select per_track.*, tracks.quota
from per_track
inner join {{ ref('program_tracks') }} as tracks
    on per_track.program_code = tracks.program_code
    and per_track.track_code = tracks.track_code
where per_track.n_selected > tracks.quota
