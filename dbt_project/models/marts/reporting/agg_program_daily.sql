{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['business_day', 'program_code'],
        full_refresh=false,
        on_schema_change='fail',
    )
}}
-- A daily snapshot per sub-programme, for the BI dashboard: each run for day D (var round_date)
-- writes D's rows (a rerun of D replaces them with the same content); earlier days stay as they were.
-- Applications and verdicts are as of the end of D; selections, waiting list, withdrawals, quota and
-- budget are the standing of the decision ledger at the end of D (events of rounds up to D).
with

catalogue as (

    select * from {{ ref('program_catalogue') }}
    where is_application_programme and quota is not null

),

applications as (

    select application_id, program_code, submitted_at, is_withdrawn from {{ ref('fct_application') }}

),

eligibility as (

    select application_id, verdict from {{ ref('fct_eligibility') }}

),

ledger as (

    select * from {{ ref('fct_allocation_decision') }}
    where round_date <= {{ round_date() }}

),

standing as (

    select *
    from (
        select
            ledger.*,
            row_number() over (partition by application_id order by event_seq desc) as recency
        from ledger
    ) as numbered
    where recency = 1

),

per_program_applications as (

    select
        applications.program_code,
        count(*) as applications,
        count(*) filter (
            where applications.submitted_at >= {{ round_end_kst() }} - interval '1 day'
                and applications.submitted_at < {{ round_end_kst() }}
        ) as applications_submitted_on_day,
        count(*) filter (where eligibility.verdict = 'eligible') as eligible,
        count(*) filter (where applications.is_withdrawn) as applications_withdrawn
    from applications
    left join eligibility
        on applications.application_id = eligibility.application_id
    group by applications.program_code

),

per_program_standing as (

    select
        program_code,
        count(*) filter (where decision = 'selected') as selected,
        count(*) filter (where decision = 'waitlisted') as waitlisted,
        count(*) filter (where decision = 'not_selected') as not_selected,
        count(*) filter (where decision = 'withdrawn') as withdrawn,
        coalesce(sum(gov_support_krw) filter (where decision = 'selected'), 0) as budget_committed_krw,
        coalesce(sum(self_pay_krw) filter (where decision = 'selected'), 0) as self_pay_committed_krw
    from standing
    group by program_code

),

per_program_day as (

    select
        program_code,
        count(*) filter (where decision = 'selected' and previous_decision is null) as selected_on_day,
        count(*) filter (where decision = 'selected' and previous_decision = 'waitlisted') as promoted_on_day,
        count(*) filter (where decision = 'withdrawn') as withdrawn_on_day
    from ledger
    where round_date = {{ round_date() }}
    group by program_code

),

final as (

    select
        ---------- keys
        {{ round_date() }} as business_day,
        catalogue.program_code,

        ---------- applications as of the end of the day
        cast(coalesce(apps.applications, 0) as integer) as applications,
        cast(coalesce(apps.applications_submitted_on_day, 0) as integer) as applications_submitted_on_day,
        cast(coalesce(apps.eligible, 0) as integer) as eligible,
        cast(coalesce(apps.applications_withdrawn, 0) as integer) as applications_withdrawn,

        ---------- standing of the decision ledger at the end of the day
        cast(coalesce(standing.selected, 0) as integer) as selected,
        cast(coalesce(standing.waitlisted, 0) as integer) as waitlisted,
        cast(coalesce(standing.not_selected, 0) as integer) as not_selected,
        cast(coalesce(standing.withdrawn, 0) as integer) as withdrawn,

        ---------- events of the day's round
        cast(coalesce(today.selected_on_day, 0) as integer) as selected_on_day,
        cast(coalesce(today.promoted_on_day, 0) as integer) as promoted_on_day,
        cast(coalesce(today.withdrawn_on_day, 0) as integer) as withdrawn_on_day,

        ---------- quota and budget
        catalogue.quota,
        cast(catalogue.quota - coalesce(standing.selected, 0) as integer) as quota_left,
        cast(catalogue.budget_million_krw as bigint) * 1000000 as budget_krw,
        cast(coalesce(standing.budget_committed_krw, 0) as bigint) as budget_committed_krw,
        cast(catalogue.budget_million_krw as bigint) * 1000000
            - cast(coalesce(standing.budget_committed_krw, 0) as bigint) as budget_left_krw,
        cast(coalesce(standing.self_pay_committed_krw, 0) as bigint) as self_pay_committed_krw

    from catalogue
    left join per_program_applications as apps
        on catalogue.program_code = apps.program_code
    left join per_program_standing as standing
        on catalogue.program_code = standing.program_code
    left join per_program_day as today
        on catalogue.program_code = today.program_code

)

select * from final
