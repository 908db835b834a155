-- Track quotas never add up to more than their sub-programme's quota (where every track quota is known),
-- and add up exactly to it where the notice splits the whole programme into tracks.
{%- set exact_programmes = ['1-1', '2-1', '2-2', '2-5', '2-7', '2-9', '3-3'] %}
with

track_totals as (

    select
        program_code,
        count(*) as n_tracks,
        count(quota) as n_known,
        sum(quota) as track_quota_total
    from {{ ref('program_tracks') }}
    group by program_code

),

compared as (

    select
        track_totals.*,
        catalogue.quota as programme_quota
    from track_totals
    inner join {{ ref('program_catalogue') }} as catalogue
        on track_totals.program_code = catalogue.program_code

)

select *
from compared
where (n_known = n_tracks and track_quota_total > programme_quota)
    or (
        program_code in ('{{ exact_programmes | join("', '") }}')
        and (n_known <> n_tracks or track_quota_total is distinct from programme_quota)
    )
