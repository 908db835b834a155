-- One row per current application: the size limits of a 소상공인 that apply to its business on the
-- round day (the cut-off), from the rules as data:
--   the KSIC section, from the code's first two digits (ksic_sections; the same for revisions 10 and 11);
--   employees_below: fewer regular employees than this (size_employee_limits: 10 for B, C, F, H,
--     the `*` row (5) for every other section);
--   revenue_cap_krw: the 소기업 cap of 별표3 (size_revenue_caps) in force on the round day: the row of
--     the section with the longest KSIC prefix the code starts with (E36 over E, C31202 over C31, the
--     empty-cap row of S94 over S). A 2024 round reads the pre-2025-09-01 table.
-- The lowest limit and cap in force are kept too: a business under them is small whatever its industry.
--
-- A fold of the current versions' fold: an application's row depends only on its current version's KSIC
-- code and the tables in force, so a build sizes again only the applications whose current version was
-- written since, and keeps the others' rows. The pre-hook empties the table, and the build sizes every
-- application again, on a day before the last one read, or when the rows were sized under other tables
-- in force, other code, or other decisions on the loads the current versions were read from
-- (macros/applications.sql). A day where a table's row starts or ends is such a change.
{%- set context = current_versions_fold_context(['size_employee_limits', 'size_revenue_caps'], ['ksic_sections']) %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='application_id',
    on_schema_change='fail',
    indexes=applications_fold_indexes(),
    tags=['folds_staged_rows'],
    pre_hook=[
        "{{ start_over_unless_read_forward("
        "current_versions_fold_context(['size_employee_limits', 'size_revenue_caps'], ['ksic_sections'])) }}"
    ],
) }}
with

{%- if is_incremental() %}
-- How far the table has read: the last round day, and each channel's current versions written through.
state as materialized (

    {{ applications_fold_state() }}

),
{%- endif %}

applications as (

    select
        application_id,
        channel,
        ksic_code,
        -- the division (first two digits) of a well-formed 5-digit code; anything else has none
        case when ksic_code ~ '^[0-9]{5}$' then cast(left(ksic_code, 2) as integer) end as ksic_division
    from {{ ref('int_applications_current_folded') }}
    {%- if is_incremental() %}
    where application_id in ({{ current_versions_written_since('state') }})
    {%- endif %}

),

current_versions_read as (

    {{ current_versions_read() }}

),

-- One row per division of each section, so that an application finds its section by equality (a hash
-- join): the range test against every section re-read each code's division 21 times (3 s at 200,000
-- applications).
section_divisions as (

    select
        sections.ksic_section,
        divisions.division
    from {{ ref('ksic_sections') }} as sections
    cross join lateral generate_series(sections.division_from, sections.division_to) as divisions (division)

),

employee_limits as (

    select * from {{ ref('size_employee_limits') }}
    where {{ in_force_on(round_date()) }}

),

revenue_caps as (

    select * from {{ ref('size_revenue_caps') }}
    where {{ in_force_on(round_date()) }}

),

coded as (

    select
        applications.application_id,
        applications.channel,
        applications.ksic_code,
        section_divisions.ksic_section
    from applications
    left join section_divisions
        on applications.ksic_division = section_divisions.division

),

employee_limit_matched as (

    select distinct on (coded.application_id)
        coded.application_id,
        employee_limits.employees_below,
        employee_limits.legal_reference as employee_limit_reference
    from coded
    inner join employee_limits
        on employee_limits.ksic_section = coded.ksic_section
        or employee_limits.ksic_section = '*'
    where coded.ksic_section is not null
    -- the section's own row before the `*` row
    order by coded.application_id, (employee_limits.ksic_section = '*')

),

revenue_cap_matched as (

    select distinct on (coded.application_id)
        coded.application_id,
        revenue_caps.revenue_cap_krw,
        revenue_caps.ksic_section || coalesce(revenue_caps.ksic_prefix, '') as revenue_cap_scope,
        revenue_caps.is_assumed as revenue_cap_is_assumed,
        revenue_caps.legal_reference as revenue_cap_reference
    from coded
    inner join revenue_caps
        on revenue_caps.ksic_section = coded.ksic_section
        and (revenue_caps.ksic_prefix is null or left(coded.ksic_code, length(revenue_caps.ksic_prefix)) = revenue_caps.ksic_prefix)
    order by coded.application_id, length(coalesce(revenue_caps.ksic_prefix, '')) desc

),

final as (

    select
        coded.application_id,
        coded.ksic_section,
        employee_limit_matched.employees_below,
        employee_limit_matched.employee_limit_reference,
        revenue_cap_matched.revenue_cap_krw,
        revenue_cap_matched.revenue_cap_scope,
        revenue_cap_matched.revenue_cap_is_assumed,
        revenue_cap_matched.revenue_cap_reference,
        (select min(employees_below) from employee_limits) as lowest_employees_below,
        (select min(revenue_cap_krw) from revenue_caps) as lowest_revenue_cap_krw,
        ---------- how far the row has read (start_over_unless_read_forward)
        coded.channel,
        {{ round_date() }} as read_through_day,
        current_versions_read.read_through_raw_id,
        {{ context }} as context_fingerprint
    from coded
    left join employee_limit_matched
        on coded.application_id = employee_limit_matched.application_id
    left join revenue_cap_matched
        on coded.application_id = revenue_cap_matched.application_id
    left join current_versions_read
        on coded.channel = current_versions_read.channel

)

select * from final
