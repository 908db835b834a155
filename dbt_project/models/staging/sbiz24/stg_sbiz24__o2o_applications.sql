-- One row per version of a 소상공인24 O2O application (raw.sbiz24_o2o_applications), typed.
-- The export repeats an application in a later day's file when it changes, and may repeat a line inside a
-- file: received rows are put in order per 접수번호 (export day from the file name, then raw_id), and a
-- version is a run of rows whose content is unchanged from the row before. The first row of the run is
-- kept (its raw_id, file and line) with the count of rows it stands for. An application whose content
-- goes back to an earlier one (접수 -> 보완요청 -> 접수) gets a new version: it changed again.
-- Content = every header column trimmed (absent and empty alike); malformed values become null.
{%- set header = ['접수번호', '사업자등록번호', '상호명', '대표자명', '업종코드', '시도', '시군구',
                  '신청플랫폼', '신청일시', '처리상태', '상시근로자수', '연매출액', '연락처'] %}
{%- set exported_on = try_cast_date(
    "substr(exported_on_digits, 1, 4) || '-' || substr(exported_on_digits, 5, 2) || '-' || substr(exported_on_digits, 7, 2)"
) %}
{%- set thousands = "'^[+-]?[0-9]{1,3}(,[0-9]{3})+(\\.[0-9]*)?$'" %}
with

source as (

    select * from {{ stageable_rows('sbiz24', 'sbiz24_o2o_applications') }} as landed

),

renamed as (

    select
        ---------- ids
        raw_id,
        load_id,
        record_hash,
        source_file,
        line_no,
        {{ json_text('record', '접수번호') }} as application_id,

        ---------- status (처리상태: 접수 / 보완요청 / 취소)
        {{ json_text('record', '처리상태') }} as status_ko,
        case replace({{ json_text('record', '처리상태') }}, ' ', '')
            when '접수' then 'submitted'
            when '보완요청' then 'supplement_requested'
            when '취소' then 'withdrawn'
        end as status,

        ---------- timestamps (신청일시 is KST without an offset)
        {{ try_cast_timestamptz(json_text('record', '신청일시')) }} as submitted_at,
        {{ json_text('record', '신청일시') }} as submitted_at_text,

        ---------- business identity (personal data: kept out of marts)
        {{ normalize_brn(json_text('record', '사업자등록번호')) }} as brn,
        {{ json_text('record', '사업자등록번호') }} as brn_text,
        {{ brn_is_valid(json_text('record', '사업자등록번호')) }} as brn_is_valid,
        {{ json_text('record', '상호명') }} as business_name,
        {{ json_text('record', '대표자명') }} as representative_name,

        ---------- industry and size (amounts with thousand separators are read too)
        {{ json_text('record', '업종코드') }} as ksic_code,
        {{ try_cast_amount(json_text('record', '상시근로자수')) }} as employees,
        {{ try_cast_amount(
            "case when " ~ json_text('record', '연매출액') ~ " ~ " ~ thousands
            ~ " then replace(" ~ json_text('record', '연매출액') ~ ", ',', '') else "
            ~ json_text('record', '연매출액') ~ " end"
        ) }} as annual_revenue_krw,

        ---------- location and contact (personal data: kept out of marts)
        {{ json_text('record', '시도') }} as sido,
        {{ json_text('record', '시군구') }} as sigungu,
        {{ json_text('record', '연락처') }} as phone,

        ---------- channel
        {{ json_text('record', '신청플랫폼') }} as o2o_platform,

        ---------- receipt (the export day is in the file name, o2o_YYYYMMDD.csv)
        substring(source_file from '([0-9]{8})\.[A-Za-z]+$') as exported_on_digits,
        loaded_at as version_received_at,
        jsonb_build_array(
            {%- for key in header %}
            {{ json_text('record', key) }}{{ "," if not loop.last }}
            {%- endfor %}
        )::text as content_key

    from source

),

dated as (

    select
        renamed.*,
        {{ exported_on }} as exported_on,
        -- receipt order: the export day, else (a file name without a date) the KST day it was landed
        coalesce({{ exported_on }}, cast(version_received_at at time zone 'Asia/Seoul' as date)) as received_on
    from renamed

),

changes as (

    select
        dated.*,
        case
            when content_key is not distinct from lag(content_key) over received_order then 0
            else 1
        end as starts_version
    from dated
    window received_order as (partition by application_id order by received_on, raw_id)

),

numbered as (

    select
        changes.*,
        sum(starts_version) over (
            partition by application_id
            order by received_on, raw_id
            rows between unbounded preceding and current row
        ) as version_no
    from changes

),

counted as (

    select
        numbered.*,
        count(*) over (partition by application_id, version_no) as times_received,
        {{ raw_ids_over('partition by application_id, version_no') }} as raw_ids
    from numbered

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

    from counted
    where starts_version = 1

)

select * from final
