-- One row per current application: its sub-programme's own conditions (program_conditions in force on the
-- round day, for the programme and, where a row names one, the track), judged on the round day.
-- check_kind says how (answer_key is a key of program_answers):
--   answer_at_most         a number answered, at most threshold_value        (1-2: at most 5 participants)
--   answer_true            a yes/no answered yes                              (2-7: can ship regularly)
--   answer_in_list         an answer in allowed_values (|-separated); without (3-3: Idus or Interpark)
--                          an answer the track code stands in for it
--   answer_not_empty       something answered                                 (2-2 countries, 2-1 mall)
--   own_mall_present       the application names an own mall                  (2-1 own-mall track)
--   online_started_within  mail-order registration or Smart Store opening      (P-1 online-early)
--                          less than threshold_value years before the cut-off: after the same date
--                          threshold_value years earlier, and not after the cut-off. The registration
--                          date is the registry's (stg_reference__mail_order_registry, earliest
--                          registration on or before the cut-off) where it knows the business, else the
--                          one the applicant declared; the opening date is the declared one.
-- Not met -> fail_result (fail, or review where the notice states no condition and the check only looks
-- at what the application gives) with fail_reason_code; unanswered -> review with missing_reason_code.
-- Several conditions: the worst result wins (fail, then review), the details of all are kept.
-- An application without a condition passes.
with

applications as (

    select * from {{ ref('int_applications_current') }}

),

conditions as (

    select * from {{ ref('program_conditions') }}
    where {{ in_force_on(round_date()) }}

),

registrations as (

    select
        brn,
        min(registered_on) as registered_on
    from {{ ref('stg_reference__mail_order_registry') }}
    where brn is not null
        and registered_on <= {{ round_date() }}
    group by brn

),

applicable as (

    select
        applications.application_id,
        applications.track_code,
        applications.has_own_mall,
        applications.own_mall_url,
        conditions.condition_code,
        conditions.check_kind,
        conditions.threshold_value,
        conditions.allowed_values,
        conditions.fail_result,
        conditions.fail_reason_code,
        conditions.missing_reason_code,
        conditions.description_ko,
        nullif(btrim(applications.program_answers ->> conditions.answer_key), '') as answer_text,
        applications.program_answers -> conditions.answer_key as answer_json,
        -- P-1: the dates the business went online (declared, or the registry's)
        case
            when registrations.registered_on is not null then registrations.registered_on
            when applications.mail_order_registered then applications.mail_order_registered_on
        end as mail_order_on,
        registrations.registered_on is not null as mail_order_from_registry,
        applications.mail_order_registered,
        case when applications.smartstore_url is not null then applications.smartstore_opened_on end
            as smartstore_on,
        applications.smartstore_url is not null as has_smartstore,
        cast({{ round_date() }} - make_interval(years => cast(conditions.threshold_value as integer)) as date)
            as online_not_before
    from applications
    inner join conditions
        on applications.program_code = conditions.program_code
        and (conditions.track_code is null or conditions.track_code = applications.track_code)
    left join registrations
        on applications.brn = registrations.brn

),

evaluated as (

    select
        applicable.*,
        case check_kind
            when 'answer_at_most' then
                case
                    when {{ try_cast_numeric('answer_text') }} is null then 'missing'
                    when {{ try_cast_numeric('answer_text') }} <= threshold_value then 'met'
                    else 'not_met'
                end
            when 'answer_true' then
                case {{ try_cast_boolean('answer_text') }}
                    when true then 'met'
                    when false then 'not_met'
                    else 'missing'
                end
            when 'answer_in_list' then
                case
                    when coalesce(answer_text, track_code) is null then 'missing'
                    when lower(coalesce(answer_text, track_code)) = any(string_to_array(allowed_values, '|')) then 'met'
                    else 'not_met'
                end
            when 'answer_not_empty' then
                case
                    when answer_json is null or jsonb_typeof(answer_json) = 'null' then 'missing'
                    when jsonb_typeof(answer_json) = 'array' and jsonb_array_length(answer_json) = 0 then 'missing'
                    when jsonb_typeof(answer_json) = 'string' and answer_text is null then 'missing'
                    else 'met'
                end
            when 'own_mall_present' then
                case
                    when has_own_mall and own_mall_url is not null then 'met'
                    when has_own_mall is null then 'missing'
                    else 'not_met'
                end
            when 'online_started_within' then
                case
                    when mail_order_on > online_not_before and mail_order_on <= {{ round_date() }} then 'met'
                    when smartstore_on > online_not_before and smartstore_on <= {{ round_date() }} then 'met'
                    -- registered, or a store, but no date to judge by
                    when (mail_order_registered and mail_order_on is null) or (has_smartstore and smartstore_on is null)
                        then 'missing'
                    else 'not_met'
                end
        end as outcome
    from applicable

),

described as (

    select
        evaluated.*,
        case outcome when 'met' then 'pass' when 'missing' then 'review' else fail_result end as result,
        case outcome when 'not_met' then fail_reason_code when 'missing' then missing_reason_code end
            as reason_code,
        description_ko || ': ' || case
            when check_kind = 'online_started_within' then
                '통신판매업 신고 ' || coalesce(cast(mail_order_on as text), case when mail_order_registered then '일자 없음' else '없음' end)
                || case when mail_order_from_registry then ' (신고 명단)' else '' end
                || ', 스마트스토어 개설 ' || coalesce(cast(smartstore_on as text), case when has_smartstore then '일자 없음' else '없음' end)
                || ' (기준: ' || online_not_before || ' 이후)'
            when check_kind = 'own_mall_present' then
                '자사몰 ' || case
                    when has_own_mall is null then '응답 없음'
                    when has_own_mall and own_mall_url is not null then '있음'
                    when has_own_mall then 'URL 없음'
                    else '없음'
                end
            when check_kind = 'answer_in_list' and answer_text is null and track_code is not null then
                '응답 없음, 세부유형 ' || track_code
            else '응답 ' || coalesce(answer_text, '없음')
        end as detail,
        case outcome when 'not_met' then case fail_result when 'fail' then 1 else 2 end when 'missing' then 2 else 3 end
            as severity
    from evaluated

),

worst as (

    select distinct on (application_id)
        application_id,
        result,
        reason_code
    from described
    order by application_id, severity, condition_code

),

details as (

    select
        application_id,
        string_agg(detail, '; ' order by condition_code) as detail
    from described
    group by application_id

),

final as (

    select
        applications.application_id,
        coalesce(worst.result, 'pass') as program_condition_result,
        worst.reason_code as program_condition_reason_code,
        coalesce(details.detail, '세부사업 조건 없음') as program_condition_detail,
        {{ round_date() }} as judged_at
    from applications
    left join worst
        on applications.application_id = worst.application_id
    left join details
        on applications.application_id = details.application_id

)

select * from final
