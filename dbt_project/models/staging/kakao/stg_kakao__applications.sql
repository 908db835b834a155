-- One row per version of a 소담스퀘어 KakaoTalk-channel application (raw.kakao_applications), typed.
-- Staff type the workbooks by hand: every value is trimmed (runs of spaces, no-break and ideographic
-- spaces become one space), the BRN is read with hyphens, spaces or dots, 신청일시 from any of the forms
-- staff use and 개인정보동의 from Y/N/동의/미동의. The site is the workbook name's prefix
-- (<site>_YYYYMMDD.xlsx). Blank rows, rows that identify no applicant and workbooks whose name gives no
-- site are in quarantine instead (macros/quarantine.sql).
-- The workbooks carry no application number, so application_id is made here:
--   KAKAO-<site_code>-<brn>    when 사업자등록번호 normalises to 10 digits, else
--   KAKAO-<site_code>-H<hash>  the first 12 hex digits of md5(상호 | 대표자명 | digits of 연락처).
-- As in stg_sbiz24__o2o_applications, received rows are ordered per application_id (workbook day from
-- the file name, then raw_id) and a version is a run of rows whose typed content is unchanged; the first
-- row of each run is kept with the count of rows it stands for.
with

received as (  -- typed row by row, each raw row once (base_kakao__application_rows)

    select * from {{ ref('base_kakao__application_rows') }}

),

versions as (

    {{ versions_of('received') }}

),

final as (

    select
        ---------- ids
        application_id,
        cast(version_no as integer) as version_no,
        site_code,
        raw_id,
        load_id,
        record_hash,
        source_file,
        line_no,

        ---------- timestamps
        submitted_at,
        cast(submitted_at at time zone 'Asia/Seoul' as date) as submitted_on,
        submitted_at_is_date_only,
        submitted_at_text,

        ---------- business identity (personal data: kept out of marts)
        brn,
        brn_text,
        brn_is_valid,
        business_name,
        representative_name,

        ---------- location and contact (personal data: kept out of marts)
        region,
        phone,

        ---------- request
        program_wish,

        ---------- consents
        consent_privacy,
        consent_privacy_text,

        ---------- receipt
        workbook_date,
        version_received_at,
        cast(times_received as integer) as times_received,
        raw_ids

    from versions

)

select * from final
