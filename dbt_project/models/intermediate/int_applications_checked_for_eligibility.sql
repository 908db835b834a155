-- One row per current application, with the result of each foundation eligibility rule, judged on the
-- round day. Each rule gives three columns: <rule>_result (pass / fail / review), <rule>_reason_code
-- (a reason_codes row; null on pass) and <rule>_detail (what was found, for staff). The marts turn this
-- into one row per application and rule (fct_eligibility_check) and a verdict (fct_eligibility).
--   brn_valid              BRN present and its check digit right                  fail BRN_MISSING / BRN_INVALID
--   industry_not_excluded  KSIC code not on the excluded list (its own revision,  fail INDUSTRY_EXCLUDED,
--                          valid on the round day, exceptions honoured)           review INDUSTRY_PARTIAL_REVIEW / KSIC_MISSING
--   consent_given          privacy and third-party consents both true             fail CONSENT_MISSING
--   submitted_at_valid     submission time present and readable                   fail SUBMITTED_AT_INVALID
--   not_withdrawn          status is not `withdrawn`                              fail WITHDRAWN
--   program_known          an application programme of the catalogue, and the    fail PROGRAM_UNKNOWN
--                          track (if any) one of its tracks
with

applications as (

    select * from {{ ref('int_applications_current') }}

),

excluded_industries as (

    select * from {{ ref('excluded_industries') }}
    where valid_from <= {{ round_date() }}
        and (valid_to is null or valid_to >= {{ round_date() }})

),

exceptions as (

    select * from {{ ref('excluded_industry_exceptions') }}

),

catalogue as (

    select * from {{ ref('program_catalogue') }}

),

tracks as (

    select * from {{ ref('program_tracks') }}

),

-- A missing or unknown KSIC revision is read as the revision in force on the round day
-- (the 11th revision took effect on 2024-07-01).
industry_codes as (

    select
        application_id,
        ksic_code,
        case
            when ksic_revision in (select distinct ksic_revision from {{ ref('excluded_industries') }})
                then ksic_revision
            when {{ round_date() }} >= date '2024-07-01' then 11
            else 10
        end as effective_ksic_revision
    from applications
    where ksic_code ~ '^[0-9]{5}$'

),

industry_matches as (

    select
        industry_codes.application_id,
        excluded_industries.ksic_prefix,
        excluded_industries.partial_flag,
        excluded_industries.name_ko,
        exists (
            select 1
            from exceptions
            where exceptions.excluded_prefix = excluded_industries.ksic_prefix
                and left(industry_codes.ksic_code, length(exceptions.ksic_prefix)) = exceptions.ksic_prefix
        ) as is_excepted
    from industry_codes
    inner join excluded_industries
        on excluded_industries.ksic_revision = industry_codes.effective_ksic_revision
        and left(industry_codes.ksic_code, length(excluded_industries.ksic_prefix))
            = excluded_industries.ksic_prefix

),

industry_results as (

    select
        application_id,
        bool_or(not partial_flag and not is_excepted) as has_excluded_match,
        bool_or(partial_flag and not is_excepted) as has_partial_match,
        string_agg(
            ksic_prefix || ' ' || name_ko
            || case when is_excepted then ' (예외 허용)' when partial_flag then ' (일부)' else '' end,
            '; ' order by ksic_prefix
        ) as matched_rows
    from industry_matches
    group by application_id

),

checked as (

    select
        applications.application_id,

        ---------- brn_valid
        case
            when applications.brn_text is null then 'fail'
            when not applications.brn_is_valid then 'fail'
            else 'pass'
        end as brn_valid_result,
        case
            when applications.brn_text is null then 'BRN_MISSING'
            when not applications.brn_is_valid then 'BRN_INVALID'
        end as brn_valid_reason_code,
        cast(null as text) as brn_valid_detail,

        ---------- industry_not_excluded
        case
            when applications.ksic_code is null or applications.ksic_code !~ '^[0-9]{5}$' then 'review'
            when industry_results.has_excluded_match then 'fail'
            when industry_results.has_partial_match then 'review'
            else 'pass'
        end as industry_not_excluded_result,
        case
            when applications.ksic_code is null or applications.ksic_code !~ '^[0-9]{5}$' then 'KSIC_MISSING'
            when industry_results.has_excluded_match then 'INDUSTRY_EXCLUDED'
            when industry_results.has_partial_match then 'INDUSTRY_PARTIAL_REVIEW'
        end as industry_not_excluded_reason_code,
        case
            when applications.ksic_code is null then null
            else 'KSIC ' || applications.ksic_code
                || coalesce(' (' || applications.ksic_revision || '차)', '')
                || coalesce(': ' || industry_results.matched_rows, '')
        end as industry_not_excluded_detail,

        ---------- consent_given
        case
            when applications.consent_privacy and applications.consent_third_party then 'pass'
            else 'fail'
        end as consent_given_result,
        case
            when applications.consent_privacy and applications.consent_third_party then null
            else 'CONSENT_MISSING'
        end as consent_given_reason_code,
        case
            when applications.consent_privacy and applications.consent_third_party then null
            else 'privacy=' || coalesce(applications.consent_privacy::text, 'missing')
                || ', third_party=' || coalesce(applications.consent_third_party::text, 'missing')
        end as consent_given_detail,

        ---------- submitted_at_valid
        case when applications.submitted_at is null then 'fail' else 'pass' end
            as submitted_at_valid_result,
        case when applications.submitted_at is null then 'SUBMITTED_AT_INVALID' end
            as submitted_at_valid_reason_code,
        case when applications.submitted_at is null then
            coalesce('received: ' || applications.submitted_at_text, 'missing')
        end as submitted_at_valid_detail,

        ---------- not_withdrawn
        case when applications.is_withdrawn then 'fail' else 'pass' end as not_withdrawn_result,
        case when applications.is_withdrawn then 'WITHDRAWN' end as not_withdrawn_reason_code,
        cast(null as text) as not_withdrawn_detail,

        ---------- program_known
        case
            when catalogue.program_code is null then 'fail'
            when applications.track_code is not null and tracks.track_code is null then 'fail'
            else 'pass'
        end as program_known_result,
        case
            when catalogue.program_code is null then 'PROGRAM_UNKNOWN'
            when applications.track_code is not null and tracks.track_code is null then 'PROGRAM_UNKNOWN'
        end as program_known_reason_code,
        case
            when catalogue.program_code is null
                or (applications.track_code is not null and tracks.track_code is null)
                then 'program_code=' || coalesce(applications.program_code, 'missing')
                    || ', track_code=' || coalesce(applications.track_code, 'none')
        end as program_known_detail,

        {{ round_date() }} as judged_at

    from applications
    left join industry_results
        on applications.application_id = industry_results.application_id
    left join catalogue
        on applications.program_code = catalogue.program_code
        and catalogue.is_application_programme
    left join tracks
        on applications.program_code = tracks.program_code
        and applications.track_code = tracks.track_code

)

select * from checked
