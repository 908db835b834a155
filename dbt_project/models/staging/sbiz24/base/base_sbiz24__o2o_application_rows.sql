-- One row per received line of a 소상공인24 O2O export (raw.sbiz24_o2o_applications), typed, with the
-- export day and the content that decides whether a line starts a new version (every header column
-- trimmed, absent and empty alike). Row by row and incremental: each raw line is typed once, when it
-- lands; stg_sbiz24__o2o_applications collapses these lines into versions.
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

final as (

    select
        ---------- ids
        raw_id,
        load_id,
        record_hash,
        source_file,
        line_no,
        application_id,

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

        ---------- receipt and versioning
        exported_on,
        received_on,
        version_received_at,
        content_key

    from dated

)

select * from final
