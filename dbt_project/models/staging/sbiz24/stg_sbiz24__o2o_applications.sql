-- One row per version of a 소상공인24 O2O application (raw.sbiz24_o2o_applications), typed.
-- The export repeats an application in a later day's file when it changes, and may repeat a line inside a
-- file: received rows are put in order per 접수번호 (export day from the file name, then raw_id), and a
-- version is a run of rows whose content is unchanged from the row before. The first row of the run is
-- kept (its raw_id, file and line) with the count of rows it stands for. An application whose content
-- goes back to an earlier one (접수 -> 보완요청 -> 접수) gets a new version: it changed again.
-- Content = every header column trimmed (absent and empty alike); malformed values become null.
with

received as (  -- typed line by line, each raw line once (base_sbiz24__o2o_application_rows)

    select * from {{ ref('base_sbiz24__o2o_application_rows') }}

),

versions as (

    {{ versions_of('received') }}

),

final as (

    select
        ---------- ids
        application_id,
        cast(version_no as integer) as version_no,
        raw_id,
        load_id,
        record_hash,
        source_file,
        line_no,

        ---------- status
        status_ko,
        status,

        ---------- timestamps
        submitted_at,
        submitted_at_text,

        ---------- business identity (personal data)
        brn,
        brn_text,
        brn_is_valid,
        business_name,
        representative_name,

        ---------- industry and size
        ksic_code,
        employees,
        annual_revenue_krw,

        ---------- location and contact (personal data)
        sido,
        sigungu,
        phone,

        ---------- channel
        o2o_platform,

        ---------- receipt
        exported_on,
        version_received_at,
        cast(times_received as integer) as times_received,
        raw_ids

    from versions

)

select * from final
