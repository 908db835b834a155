-- One row per business that has applied, identified by business_key (md5(salt || BRN), as in
-- fct_application) and described by its latest application version as of the round day: region,
-- KSIC code and section, size and revenue bands. No personal data: built from fct_application only.
with

applications as (

    select * from {{ ref('fct_application') }}
    where business_key is not null

),

sections as (

    select * from {{ ref('ksic_sections') }}

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

latest as (

    select *
    from (
        select
            applications.*,
            row_number() over (
                partition by business_key
                order by updated_at desc, application_id desc
            ) as recency
        from applications
    ) as numbered
    where recency = 1

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
        case when latest.ksic_code ~ '^[0-9]{5}$' then substr(latest.ksic_code, 1, 2) end as ksic_division,
        sections.ksic_section,
        sections.name_ko as ksic_section_name_ko,

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
    left join sections
        on latest.ksic_code ~ '^[0-9]{5}$'
        and cast(substr(latest.ksic_code, 1, 2) as integer) between sections.division_from and sections.division_to

)

select * from final
