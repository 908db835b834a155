-- One row per current application: its required documents (document_requirements in force on the round
-- day) judged on the round day, the cut-off. Of the uploads of a type, a document valid on the cut-off
-- wins, else the one valid longest. A document is
--   valid          issued on or before the cut-off (or no issue date) and valid_until on or after it;
--   expired        valid_until before the cut-off (a certificate expiring the day before is expired);
--   not_yet_valid  issued after the cut-off;
--   no_validity    no readable valid_until (it cannot be shown valid on the cut-off);
--   missing        no upload of that type.
-- Only `valid` counts; the others are a supplement request (the rule documents_complete gives
-- `incomplete`). The small-business certificate valid on the cut-off also proves 소상공인 status.
--
-- A fold of the current versions' fold: an application's row depends only on its current version's
-- uploads, the requirements in force and the round day, and the day only through the uploads' dates. So
-- a build judges again only the applications whose current version was written since (by the current
-- versions' fold: its read_through columns) and those whose judgement changes between the last round day
-- read and this one (changes_on: the next day an upload is issued or expires), and keeps the others'
-- rows, which equal what a full build gives. The pre-hook empties the table, and the build judges every
-- application again, on a day before the last one read, or when the rows were judged under other
-- requirements, other code, or other decisions on the loads the current versions were read from
-- (macros/applications.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='application_id',
    on_schema_change='fail',
    indexes=applications_fold_indexes() + [{'columns': ['changes_on']}],
    tags=['folds_staged_rows'],
    pre_hook=["{{ start_over_unless_read_forward(current_versions_fold_context(['document_requirements'])) }}"],
) }}
with

{%- if is_incremental() %}
-- How far the table has read: the last round day, and each channel's current versions written through.
state as materialized (

    {{ applications_fold_state() }}

),

-- The applications to judge again: current versions written since (the current versions' fold's
-- read_through indexes), and judgements that change on a day after the last one read (changes_on).
changed as materialized (

    {{ applications_to_judge_again('state', changes_on=true) }}

),
{%- endif %}

applications as (

    select
        application_id, channel, documents, document_uploads
    from {{ ref('int_applications_current_folded') }}
    {%- if is_incremental() %}
    where application_id in (select changed.application_id from changed)
    {%- endif %}

),

requirements as (

    select * from {{ ref('document_requirements') }}
    where {{ in_force_on(round_date()) }}

),

-- The uploads, typed once per version in staging (stg_portal__applications.document_uploads): read
-- back as typed columns, where reading and typing them out of the raw JSON every day made this the
-- slowest intermediate model.
uploaded as (

    select
        applications.application_id,
        uploads.type as document_type,
        uploads.issued_on,
        uploads.valid_until
    from applications
    cross join lateral jsonb_to_recordset(applications.document_uploads)
        as uploads (type text, issued_on date, valid_until date)

),

judged as (

    select
        uploaded.*,
        case
            when valid_until is null then 'no_validity'
            when issued_on > {{ round_date() }} then 'not_yet_valid'
            when valid_until < {{ round_date() }} then 'expired'
            else 'valid'
        end as status
    from uploaded

),

-- The next day an upload's status changes: the day it is issued, or the day after it is last valid.
changes as (

    select
        application_id,
        min(
            case
                when issued_on > {{ round_date() }} then issued_on
                when valid_until >= {{ round_date() }} then valid_until + 1
            end
        ) as changes_on
    from judged
    group by application_id

),

best_per_type as (

    select distinct on (application_id, document_type)
        application_id,
        document_type,
        status,
        issued_on,
        valid_until
    from judged
    order by application_id, document_type, (status = 'valid') desc, valid_until desc nulls last

),

per_requirement as (

    select
        applications.application_id,
        requirements.document_type,
        requirements.name_ko,
        coalesce(best_per_type.status, 'missing') as status,
        best_per_type.issued_on,
        best_per_type.valid_until
    from applications
    cross join requirements
    left join best_per_type
        on applications.application_id = best_per_type.application_id
        and requirements.document_type = best_per_type.document_type

),

per_application as (

    select
        application_id,
        cast(count(*) as integer) as required_documents,
        cast(count(*) filter (where status = 'valid') as integer) as valid_documents,
        string_agg(
            name_ko || case status
                when 'missing' then ' 미제출'
                when 'expired' then ' ' || valid_until || ' 만료'
                when 'not_yet_valid' then ' ' || issued_on || ' 발급 (마감일 이후)'
                when 'no_validity' then ' 유효기간 없음'
            end,
            '; ' order by document_type
        ) filter (where status <> 'valid') as document_problems
    from per_requirement
    group by application_id

),

-- How far each channel's current versions were written when read (by the fold's index).
current_versions_read as (

    {{ current_versions_read() }}

),

final as (

    select
        applications.application_id,
        coalesce(jsonb_typeof(applications.documents) = 'array', false) as has_document_list,
        coalesce(per_application.required_documents, 0) as required_documents,
        coalesce(per_application.valid_documents, 0) as valid_documents,
        per_application.document_problems,
        coalesce(certificate.status, 'missing') as small_business_cert_status,
        certificate.valid_until as small_business_cert_valid_until,
        ---------- how far the row has read (start_over_unless_read_forward)
        changes.changes_on,
        applications.channel,
        {{ round_date() }} as read_through_day,
        current_versions_read.read_through_raw_id,
        {{ current_versions_fold_context(['document_requirements']) }} as context_fingerprint
    from applications
    left join per_application
        on applications.application_id = per_application.application_id
    left join best_per_type as certificate
        on applications.application_id = certificate.application_id
        and certificate.document_type = 'small_business_cert'
    left join changes
        on applications.application_id = changes.application_id
    left join current_versions_read
        on applications.channel = current_versions_read.channel

)

select * from final
