-- One row per current application and bonus item it claims (bonus_claims, each code once): whether the
-- evidence backs the claim on the application date (the KST day of submitted_at), and why. A claim
-- earns nothing without verified evidence. evidence_kind of bonus_items says what proves the item:
--   pledge                     ① online-early: the pledge uploaded (bonus_evidence online_early), no own
--                              mall, and no mail-order registration in force on the application date:
--                              declared "not registered" and no registry row registered on or before it
--                              that is not closed (폐업) — the notice judges it as of the application year
--   edu_completion             ② a completion of that course type (elearning / digital_univ) on or before
--                              the application date
--   onnuri_listing             ② a 온누리상품관 listing that began on or before the application date (the
--                              notice asks for a listing *history*: an ended listing counts too)
--   certification              ③ a certification of that type valid on the application date
--   certification_or_document  ③ patent, utility model, R&D product: a certification valid on the date;
--                              where the list has no row of that type for the business (known by the round
--                              day), the uploaded evidence (bonus_evidence with the code) counts instead
--   smartstore_url             ③ a Smart Store URL in the application, opened on or before the date (no
--                              opening date: the URL is the evidence)
-- A code that is not a bonus item in force on the application date is kept as `unknown_code`.
--
-- A fold of the current versions' fold: a claim's row depends only on its application's current version,
-- the bonus items, the evidence lists' rows for its number, and the round day only through the
-- certifications known by it (a row of the list starting after the day does not yet count). So a build
-- judges again only the applications whose current version was written since (by the current versions'
-- fold: its read_through columns), whose number has rows of an evidence list staged since (the
-- <list>_read_through_raw_id columns), or whose number has a certification starting by the round day
-- (changes_on), and keeps the other rows, which equal what a full build gives. A changed application
-- without claims now leaves a row without a code, so that delete+insert deletes its old claims; the
-- post-hook removes it in the same transaction. The pre-hook empties the table, and the build judges
-- every claim again, on a day before the last one read, or when the rows were judged under other bonus
-- items, other code, or other decisions on the loads the current versions or the lists were read from
-- (macros/applications.sql).
{%- set context = current_versions_fold_context(seeds=['bonus_items'], staged=bonus_evidence_lists()) %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='application_id',
    on_schema_change='fail',
    indexes=[
        {'columns': ['application_id', 'bonus_code'], 'unique': True},
        {'columns': ['read_through_day']},
        {'columns': ['channel', 'read_through_raw_id']},
        {'columns': ['brn']},
        {'columns': ['changes_on']},
    ],
    tags=['folds_staged_rows'],
    pre_hook=[
        "{{ start_over_unless_read_forward(current_versions_fold_context(seeds=['bonus_items'],"
        " staged=bonus_evidence_lists())) }}",
        "set local enable_nestloop = off",
    ],
    post_hook=["delete from {{ this }} where bonus_code is null"],
) }}
-- enable_nestloop off (for this model's transaction only): the staging views' typed columns are estimated
-- at one row, so the planner nested the evidence lists inside the claims and re-typed every list row
-- once per claim (S: 103 s, growing with claims x list rows; hash joins: about 1 s).
with

{%- if is_incremental() %}
-- How far the table has read: the last round day, each channel's current versions written through, and
-- each evidence list's last staged row.
state as materialized (

    {{ applications_fold_state(bonus_evidence_lists()) }}

),

-- The applications to judge again: current versions written since (the current versions' fold's
-- read_through indexes), numbers with evidence rows staged since, and certifications starting by the
-- round day (changes_on).
changed as materialized (

    {{ applications_to_judge_again('state', bonus_evidence_lists(), changes_on=true) }}

),
{%- endif %}

applications as (

    select
        application_id,
        channel,
        brn,
        document_uploads,
        bonus_claims,
        has_own_mall,
        own_mall_url,
        mail_order_registered,
        smartstore_url,
        smartstore_opened_on,
        cast(submitted_at at time zone 'Asia/Seoul' as date) as applied_on
    from {{ ref('int_applications_current_folded') }}
    where jsonb_typeof(bonus_claims) = 'array'
    {%- if is_incremental() %}
        and application_id in (select changed.application_id from changed)
    {%- endif %}

),

items as (

    select * from {{ ref('bonus_items') }}

),

claims as (

    select distinct
        applications.application_id,
        lower(btrim(claimed.code)) as bonus_code
    from applications
    cross join lateral jsonb_array_elements_text(applications.bonus_claims) as claimed (code)
    where nullif(btrim(claimed.code), '') is not null

),

evidence_documents as (

    select distinct
        applications.application_id,
        uploads.bonus_code
    from applications
    cross join lateral jsonb_to_recordset(applications.document_uploads) as uploads (type text, bonus_code text)
    where uploads.type = 'bonus_evidence'

),

completions as (

    select brn, course_type, min(completed_on) as first_completed_on
    from {{ ref('stg_edu__completions') }}
    where brn is not null and completed_on is not null
    group by brn, course_type

),

listings as (

    select brn, listed_from, listed_to
    from {{ ref('stg_reference__onnuri_listings') }}
    where brn is not null and listed_from is not null

),

certifications as (

    select brn, cert_type, valid_from, valid_to
    from {{ ref('stg_reference__certifications') }}
    where brn is not null and valid_from is not null
        and valid_from <= {{ round_date() }}

),

-- The day each number's next certification starts (after the round day): its claims change then.
certifications_starting as (

    select brn, min(valid_from) as changes_on
    from {{ ref('stg_reference__certifications') }}
    where brn in (select applications.brn from applications)
        and valid_from > {{ round_date() }}
    group by brn

),

registrations as (

    select brn, registered_on, status
    from {{ ref('stg_reference__mail_order_registry') }}
    where brn is not null and registered_on is not null

),

claim_base as (

    select
        claims.application_id,
        claims.bonus_code,
        items.bonus_row,
        items.item_no,
        items.name_ko,
        items.evidence_kind,
        items.evidence_match,
        applications.brn,
        applications.applied_on,
        applications.has_own_mall,
        applications.own_mall_url,
        applications.mail_order_registered,
        applications.smartstore_url,
        applications.smartstore_opened_on,
        applications.channel,
        evidence_documents.bonus_code is not null as has_evidence_document
    from claims
    inner join applications
        on claims.application_id = applications.application_id
    left join items
        on claims.bonus_code = items.bonus_code
        -- without an application date the item is still named (and not verified)
        and (applications.applied_on is null or {{ in_force_on('applications.applied_on', 'items') }})
    left join evidence_documents
        on claims.application_id = evidence_documents.application_id
        and claims.bonus_code = evidence_documents.bonus_code

),

completion_matches as (

    select claim_base.application_id, claim_base.bonus_code, min(completions.first_completed_on) as completed_on
    from claim_base
    inner join completions
        on claim_base.brn = completions.brn
        and claim_base.evidence_match = completions.course_type
        and completions.first_completed_on <= claim_base.applied_on
    where claim_base.evidence_kind = 'edu_completion'
    group by claim_base.application_id, claim_base.bonus_code

),

listing_matches as (

    select claim_base.application_id, claim_base.bonus_code, min(listings.listed_from) as listed_from
    from claim_base
    inner join listings
        on claim_base.brn = listings.brn
        and listings.listed_from <= claim_base.applied_on
    where claim_base.evidence_kind = 'onnuri_listing'
    group by claim_base.application_id, claim_base.bonus_code

),

certification_matches as (

    select
        claim_base.application_id,
        claim_base.bonus_code,
        coalesce(bool_or(
            certifications.valid_from <= claim_base.applied_on
            and (certifications.valid_to is null or certifications.valid_to >= claim_base.applied_on)
        ), false) as is_certified,
        max(certifications.valid_to) filter (
            where certifications.valid_from <= claim_base.applied_on
                and (certifications.valid_to is null or certifications.valid_to >= claim_base.applied_on)
        ) as certified_until
    from claim_base
    inner join certifications
        on claim_base.brn = certifications.brn
        and claim_base.evidence_match = certifications.cert_type
    where claim_base.evidence_kind in ('certification', 'certification_or_document')
    group by claim_base.application_id, claim_base.bonus_code

),

registration_matches as (

    select claim_base.application_id, claim_base.bonus_code, min(registrations.registered_on) as registered_on
    from claim_base
    inner join registrations
        on claim_base.brn = registrations.brn
        and registrations.registered_on <= claim_base.applied_on
        and registrations.status is distinct from 'closed'
    where claim_base.evidence_kind = 'pledge'
    group by claim_base.application_id, claim_base.bonus_code

),

claimed as (

    select
        claim_base.*,
        completion_matches.completed_on,
        listing_matches.listed_from,
        coalesce(certification_matches.is_certified, false) as is_certified,
        certification_matches.certified_until,
        certification_matches.application_id is not null as is_listed_for_type,
        registration_matches.registered_on
    from claim_base
    left join completion_matches
        on claim_base.application_id = completion_matches.application_id
        and claim_base.bonus_code = completion_matches.bonus_code
    left join listing_matches
        on claim_base.application_id = listing_matches.application_id
        and claim_base.bonus_code = listing_matches.bonus_code
    left join certification_matches
        on claim_base.application_id = certification_matches.application_id
        and claim_base.bonus_code = certification_matches.bonus_code
    left join registration_matches
        on claim_base.application_id = registration_matches.application_id
        and claim_base.bonus_code = registration_matches.bonus_code

),

verified as (

    select
        claimed.*,
        case
            when evidence_kind is null or applied_on is null then false
            when evidence_kind = 'pledge' then
                has_evidence_document
                and has_own_mall is false
                and own_mall_url is null
                and mail_order_registered is false
                and registered_on is null
            when evidence_kind = 'edu_completion' then completed_on is not null
            when evidence_kind = 'onnuri_listing' then listed_from is not null
            when evidence_kind = 'certification' then is_certified
            when evidence_kind = 'certification_or_document' then
                is_certified or (not is_listed_for_type and has_evidence_document)
            when evidence_kind = 'smartstore_url' then
                smartstore_url is not null
                and (smartstore_opened_on is null or smartstore_opened_on <= applied_on)
            else false
        end as is_verified
    from claimed

),

-- How far each channel's current versions were written when read (by the fold's index).
current_versions_read as (

    {{ current_versions_read() }}

),

final as (

    select
        application_id,
        bonus_code,
        bonus_row,
        item_no,
        name_ko as bonus_name_ko,
        evidence_kind,
        case
            when evidence_kind is null then 'unknown_code'
            when is_verified then 'verified'
            else 'not_verified'
        end as claim_status,
        is_verified,
        case
            when evidence_kind is null then '가점 항목이 아님 (신청일 기준)'
            when applied_on is null then '접수일시가 없어 신청일 기준 확인 불가'
            when evidence_kind = 'pledge' then
                concat_ws(', ',
                    case when has_evidence_document then '서약서 제출' else '서약서 없음' end,
                    case
                        when has_own_mall then '자사몰 있음'
                        when own_mall_url is not null then '자사몰 URL 있음'
                        when has_own_mall is null then '자사몰 여부 미기재'
                        else '자사몰 없음'
                    end,
                    case
                        when mail_order_registered then '통신판매업 신고 (신청서)'
                        when registered_on is not null then '통신판매업 신고 ' || registered_on || ' (신고 명단)'
                        when mail_order_registered is null then '통신판매업 신고 여부 미기재'
                        else '통신판매업 미신고'
                    end)
            when evidence_kind = 'edu_completion' then
                case
                    when completed_on is not null then completed_on || ' 수료'
                    else applied_on || ' 이전 수료 기록 없음'
                end
            when evidence_kind = 'onnuri_listing' then
                case
                    when listed_from is not null then listed_from || '부터 입점 이력'
                    else applied_on || ' 이전 입점 이력 없음'
                end
            when evidence_kind in ('certification', 'certification_or_document') then
                case
                    when is_certified then '인증 명단: ' || coalesce(certified_until || '까지 유효', '기한 없음')
                    when is_listed_for_type then '인증 명단에 있으나 ' || applied_on || ' 기준 유효하지 않음'
                    when evidence_kind = 'certification_or_document' and has_evidence_document
                        then '인증 명단에 없음: 제출 증빙으로 인정'
                    when evidence_kind = 'certification_or_document' then '인증 명단에 없고 제출 증빙 없음'
                    else '인증 명단에 없음'
                end
            when evidence_kind = 'smartstore_url' then
                case
                    when smartstore_url is null then '스마트스토어 URL 없음'
                    when smartstore_opened_on > applied_on then '개설일 ' || smartstore_opened_on || ' (신청일 이후)'
                    else '스마트스토어 URL 있음' || coalesce(' (개설 ' || smartstore_opened_on || ')', '')
                end
        end as evidence_detail,
        applied_on,
        ---------- how far the row has read (start_over_unless_read_forward)
        case when evidence_kind in ('certification', 'certification_or_document') then
            certifications_starting.changes_on
        end as changes_on,
        verified.brn,
        verified.channel,
        {{ round_date() }} as read_through_day,
        current_versions_read.read_through_raw_id,
        {{ lists_read_through(bonus_evidence_lists()) }},
        {{ context }} as context_fingerprint
    from verified
    left join certifications_starting
        on verified.brn = certifications_starting.brn
    left join current_versions_read
        on verified.channel = current_versions_read.channel

)

select * from final
{%- if is_incremental() %}
union all
-- A changed application that had claims and has none now: a row without a code (the post-hook removes
-- it), so that delete+insert deletes the claims it had. The row is the table's own row type, all null
-- but the application. (Only those: the changed set also holds every application of a channel whose
-- applications never claim, as the table holds no row saying how far it read that channel: 62,648 at
-- 200,000 applications, 2 s a day as rows written and removed again.)
select (jsonb_populate_record(null::{{ this }}, jsonb_build_object('application_id', changed.application_id))).*
from changed
where exists (select 1 from {{ this }} as held where held.application_id = changed.application_id)
    and not exists (select 1 from final where final.application_id = changed.application_id)
{%- endif %}
