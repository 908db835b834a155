-- One row per business that has applied, identified by business_key (md5(salt || BRN), as in
-- fct_application) and described by its latest application version as of the round day: region,
-- KSIC code and section, size and revenue bands. No personal data: built from fct_application only.
with

applications as (

    select * from {{ ref('fct_application') }}
    where business_key is not null

),

-- one row per KSIC division, joined by equality (a range test against every section read each
-- business's division again for all 21 sections)
section_divisions as (

    select
        sections.ksic_section,
        sections.name_ko,
        divisions.division
    from {{ ref('ksic_sections') }} as sections
    cross join lateral generate_series(sections.division_from, sections.division_to) as divisions (division)

),

per_business as (

    select
        business_key,
        count(*) as application_count,
        count(distinct program_code) as program_count,
        min(submitted_at) as first_submitted_at
    from applications
    group by business_key

),

-- only the columns described are sorted, not the whole application row
latest as (

    select distinct on (business_key)
        business_key,
        sido,
        ksic_code,
        ksic_revision,
        case when ksic_code ~ '^[0-9]{5}$' then substr(ksic_code, 1, 2) end as ksic_division,
        employees,
        annual_revenue_krw
    from applications
    order by business_key, updated_at desc, application_id desc

),

final as (

    select
        ---------- key
        latest.business_key,

        ---------- region
        latest.sido,

        ---------- industry (KSIC)
        latest.ksic_code,
        latest.ksic_revision,
        latest.ksic_division,
        section_divisions.ksic_section,
        section_divisions.name_ko as ksic_section_name_ko,

        ---------- size (the legal thresholds of 소상공인 are 5 and 10 regular employees)
        case
            when latest.employees is null then 'unknown'
            when latest.employees < 5 then 'under_5'
            when latest.employees < 10 then '5_to_9'
            else '10_or_more'
        end as size_band,
        case
            when latest.annual_revenue_krw is null then 'unknown'
            when latest.annual_revenue_krw < 100000000 then 'under_100m'
            when latest.annual_revenue_krw < 500000000 then '100m_to_500m'
            when latest.annual_revenue_krw < 1000000000 then '500m_to_1b'
            when latest.annual_revenue_krw < 3000000000 then '1b_to_3b'
            else '3b_or_more'
        end as revenue_band,

        ---------- activity
        cast(per_business.application_count as integer) as application_count,
        cast(per_business.program_count as integer) as program_count,
        per_business.first_submitted_at,

        ---------- lineage
        {{ round_date() }} as as_of_round_date

    from latest
    inner join per_business
        on latest.business_key = per_business.business_key
    left join section_divisions
        on cast(latest.ksic_division as integer) = section_divisions.division

)

select * from final
