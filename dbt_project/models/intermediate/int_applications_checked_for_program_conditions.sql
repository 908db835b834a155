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
--
-- A fold of the current versions' fold: an application's row depends only on its current version, the
-- conditions in force, the registry's rows for its number, and the round day, and the day only through
-- P-1's window, which moves every day (changes_on: the next day; a pilot of 50 places). So a build
-- judges again only the applications whose current version was written since (by the current versions'
-- fold: its read_through columns), whose number has registry rows staged since (its
-- <list>_read_through_raw_id), or whose judgement changes by the round day (changes_on), and keeps the
-- others' rows, which equal what a full build gives. The pre-hook empties the table, and the build
-- judges every application again, on a day before the last one read, or when the rows were judged under
-- other conditions in force, other code, or other decisions on the loads the current versions or the
-- registry were read from (macros/applications.sql).
{%- set lists = [['stg_reference__mail_order_registry', 'reference', 'reference_mail_order_registry']] %}
{%- set context = current_versions_fold_context(['program_conditions'], staged=lists) %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='application_id',
    on_schema_change='fail',
    indexes=applications_fold_indexes() + [
        {'columns': ['changes_on']}, {'columns': ['brn']}
    ],
    tags=['folds_staged_rows'],
    pre_hook=[
        "{{ start_over_unless_read_forward(current_versions_fold_context(['program_conditions'], staged=["
        "['stg_reference__mail_order_registry', 'reference', 'reference_mail_order_registry']])) }}"
    ],
) }}
with

{%- if is_incremental() %}
-- How far the table has read: the last round day, each channel's current versions written through, and
-- the registry's last staged row.
state as materialized (

    {{ applications_fold_state(lists) }}

),

-- The applications to judge again: current versions written since (the current versions' fold's
-- read_through indexes), numbers with registry rows staged since, and judgements that change on a day
-- after the last one read (changes_on).
changed as materialized (

    {{ applications_to_judge_again('state', lists, changes_on=true) }}

),
{%- endif %}

applications as (

    select
        application_id, channel, brn, program_code, track_code, has_own_mall, own_mall_url, program_answers,
        mail_order_registered, mail_order_registered_on, smartstore_url, smartstore_opened_on
    from {{ ref('int_applications_current_folded') }}
    {%- if is_incremental() %}
    where application_id in (select changed.application_id from changed)
    {%- endif %}

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
    where brn in (select applications.brn from applications)
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
        end as outcome,
        -- P-1 is judged against a window that slides with the day (its detail names where it starts):
        -- again the next day
        case when check_kind = 'online_started_within' then {{ round_date() }} + 1 end as changes_on
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
        string_agg(detail, '; ' order by condition_code) as detail,
        min(changes_on) as changes_on
    from described
    group by application_id

),

-- How far each channel's current versions were written when read (by the fold's index).
current_versions_read as (

    {{ current_versions_read() }}

),

final as (

    select
        applications.application_id,
        coalesce(worst.result, 'pass') as program_condition_result,
        worst.reason_code as program_condition_reason_code,
        coalesce(details.detail, '세부사업 조건 없음') as program_condition_detail,
        ---------- how far the row has read (start_over_unless_read_forward)
        details.changes_on,
        applications.brn,
        applications.channel,
        {{ round_date() }} as read_through_day,
        current_versions_read.read_through_raw_id,
        {{ lists_read_through(lists) }},
        {{ context }} as context_fingerprint
    from applications
    left join worst
        on applications.application_id = worst.application_id
    left join details
        on applications.application_id = details.application_id
    left join current_versions_read
        on applications.channel = current_versions_read.channel

)

select * from final
