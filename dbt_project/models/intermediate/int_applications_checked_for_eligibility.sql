-- One row per current application, with the result of every eligibility rule of the 2024 notice, judged
-- on the round day (the cut-off). Each rule gives three columns: <rule>_result (pass / fail / review),
-- <rule>_reason_code (a reason_codes row; null on pass) and <rule>_detail (what was found, for staff;
-- never the BRN). The marts turn this into one row per application and rule (fct_eligibility_check) and
-- a verdict (fct_eligibility). The rules, their order and names are the seed eligibility_rules.
--
--   brn_valid                 BRN present and its check digit right               fail BRN_MISSING / BRN_INVALID
--   industry_not_excluded     KSIC code not on the excluded list (its own          fail INDUSTRY_EXCLUDED
--                             revision, valid on the cut-off, exceptions honoured) review INDUSTRY_PARTIAL_REVIEW / KSIC_MISSING
--   consent_given             privacy and third-party consents both true           fail CONSENT_MISSING
--   submitted_at_valid        submission time present and readable                 fail SUBMITTED_AT_INVALID
--   not_withdrawn             status is not `withdrawn`                            fail WITHDRAWN
--   program_known             an application programme of the catalogue, and the  fail PROGRAM_UNKNOWN
--                             track (if any) one of its tracks
--   small_business_employees  a valid 소상공인 확인서, else fewer regular employees  review EMPLOYEES_*
--                             than the section's limit (int_applications_sized)
--   small_business_revenue    a valid 소상공인 확인서, else revenue within the 별표3   review REVENUE_*
--                             cap of the section or division
--   business_active           the 국세청 answer on the cut-off: not suspended, not  fail BUSINESS_SUSPENDED / _CLOSED
--                             closed on or before it                               review NTS_NOT_REGISTERED / NTS_STATUS_MISSING
--   no_tax_arrears            latest credit check: no national or local arrears    fail TAX_ARREARS
--   no_financial_default      latest credit check: no confirmed default            fail FINANCIAL_DEFAULT
--   no_fair_trade_violation   no 공정위 decision within the last year              fail FAIR_TRADE_VIOLATION
--   product_not_imported      the product is not imported                          fail PRODUCT_IMPORTED
--   product_not_large_company the product is not a large company's                 fail PRODUCT_LARGE_COMPANY
--   program_condition         the sub-programme's own conditions                   (program_conditions)
--   documents_complete        required documents valid on the cut-off              review DOCUMENTS_MISSING
--                                                                                  (verdict `incomplete`)
--
-- The same rules apply to every channel, on what the channel provides. An input a channel never sends
-- (channel_input_gaps: 소담스퀘어 has no KSIC code, size or documents; 소상공인24 no documents, product or
-- consents) gives that seed's absent_result (pass: the channel's operator checks it; a review every
-- application of the channel would get tells staff nothing) and its note as the detail. An input the
-- channel sends but the applicant left empty or malformed is judged as on the portal (usually review).
--
-- 소상공인 size without a valid certificate: the declared employees and revenue are only a cross-check
-- (domain-facts.md §2.2): the law counts the yearly average of month-end headcounts and a 3-year average
-- revenue, and keeps a business that outgrew the limits a 소상공인 for 3 more years (소상공인기본법 §2②),
-- none of which one declared figure shows. So a failed cross-check is `review`, never `fail`; with a
-- valid certificate the rule passes and a mismatch is only noted in the detail.
--
-- Credit checks and fair-trade decisions are lists of findings: no row means nothing was found (pass,
-- said in the detail). Tax arrears are proved absent by the tax payment certificates that
-- documents_complete requires; an unreadable flag is `review`.
{%- set gap_rules = [
    'industry_not_excluded', 'consent_given', 'small_business_employees', 'small_business_revenue',
    'documents_complete', 'product_not_imported', 'product_not_large_company',
] %}
{#- The contract's constraints (in the yml) check every result as the table is written: as column
    tests, 34 scans of the whole table a day. -#}
{{ config(contract={'enforced': True}) }}
with

-- Only the columns the rules read: the current versions' other columns (the JSON of uploads, answers and
-- claims, the contact fields) would be read and carried through every join for nothing.
applications as (

    select
        application_id, channel, program_code, track_code, status, is_withdrawn, submitted_at,
        submitted_at_text, brn, brn_text, brn_is_valid, ksic_code, ksic_revision, employees,
        annual_revenue_krw, is_imported, is_large_company_product, consent_privacy, consent_third_party
    from {{ ref('int_applications_current') }}

),

sized as (

    select * from {{ ref('int_applications_sized') }}

),

documents as (

    select * from {{ ref('int_application_documents_validated') }}

),

statuses as (

    select * from {{ ref('int_business_statuses_as_of_cutoff') }}

),

credit_checks as (

    select * from {{ ref('int_business_credit_checks_as_of_cutoff') }}

),

violations as (

    select * from {{ ref('int_business_violations_in_lookback') }}

),

program_conditions as (

    select * from {{ ref('int_applications_checked_for_program_conditions') }}

),

excluded_industries as (

    select * from {{ ref('excluded_industries') }}
    where {{ in_force_on(round_date()) }}

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

-- One row per channel: for each rule, what the channel does not send, the result that gives and why.
channel_gaps as (

    select
        channel,
        {%- for rule in gap_rules %}
        max(missing_input) filter (where rule_code = '{{ rule }}') as {{ rule }}_gap_input,
        max(absent_result) filter (where rule_code = '{{ rule }}') as {{ rule }}_gap_result,
        max(note_ko) filter (where rule_code = '{{ rule }}') as {{ rule }}_gap_note{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('channel_input_gaps') }}
    group by channel

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

-- Each code cut to every prefix length on the list, so that the join below is on equality (a hash
-- join) and not a prefix test of every code against every listed prefix (9.3 M comparisons, 1.5 s at
-- 200,000 applications). Materialized, so that the planner cannot join the list on the revision first.
industry_code_prefixes as materialized (

    select
        industry_codes.*,
        left(industry_codes.ksic_code, prefix_lengths.prefix_length) as code_prefix
    from industry_codes
    cross join (select distinct length(ksic_prefix) as prefix_length from excluded_industries) as prefix_lengths

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
    from industry_code_prefixes as industry_codes
    inner join excluded_industries
        on excluded_industries.ksic_revision = industry_codes.effective_ksic_revision
        and excluded_industries.ksic_prefix = industry_codes.code_prefix

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

joined as (

    select
        applications.*,
        industry_results.has_excluded_match,
        industry_results.has_partial_match,
        industry_results.matched_rows,
        catalogue.program_code as catalogue_program_code,
        tracks.track_code as catalogue_track_code,
        sized.ksic_section,
        sized.employees_below,
        sized.revenue_cap_krw,
        sized.revenue_cap_scope,
        sized.lowest_employees_below,
        sized.lowest_revenue_cap_krw,
        documents.required_documents,
        documents.valid_documents,
        documents.document_problems,
        documents.small_business_cert_status = 'valid' as has_valid_certificate,
        documents.small_business_cert_valid_until,
        statuses.answered_on as nts_answered_on,
        statuses.answer_since as nts_answer_since,
        statuses.status as nts_status,
        statuses.is_registered as nts_is_registered,
        statuses.closed_on as nts_closed_on,
        credit_checks.checked_on as credit_checked_on,
        credit_checks.has_national_tax_arrears,
        credit_checks.has_local_tax_arrears,
        credit_checks.has_financial_default,
        violations.violations_in_lookback,
        violations.decisions as violation_decisions,
        violations.lookback_from as violation_lookback_from,
        program_conditions.program_condition_result,
        program_conditions.program_condition_reason_code,
        program_conditions.program_condition_detail,
        {%- for rule in gap_rules %}
        channel_gaps.{{ rule }}_gap_input,
        channel_gaps.{{ rule }}_gap_result,
        channel_gaps.{{ rule }}_gap_note,
        {%- endfor %}
        -- figures as staff read them in the details
        case
            when applications.employees = trunc(applications.employees)
                then cast(cast(applications.employees as bigint) as text)
            else rtrim(cast(applications.employees as text), '0')
        end as employees_text,
        to_char(applications.annual_revenue_krw, 'FM999,999,999,999,990') || '원' as revenue_text,
        to_char(sized.revenue_cap_krw, 'FM999,999,999,999,990') || '원' as revenue_cap_text,
        case
            when documents.small_business_cert_status = 'valid'
                then '소상공인 확인서 유효 (' || documents.small_business_cert_valid_until || '까지)'
        end as certificate_text
    from applications
    left join industry_results
        on applications.application_id = industry_results.application_id
    left join catalogue
        on applications.program_code = catalogue.program_code
        and catalogue.is_application_programme
    left join tracks
        on applications.program_code = tracks.program_code
        and applications.track_code = tracks.track_code
    left join sized
        on applications.application_id = sized.application_id
    left join documents
        on applications.application_id = documents.application_id
    left join statuses
        on applications.brn = statuses.brn
    left join credit_checks
        on applications.brn = credit_checks.brn
    left join violations
        on applications.brn = violations.brn
    left join program_conditions
        on applications.application_id = program_conditions.application_id
    left join channel_gaps
        on applications.channel = channel_gaps.channel

),

checked as (

    select
        application_id,

        ---------- brn_valid
        case
            when brn_text is null then 'fail'
            when not brn_is_valid then 'fail'
            else 'pass'
        end as brn_valid_result,
        case
            when brn_text is null then 'BRN_MISSING'
            when not brn_is_valid then 'BRN_INVALID'
        end as brn_valid_reason_code,
        cast(null as text) as brn_valid_detail,

        ---------- industry_not_excluded
        case
            when industry_not_excluded_gap_input is not null then industry_not_excluded_gap_result
            when ksic_code is null or ksic_code !~ '^[0-9]{5}$' then 'review'
            when has_excluded_match then 'fail'
            when has_partial_match then 'review'
            else 'pass'
        end as industry_not_excluded_result,
        case
            when industry_not_excluded_gap_input is not null then null
            when ksic_code is null or ksic_code !~ '^[0-9]{5}$' then 'KSIC_MISSING'
            when has_excluded_match then 'INDUSTRY_EXCLUDED'
            when has_partial_match then 'INDUSTRY_PARTIAL_REVIEW'
        end as industry_not_excluded_reason_code,
        case
            when industry_not_excluded_gap_input is not null then industry_not_excluded_gap_note
            when ksic_code is null then null
            else 'KSIC ' || ksic_code
                || coalesce(' (' || ksic_revision || '차)', '')
                || coalesce(': ' || matched_rows, '')
        end as industry_not_excluded_detail,

        ---------- consent_given (소담스퀘어 asks for the privacy consent only: judged on that one)
        case
            when consent_given_gap_input = 'consents' then consent_given_gap_result
            when consent_privacy
                and (consent_third_party or consent_given_gap_input = 'consent_third_party') then 'pass'
            else 'fail'
        end as consent_given_result,
        case
            when consent_given_gap_input = 'consents' then null
            when consent_privacy
                and (consent_third_party or consent_given_gap_input = 'consent_third_party') then null
            else 'CONSENT_MISSING'
        end as consent_given_reason_code,
        case
            when consent_given_gap_input = 'consents' then consent_given_gap_note
            when consent_given_gap_input = 'consent_third_party' then
                consent_given_gap_note || ' (개인정보 동의: ' || coalesce(consent_privacy::text, '없음') || ')'
            when consent_privacy and consent_third_party then null
            else 'privacy=' || coalesce(consent_privacy::text, 'missing')
                || ', third_party=' || coalesce(consent_third_party::text, 'missing')
        end as consent_given_detail,

        ---------- submitted_at_valid
        case when submitted_at is null then 'fail' else 'pass' end as submitted_at_valid_result,
        case when submitted_at is null then 'SUBMITTED_AT_INVALID' end as submitted_at_valid_reason_code,
        case when submitted_at is null then
            coalesce('received: ' || submitted_at_text, 'missing')
        end as submitted_at_valid_detail,

        ---------- not_withdrawn
        case when is_withdrawn then 'fail' else 'pass' end as not_withdrawn_result,
        case when is_withdrawn then 'WITHDRAWN' end as not_withdrawn_reason_code,
        cast(null as text) as not_withdrawn_detail,

        ---------- program_known
        case
            when catalogue_program_code is null then 'fail'
            when track_code is not null and catalogue_track_code is null then 'fail'
            else 'pass'
        end as program_known_result,
        case
            when catalogue_program_code is null then 'PROGRAM_UNKNOWN'
            when track_code is not null and catalogue_track_code is null then 'PROGRAM_UNKNOWN'
        end as program_known_reason_code,
        case
            when catalogue_program_code is null
                or (track_code is not null and catalogue_track_code is null)
                then 'program_code=' || coalesce(program_code, 'missing')
                    || ', track_code=' || coalesce(track_code, 'none')
        end as program_known_detail,

        ---------- small_business_employees (limit unknown: under the lowest limit is under every limit)
        case
            when small_business_employees_gap_input is not null then small_business_employees_gap_result
            when has_valid_certificate then 'pass'
            when employees is null then 'review'
            when employees_below is null and employees < lowest_employees_below then 'pass'
            when employees_below is null then 'review'
            when employees < employees_below then 'pass'
            else 'review'
        end as small_business_employees_result,
        case
            when small_business_employees_gap_input is not null then null
            when has_valid_certificate then null
            when employees is null then 'EMPLOYEES_MISSING'
            when employees_below is null and employees < lowest_employees_below then null
            when employees_below is null then 'EMPLOYEES_LIMIT_UNKNOWN'
            when employees < employees_below then null
            else 'EMPLOYEES_OVER_LIMIT'
        end as small_business_employees_reason_code,
        case
            when small_business_employees_gap_input is not null then small_business_employees_gap_note
            when has_valid_certificate then certificate_text
                || case
                    when employees >= employees_below then
                        '; 교차확인 불일치: 신고 상시 근로자 ' || employees_text || '명 (업종 ' || ksic_section
                        || ' 기준 ' || employees_below || '명 미만)'
                    else ''
                end
            when employees is null then '상시 근로자 수 없음'
            when employees_below is null then
                '상시 근로자 ' || employees_text || '명, 업종 미상 (가장 낮은 기준 '
                || lowest_employees_below || '명 미만)'
            else '상시 근로자 ' || employees_text || '명 (업종 ' || ksic_section || ' 기준 '
                || employees_below || '명 미만)'
        end as small_business_employees_detail,

        ---------- small_business_revenue (cap unknown: within the lowest cap is within every cap)
        case
            when small_business_revenue_gap_input is not null then small_business_revenue_gap_result
            when has_valid_certificate then 'pass'
            when annual_revenue_krw is null then 'review'
            when revenue_cap_krw is null and annual_revenue_krw <= lowest_revenue_cap_krw then 'pass'
            when revenue_cap_krw is null then 'review'
            when annual_revenue_krw <= revenue_cap_krw then 'pass'
            else 'review'
        end as small_business_revenue_result,
        case
            when small_business_revenue_gap_input is not null then null
            when has_valid_certificate then null
            when annual_revenue_krw is null then 'REVENUE_MISSING'
            when revenue_cap_krw is null and annual_revenue_krw <= lowest_revenue_cap_krw then null
            when revenue_cap_krw is null then 'REVENUE_CAP_UNKNOWN'
            when annual_revenue_krw <= revenue_cap_krw then null
            else 'REVENUE_OVER_CAP'
        end as small_business_revenue_reason_code,
        case
            when small_business_revenue_gap_input is not null then small_business_revenue_gap_note
            when has_valid_certificate then certificate_text
                || case
                    when annual_revenue_krw > revenue_cap_krw then
                        '; 교차확인 불일치: 신고 매출액 ' || revenue_text || ' (' || revenue_cap_scope
                        || ' 기준 ' || revenue_cap_text || ' 이하)'
                    else ''
                end
            when annual_revenue_krw is null then '매출액 없음'
            when revenue_cap_krw is null then
                '매출액 ' || revenue_text || ', 업종 ' || coalesce(ksic_section, '미상') || '의 기준 없음 (가장 낮은 기준 '
                || to_char(lowest_revenue_cap_krw, 'FM999,999,999,999,990') || '원 이하)'
            else '매출액 ' || revenue_text || ' (' || revenue_cap_scope || ' 기준 ' || revenue_cap_text || ' 이하)'
        end as small_business_revenue_detail,

        ---------- business_active (a closure dated after the cut-off leaves the business open on it)
        case
            when nts_answered_on is null then 'review'
            when not nts_is_registered then 'review'
            when nts_status = 'suspended' then 'fail'
            when nts_status = 'closed' and nts_closed_on > {{ round_date() }} then 'pass'
            when nts_status = 'closed' then 'fail'
            else 'pass'
        end as business_active_result,
        case
            when nts_answered_on is null then 'NTS_STATUS_MISSING'
            when not nts_is_registered then 'NTS_NOT_REGISTERED'
            when nts_status = 'suspended' then 'BUSINESS_SUSPENDED'
            when nts_status = 'closed' and nts_closed_on > {{ round_date() }} then null
            when nts_status = 'closed' then 'BUSINESS_CLOSED'
        end as business_active_reason_code,
        case
            when brn is null then '사업자등록번호가 없어 조회 불가'
            when nts_answered_on is null then '마감일까지 조회 결과 없음'
            -- the day the answer has been the same since, not the day of the latest answer: a number asked
            -- again each day keeps its check (int_business_statuses_as_of_cutoff)
            else '국세청 ' || nts_answer_since || ' 이후 조회: ' || case
                when not nts_is_registered then '등록되지 않은 번호'
                when nts_status = 'suspended' then '휴업자'
                when nts_status = 'closed' then '폐업자 (폐업일 ' || coalesce(cast(nts_closed_on as text), '미상')
                    || case when nts_closed_on > {{ round_date() }} then ', 마감일 이후' else '' end || ')'
                else '계속사업자'
            end
        end as business_active_detail,

        ---------- no_tax_arrears
        case
            when has_national_tax_arrears or has_local_tax_arrears then 'fail'
            when credit_checked_on is not null
                and (has_national_tax_arrears is null or has_local_tax_arrears is null) then 'review'
            else 'pass'
        end as no_tax_arrears_result,
        case
            when has_national_tax_arrears or has_local_tax_arrears then 'TAX_ARREARS'
            when credit_checked_on is not null
                and (has_national_tax_arrears is null or has_local_tax_arrears is null) then 'TAX_CHECK_UNREADABLE'
        end as no_tax_arrears_reason_code,
        case
            when credit_checked_on is null then '체납 조회 기록 없음 (체납 없음은 납세증명서로 확인)'
            else credit_checked_on || ' 조회: 국세 ' || case has_national_tax_arrears
                    when true then '체납' when false then '체납 없음' else '판독 불가' end
                || ', 지방세 ' || case has_local_tax_arrears
                    when true then '체납' when false then '체납 없음' else '판독 불가' end
        end as no_tax_arrears_detail,

        ---------- no_financial_default
        case
            when has_financial_default then 'fail'
            when credit_checked_on is not null and has_financial_default is null then 'review'
            else 'pass'
        end as no_financial_default_result,
        case
            when has_financial_default then 'FINANCIAL_DEFAULT'
            when credit_checked_on is not null and has_financial_default is null then 'DEFAULT_CHECK_UNREADABLE'
        end as no_financial_default_reason_code,
        case
            when credit_checked_on is null then '채무불이행 조회 기록 없음 (확정된 채무불이행 없음)'
            else credit_checked_on || ' 조회: ' || case has_financial_default
                when true then '채무불이행 확정' when false then '채무불이행 없음' else '판독 불가' end
        end as no_financial_default_detail,

        ---------- no_fair_trade_violation
        case when violations_in_lookback > 0 then 'fail' else 'pass' end as no_fair_trade_violation_result,
        case when violations_in_lookback > 0 then 'FAIR_TRADE_VIOLATION' end
            as no_fair_trade_violation_reason_code,
        case
            when violations_in_lookback > 0 then
                violation_decisions || ' (' || violation_lookback_from || ' 이후 의결)'
            else '최근 1년 이내 공정거래위원회 의결 없음'
        end as no_fair_trade_violation_detail,

        ---------- product_not_imported
        case
            when product_not_imported_gap_input is not null then product_not_imported_gap_result
            when is_imported then 'fail'
            when is_imported is null then 'review'
            else 'pass'
        end as product_not_imported_result,
        case
            when product_not_imported_gap_input is not null then null
            when is_imported then 'PRODUCT_IMPORTED'
            when is_imported is null then 'PRODUCT_IMPORTED_UNKNOWN'
        end as product_not_imported_reason_code,
        case
            when product_not_imported_gap_input is not null then product_not_imported_gap_note
        end as product_not_imported_detail,

        ---------- product_not_large_company
        case
            when product_not_large_company_gap_input is not null then product_not_large_company_gap_result
            when is_large_company_product then 'fail'
            when is_large_company_product is null then 'review'
            else 'pass'
        end as product_not_large_company_result,
        case
            when product_not_large_company_gap_input is not null then null
            when is_large_company_product then 'PRODUCT_LARGE_COMPANY'
            when is_large_company_product is null then 'PRODUCT_LARGE_COMPANY_UNKNOWN'
        end as product_not_large_company_reason_code,
        case
            when product_not_large_company_gap_input is not null then product_not_large_company_gap_note
        end as product_not_large_company_detail,

        ---------- program_condition
        coalesce(program_condition_result, 'pass') as program_condition_result,
        program_condition_reason_code,
        program_condition_detail,

        ---------- documents_complete
        case
            when documents_complete_gap_input is not null then documents_complete_gap_result
            when valid_documents < required_documents then 'review'
            else 'pass'
        end as documents_complete_result,
        case
            when documents_complete_gap_input is not null then null
            when valid_documents < required_documents then 'DOCUMENTS_MISSING'
        end as documents_complete_reason_code,
        case
            when documents_complete_gap_input is not null then documents_complete_gap_note
            when valid_documents < required_documents then document_problems
            else '필수 서류 ' || required_documents || '종 모두 마감일 기준 유효'
        end as documents_complete_detail,

        ---------- the channel and the day
        channel,
        {{ round_date() }} as judged_at

    from joined

)

select * from checked
