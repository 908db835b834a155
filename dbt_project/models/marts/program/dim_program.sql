-- The programme catalogue as BI reads it. Grain: one row per sub-programme (track_code null,
-- is_programme_level true) plus one row per track of the sub-programmes that have tracks.
-- Programme attributes (names, budget, quota, unit, method, channel) repeat on track rows;
-- to add up budgets or quotas, filter is_programme_level (or sum track_quota over track rows).
with

catalogue as (

    select * from {{ ref('program_catalogue') }}

),

tracks as (

    select * from {{ ref('program_tracks') }}

),

programme_rows as (

    select
        catalogue.program_code,
        cast(null as text) as track_code,
        true as is_programme_level,
        catalogue.self_pay_ratio,
        cast(null as text) as track_name_ko,
        cast(null as text) as track_name_en,
        cast(null as integer) as track_quota
    from catalogue

),

track_rows as (

    select
        tracks.program_code,
        tracks.track_code,
        false as is_programme_level,
        tracks.self_pay_ratio,
        tracks.name_ko as track_name_ko,
        tracks.name_en as track_name_en,
        tracks.quota as track_quota
    from tracks

),

unioned as (

    select * from programme_rows
    union all
    select * from track_rows

),

final as (

    select
        ---------- keys
        unioned.program_code || coalesce(':' || unioned.track_code, '') as program_track_key,
        unioned.program_code,
        unioned.track_code,
        unioned.is_programme_level,

        ---------- names
        catalogue.program_group,
        catalogue.name_ko as program_name_ko,
        catalogue.name_en as program_name_en,
        unioned.track_name_ko,
        unioned.track_name_en,

        ---------- amounts
        catalogue.budget_million_krw,
        catalogue.quota as program_quota,
        unioned.track_quota,
        catalogue.unit,
        catalogue.support_per_company_krw,
        catalogue.support_basis,
        cast(unioned.self_pay_ratio as numeric(3, 2)) as self_pay_ratio,

        ---------- how it runs
        catalogue.selection_method,
        catalogue.selection_method_source,
        catalogue.operator,
        catalogue.channel,
        catalogue.is_application_programme,
        catalogue.legal_reference

    from unioned
    inner join catalogue
        on unioned.program_code = catalogue.program_code

)

select * from final
