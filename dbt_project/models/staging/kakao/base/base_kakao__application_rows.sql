-- One row per received row of a 소담스퀘어 KakaoTalk-channel workbook (raw.kakao_applications), typed:
-- every value trimmed, the BRN read with hyphens, spaces or dots, 신청일시 from the forms staff use,
-- 개인정보동의 from Y/N/동의/미동의, the site from the workbook name, application_id made (see
-- stg_kakao__applications), and the content that decides whether a row starts a new version.
-- Row by row and incremental: typing costs about a millisecond a row (the date forms), so each raw row
-- is typed once, when it lands; stg_kakao__applications collapses these rows into versions.
{%- set workbook_date = try_cast_date(
    "substr(workbook_digits, 1, 4) || '-' || substr(workbook_digits, 5, 2) || '-' || substr(workbook_digits, 7, 2)"
) %}
with

source as (

    select * from {{ stageable_rows('kakao', 'kakao_applications') }} as landed

),

renamed as materialized (  -- typed once per row: the later steps read its columns many times

    select
        ---------- ids
        raw_id,
        load_id,
        record_hash,
        source_file,
        line_no,

        ---------- site and workbook day (from <site>_YYYYMMDD.xlsx)
        {{ kakao_site_code() }} as site_code,
        substring(
            lower(regexp_replace(source_file, '^.*[/\\]', '')) from '_([0-9]{8})\.xlsx?$'
        ) as workbook_digits,
        loaded_at as version_received_at,

        ---------- the row as typed, trimmed
        {{ kakao_text('신청일시') }} as submitted_at_text,
        {{ kakao_text('사업자등록번호') }} as brn_text,
        {{ kakao_text('상호') }} as business_name,
        {{ kakao_text('대표자명') }} as representative_name,
        {{ kakao_text('연락처') }} as phone,
        {{ kakao_text('지역') }} as region,
        {{ kakao_text('희망프로그램') }} as program_wish,
        {{ kakao_text('개인정보동의') }} as consent_privacy_text

    from source

),

parsed as (

    select
        renamed.*,
        {{ workbook_date }} as workbook_date,
        -- 2024.03.05 14:20 / 2024-03-05 14:20 / 2024/3/5 / 2024-03-05T14:20:00 -> 'YYYY-MM-DD[ HH:MI:SS]'
        submitted_parts.parts[1] || '-' || lpad(submitted_parts.parts[2], 2, '0') || '-'
            || lpad(submitted_parts.parts[3], 2, '0')
            || coalesce(
                ' ' || lpad(submitted_parts.parts[4], 2, '0') || ':' || submitted_parts.parts[5] || ':'
                    || coalesce(submitted_parts.parts[6], '00'),
                ''
            ) as submitted_at_canonical,
        submitted_parts.parts is not null and submitted_parts.parts[4] is null as submitted_text_is_date_only,
        -- an Excel serial day number typed as text (45356.597...): days since 1899-12-30
        case
            when submitted_at_text ~ '^[1-9][0-9]{4}(\.[0-9]+)?$' then submitted_at_text::numeric
        end as submitted_excel_serial,
        replace(lower(consent_privacy_text), ' ', '') as consent_privacy_key
    from renamed
    cross join lateral (
        select regexp_match(
            submitted_at_text,
            '^([0-9]{4}) ?[./-] ?([0-9]{1,2}) ?[./-] ?([0-9]{1,2})\.?(?:(?: |T)([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?)?$'
        ) as parts
    ) as submitted_parts

),

typed as (

    select
        parsed.*,
        -- staff also type the BRN with dots (120.81.47521)
        {{ normalize_brn("replace(brn_text, '.', '')") }} as brn,
        {{ brn_is_valid("replace(brn_text, '.', '')") }} as brn_is_valid,
        coalesce(
            -- ISO text, with or without an offset (an Excel date cell arrives so)
            {{ try_cast_timestamptz('submitted_at_text') }},
            -- a date and time typed by hand
            case
                when not submitted_text_is_date_only
                    then {{ try_cast_timestamptz('submitted_at_canonical') }}
            end,
            -- a date alone: 00:00 KST of that day (flagged by submitted_at_is_date_only)
            case
                when submitted_text_is_date_only
                    then cast({{ try_cast_date('submitted_at_canonical') }} as timestamp) at time zone 'Asia/Seoul'
            end,
            case
                when submitted_excel_serial is not null
                    then (
                        timestamp '1899-12-30'
                        + make_interval(secs => cast(round(submitted_excel_serial * 86400) as double precision))
                    ) at time zone 'Asia/Seoul'
            end
        ) as submitted_at,
        coalesce(submitted_text_is_date_only, false)
            or coalesce(submitted_excel_serial = trunc(submitted_excel_serial), false) as submitted_at_is_date_only,
        case
            when consent_privacy_key in ('y', 'yes', 'o', '동의', '동의함', '예', '네', 'true', '1') then true
            when consent_privacy_key in ('n', 'no', 'x', '미동의', '비동의', '동의안함', '거부', '아니오', '아니요', 'false', '0')
                then false
        end as consent_privacy
    from parsed

),

identified as (

    select
        typed.*,
        'KAKAO-' || site_code || '-' || coalesce(
            brn,
            'H' || left(md5(
                coalesce(business_name, '') || '|' || coalesce(representative_name, '') || '|'
                || coalesce(regexp_replace(phone, '[^0-9]', '', 'g'), '')
            ), 12)
        ) as application_id,
        -- what makes a new version: the typed values (2024.03.05 14:20 and 2024-03-05T14:20:00 are equal)
        jsonb_build_array(
            coalesce(cast(submitted_at as text), submitted_at_text),
            coalesce(brn, brn_text),
            business_name,
            representative_name,
            phone,
            region,
            program_wish,
            coalesce(cast(consent_privacy as text), consent_privacy_text)
        )::text as content_key,
        -- receipt order: the workbook day, else (a name without a date) the KST day it was landed
        coalesce(workbook_date, cast(version_received_at at time zone 'Asia/Seoul' as date)) as received_on
    from typed

),

final as (

    select
        ---------- ids
        raw_id,
        load_id,
        record_hash,
        source_file,
        line_no,
        site_code,
        application_id,

        ---------- timestamps
        submitted_at,
        submitted_at_is_date_only,
        submitted_at_text,

        ---------- business identity (personal data)
        brn,
        brn_text,
        brn_is_valid,
        business_name,
        representative_name,

        ---------- location and contact (personal data)
        region,
        phone,

        ---------- request
        program_wish,

        ---------- consents
        consent_privacy,
        consent_privacy_text,

        ---------- receipt and versioning
        workbook_date,
        version_received_at,
        received_on,
        content_key

    from identified

)

select * from final
