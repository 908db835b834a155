{#-
    Row-level quarantine: the raw rows that cannot be typed as a record of their source.

    `quarantine_rules(table_name)` is the one definition per raw table: an ordered list of rules, each
    {code, field, when, value, releasable}, written over the raw table's own columns (record, and the
    portal's application_id / updated_at_text, source_file, ...) and record_text (record::text, computed
    once per row by `with_record_text`). The first rule whose `when` holds is the row's reason. Staging reads `stageable_rows(...)` (reason null) and quarantine.quarantined_rows
    lists the others with `quarantine_case(..., 'code' / 'field' / 'value')`: both are generated from the
    same list, so they can never disagree, and every accepted raw row is in exactly one of them.

    What is NOT a quarantine reason: a value the applicant must be told about (a BRN with a wrong
    check digit, an impossible submission time, an unknown programme) is typed to null and judged by
    eligibility with its reason code (BRN_INVALID, SUBMITTED_AT_INVALID, PROGRAM_UNKNOWN, ...).
    The texts of the codes are in quarantine_reason_texts(); docs/operations.md explains how to look
    at and release or dismiss a row (ops.quarantine_decisions).
-#}

{#- Whether the text `expr` (a record as jsonb text) holds a control character. jsonb writes U+0001-U+001F
    as \b, \f or \u00XX after an odd number of backslashes (tab, line feed and carriage return, which
    text may hold, as \t \n \r: not matched), and DEL, C1 controls (U+0080-U+009F: mojibake of a wrong
    decoding) and U+FFFD (the loader's stand-in for NUL, or text broken upstream) as themselves. The
    escape regex runs only on text with a backslash (rare in these sources; strpos is cheap). -#}
{% macro _has_control_character(expr) -%}
    {%- set escaped -%}
(^|[^\\])(\\\\)*\\(u00[01][0-9a-f]|[bf])
    {%- endset -%}
    ({{ expr }} ~ '[\u007f-\u009f\ufffd]' or (strpos({{ expr }}, '\') > 0 and {{ expr }} ~ '{{ escaped }}'))
{%- endmacro %}

{#- A record value as trimmed text, '' -> null (as json_text, for a top-level key). -#}
{% macro _q_text(key) -%}
    {{ json_text('record', key) }}
{%- endmacro %}

{#- The shape of a BRN with its digits hidden (as the landing gate shows it): the number is personal data. -#}
{% macro _q_brn_shape(expr) -%}
    regexp_replace(regexp_replace(coalesce({{ expr }}, ''), '[[:space:]\u00a0\u3000.\u2010\u2011\u2012\u2013\u2014\u2015\uff0d-]', '', 'g'), '[0-9]', '9', 'g')
{%- endmacro %}

{#- An id the extracts publish and other sources join on: a printable token, 1-64 characters. -#}
{% macro _q_id_is_malformed(expr) -%}
    (({{ expr }}) !~ '^[0-9A-Za-z][0-9A-Za-z._-]*$' or length({{ expr }}) > 64)
{%- endmacro %}

{#- A 'YYYY-MM-DD' text (trimmed, '' as none) that is present but no real day. -#}
{% macro _q_date_unreadable(key, required=true) -%}
    {%- if required -%}
    {{ try_cast_date(_q_text(key)) }} is null
    {%- else -%}
    ({{ _q_text(key) }} is not null and {{ try_cast_date(_q_text(key)) }} is null)
    {%- endif -%}
{%- endmacro %}

{#- One rule: `field` names the offending field (or `field_sql` computes it), `value` is SQL for what
    is shown of it (no more personal data than needed), `releasable` whether a person may let the row
    into staging as it is (ops.quarantine_decisions). -#}
{% macro _q_rule(code, field, when, value='null', releasable=false, field_sql=none) -%}
    {{ return({'code': code, 'field_name': field, 'field': field_sql or ("'" ~ field ~ "'"), 'when': when, 'value': value, 'releasable': releasable}) }}
{%- endmacro %}

{% macro _q_date_rule(key, required=true) -%}
    {{ return(_q_rule('DATE_UNREADABLE', key, _q_date_unreadable(key, required), 'left(' ~ _q_text(key) ~ ', 40)')) }}
{%- endmacro %}

{#- Reference lists and completions are keyed by BRN: a row whose BRN does not normalise to 10 digits
    refers to no business (a wrong check digit still matches, and is left to eligibility). -#}
{% macro _q_brn_rule(key='brn') -%}
    {{ return(_q_rule('BRN_UNREADABLE', key, normalize_brn(_q_text(key)) ~ ' is null', _q_brn_shape(_q_text(key)))) }}
{%- endmacro %}

{#- The portal's application id: the column the loader copied, else the record's. -#}
{% macro portal_application_id() -%}
    coalesce(nullif(btrim(application_id), ''), {{ json_text('record', 'application_id') }})
{%- endmacro %}

{#- The portal's version clock as text: the column the loader copied out of the record (when it was a
    string; cheaper than reading the record again in every part of the cast), else the record's. -#}
{% macro portal_updated_at_text() -%}
    coalesce(nullif(btrim(updated_at_text), ''), {{ json_text('record', 'updated_at') }})
{%- endmacro %}

{#- A 소담스퀘어 cell as staff typed it, trimmed: runs of spaces, no-break and ideographic spaces -> one
    space, zero-width characters dropped, Hangul composed (NFC: a name typed on a Mac arrives decomposed,
    and the application id hashes the name). -#}
{% macro kakao_text(key) -%}
    nullif(btrim(regexp_replace(
        normalize(replace(replace(replace(replace(record ->> '{{ key }}', U&'\200B', ''), U&'\200C', ''), U&'\200D', ''), U&'\FEFF', ''), NFC),
        '[\s\u00a0\u3000]+', ' ', 'g'
    )), '')
{%- endmacro %}

{#- The 소담스퀘어 site: the workbook name's prefix (<site>_YYYYMMDD.xlsx), lower-cased. -#}
{% macro kakao_site_code() -%}
    substring(lower(regexp_replace(source_file, '^.*[/\\]', '')) from '^(.+)_[0-9]{8}\.xlsx?$')
{%- endmacro %}

{% macro quarantine_rules(table_name) -%}
    {%- set first = [
        _q_rule('RECORD_NOT_OBJECT', 'record', "jsonb_typeof(record) <> 'object'", 'jsonb_typeof(record)'),
        _q_rule('RECORD_TOO_LARGE', 'record', 'octet_length(record_text) > 65536',
            "octet_length(record_text) || ' bytes'",
            field_sql="coalesce((select e.key from jsonb_each(record) as e order by octet_length(e.value::text) desc limit 1), 'record')"),
    ] -%}
    {%- set last = [
        _q_rule('CONTROL_CHARACTER', 'record', _has_control_character('record_text'),
            "(select case when found ~ '^[\\\\]' then found else 'U+' || upper(lpad(to_hex(ascii(found)), 4, '0')) end"
                ~ " from (select substring(record_text from '(\\\\(u00[01][0-9a-f]|[bf])|[\\u007f-\\u009f\\ufffd])') as found) as f)",
            releasable=true,
            field_sql="coalesce((select e.key from jsonb_each(record) as e where " ~ _has_control_character('e.value::text') ~ " limit 1), 'record')"),
    ] -%}
    {%- set status_sbiz24 = "replace(" ~ _q_text('처리상태') ~ ", ' ', '')" -%}
    {%- set round_id = _q_text('round_id') -%}
    {%- set score = try_cast_numeric(_q_text('score')) -%}
    {%- set criterion = 'lower(' ~ _q_text('criterion') ~ ')' -%}
    {%- set rules = {
        'portal_applications': [
            _q_rule('APPLICATION_ID_MISSING', 'application_id', portal_application_id() ~ ' is null'),
            _q_rule('APPLICATION_ID_MALFORMED', 'application_id', _q_id_is_malformed(portal_application_id()),
                'left(' ~ portal_application_id() ~ ', 40)'),
            _q_rule('UPDATED_AT_UNREADABLE', 'updated_at', try_cast_timestamptz(portal_updated_at_text()) ~ ' is null',
                'left(' ~ portal_updated_at_text() ~ ', 40)'),
            _q_rule('STATUS_UNKNOWN', 'status',
                "coalesce(lower(" ~ _q_text('status') ~ ") not in ('submitted', 'supplement_requested', 'supplemented', 'withdrawn'), true)",
                'left(' ~ _q_text('status') ~ ', 40)'),
        ],
        'sbiz24_o2o_applications': [
            _q_rule('APPLICATION_ID_MISSING', '접수번호', _q_text('접수번호') ~ ' is null'),
            _q_rule('APPLICATION_ID_MALFORMED', '접수번호', _q_id_is_malformed(_q_text('접수번호')),
                'left(' ~ _q_text('접수번호') ~ ', 40)'),
            _q_rule('STATUS_UNKNOWN', '처리상태',
                'coalesce(' ~ status_sbiz24 ~ " not in ('접수', '보완요청', '취소'), true)",
                'left(' ~ _q_text('처리상태') ~ ', 40)'),
        ],
        'kakao_applications': [
            _q_rule('SITE_UNKNOWN', 'source_file', kakao_site_code() ~ ' is null', 'left(source_file, 80)'),
            _q_rule('BLANK_ROW', 'record',
                'coalesce(' ~ kakao_text('신청일시') ~ ', ' ~ kakao_text('사업자등록번호') ~ ', ' ~ kakao_text('상호')
                ~ ', ' ~ kakao_text('대표자명') ~ ', ' ~ kakao_text('연락처') ~ ', ' ~ kakao_text('지역')
                ~ ', ' ~ kakao_text('희망프로그램') ~ ', ' ~ kakao_text('개인정보동의') ~ ') is null'),
            _q_rule('APPLICANT_UNIDENTIFIABLE', '사업자등록번호',
                normalize_brn("replace(" ~ kakao_text('사업자등록번호') ~ ", '.', '')") ~ ' is null and coalesce('
                ~ kakao_text('상호') ~ ', ' ~ kakao_text('대표자명') ~ ", nullif(regexp_replace("
                ~ kakao_text('연락처') ~ ", '[^0-9]', '', 'g'), '')) is null",
                _q_brn_shape(kakao_text('사업자등록번호'))),
        ],
        'edu_completions': [
            _q_brn_rule(),
            _q_rule('COURSE_TYPE_UNKNOWN', 'course_type',
                'coalesce(lower(' ~ _q_text('course_type') ~ ") not in ('elearning', 'digital_univ'), true)",
                'left(' ~ _q_text('course_type') ~ ', 40)'),
            _q_date_rule('completed_on'),
        ],
        'evaluation_scores': [
            _q_rule('APPLICATION_ID_MISSING', 'application_id', _q_text('application_id') ~ ' is null'),
            _q_rule('APPLICATION_ID_MALFORMED', 'application_id', _q_id_is_malformed(_q_text('application_id')),
                'left(' ~ _q_text('application_id') ~ ', 40)'),
            _q_rule('ROUND_ID_UNREADABLE', 'round_id', 'coalesce(' ~ round_id ~ " !~ '^[0-9]{8}-.+$', true) or "
                ~ try_cast_date("substr(" ~ round_id ~ ", 1, 4) || '-' || substr(" ~ round_id ~ ", 5, 2) || '-' || substr(" ~ round_id ~ ", 7, 2)")
                ~ ' is null', 'left(' ~ round_id ~ ', 40)'),
            _q_rule('REVIEWER_MISSING', 'reviewer_id', _q_text('reviewer_id') ~ ' is null'),
            _q_rule('CRITERION_UNKNOWN', 'criterion',
                'coalesce(' ~ criterion ~ " not in ('product', 'online_readiness', 'growth'), true)",
                'left(' ~ _q_text('criterion') ~ ', 40)'),
            _q_rule('SCORE_NOT_A_NUMBER', 'score', score ~ ' is null', 'left(' ~ _q_text('score') ~ ', 40)'),
            _q_rule('SCORE_OUT_OF_RANGE', 'score',
                score ~ ' < 0 or ' ~ score ~ ' > case ' ~ criterion ~ " when 'product' then 40 else 30 end or "
                ~ score ~ ' > coalesce(' ~ try_cast_numeric(_q_text('max_score')) ~ ', 100)',
                'left(' ~ _q_text('score') ~ ', 40)'),
        ],
        'nts_status_answers': [
            _q_rule('STATUS_UNKNOWN', 'b_stt_cd',
                'coalesce(' ~ json_text('record', 'b_stt_cd') ~ ", '') not in ('', '01', '02', '03')",
                'left(' ~ _q_text('b_stt_cd') ~ ', 40)'),
        ],
        'reference_credit_checks': [_q_brn_rule(), _q_date_rule('checked_on')],
        'reference_fair_trade_violations': [_q_brn_rule(), _q_date_rule('decided_on')],
        'reference_certifications': [
            _q_brn_rule(), _q_date_rule('valid_from'), _q_date_rule('valid_to', required=false),
        ],
        'reference_mail_order_registry': [
            _q_brn_rule(),
            _q_date_rule('registered_on'),
            _q_rule('STATUS_UNKNOWN', 'status',
                "coalesce(replace(" ~ _q_text('status') ~ ", ' ', '') not in ('정상영업', '휴업', '폐업'), true)",
                'left(' ~ _q_text('status') ~ ', 40)'),
        ],
        'reference_onnuri_listings': [
            _q_brn_rule(), _q_date_rule('listed_from'), _q_date_rule('listed_to', required=false),
        ],
    } -%}
    {%- if table_name not in rules -%}
        {{ exceptions.raise_compiler_error("no quarantine rules for raw table " ~ table_name) }}
    {%- endif -%}
    {{ return(first + rules[table_name] + last) }}
{%- endmacro %}

{#- Every raw table with rules, as (source name, table name): the sources of _*__sources.yml. -#}
{% macro quarantine_tables() -%}
    {{ return([
        ('portal', 'portal_applications'),
        ('sbiz24', 'sbiz24_o2o_applications'),
        ('kakao', 'kakao_applications'),
        ('edu', 'edu_completions'),
        ('evaluation', 'evaluation_scores'),
        ('nts', 'nts_status_answers'),
        ('reference', 'reference_credit_checks'),
        ('reference', 'reference_fair_trade_violations'),
        ('reference', 'reference_certifications'),
        ('reference', 'reference_mail_order_registry'),
        ('reference', 'reference_onnuri_listings'),
    ]) }}
{%- endmacro %}

{#- Whether a person released the row (ops.quarantine_decisions): only releasable reasons give way. -#}
{% macro _q_released(table_name, alias) -%}
    exists (
        select 1 from {{ source('ops', 'quarantine_decisions') }} as decided
        where decided.raw_table = 'raw.{{ table_name }}'
            and decided.raw_id = {{ alias }}.raw_id
            and decided.decision = 'release'
    )
{%- endmacro %}

{#- A CASE over the rules of `table_name`: `what` = 'code' (the reason, null when the row is fine),
    'field' or 'value' (of the first rule that holds). Columns are those of the raw row `alias`. -#}
{% macro quarantine_case(table_name, what='code', alias='landed') -%}
    (case
        {%- for rule in quarantine_rules(table_name) %}
        when ({{ rule.when }}){% if rule.releasable %} and not {{ _q_released(table_name, alias) }}{% endif %}
            then {% if what == 'code' %}'{{ rule.code }}'{% elif what == 'field' %}{{ rule.field }}{% else %}cast({{ rule.value }} as text){% endif %}
        {%- endfor %}
    end)
{%- endmacro %}

{#- The accepted rows of a raw table (accepted_rows) with record_text, record::text computed once per row
    (offset 0 keeps the planner from inlining it into every rule that reads it). -#}
{% macro with_record_text(source_name, table_name, increment=none) -%}
    (
        select accepted.*, accepted.record::text as record_text
        from {{ accepted_rows(source_name, table_name, increment) }} as accepted
        offset 0
    )
{%- endmacro %}

{#- The raw rows a collapsed staging row stands for, as a jsonb array in raw_id order: `window` is the
    window of the rows it collapses (a partition, or a named window without ordering). The transformed
    gate reconciles each load by them: raw rows = staged rows + quarantined rows. -#}
{% macro raw_ids_over(window) -%}
    jsonb_agg(raw_id) over ({{ window }} order by raw_id rows between unbounded preceding and unbounded following)
{%- endmacro %}

{#- The rows of a raw table staging may read: accepted loads (accepted_rows) and no quarantine reason.
    (They carry record_text too; staging models select their columns by name.) -#}
{% macro stageable_rows(source_name, table_name) -%}
    (
        select screened.*
        from {{ with_record_text(source_name, table_name) }} as screened
        where {{ quarantine_case(table_name, 'code', 'screened') }} is null
    )
{%- endmacro %}

{#- Code -> (Korean, English) text of every quarantine reason. -#}
{% macro quarantine_reason_texts() -%}
    {{ return({
        'RECORD_NOT_OBJECT': ('레코드가 JSON 객체가 아님', 'the record is not a JSON object (a list, a string, a number or null)'),
        'RECORD_TOO_LARGE': ('레코드가 64 KiB를 넘음 (깨진 내보내기 또는 공격)', 'the record is over 64 KiB of text: a broken export or an attack, no field of any source is that long'),
        'CONTROL_CHARACTER': ('제어 문자(NUL 포함) 또는 깨진 문자(U+FFFD)가 있음', 'text holds control characters (NUL is stored as U+FFFD) or characters broken by a wrong decoding'),
        'APPLICATION_ID_MISSING': ('신청번호(접수번호)가 없음', 'no application id: the row belongs to no application'),
        'APPLICATION_ID_MALFORMED': ('신청번호 형식이 아님 (영문·숫자·-_. 1~64자)', 'the application id is not a printable token of 1-64 letters, digits and -_.'),
        'UPDATED_AT_UNREADABLE': ('변경일시를 읽을 수 없어 버전 순서를 정할 수 없음', 'the version time (updated_at) is missing or not ISO-8601: the version cannot be ordered'),
        'STATUS_UNKNOWN': ('상태 코드가 계약에 없음', 'the status code is missing or not one the contract names'),
        'SITE_UNKNOWN': ('파일 이름에서 소담스퀘어 거점을 알 수 없음 (<거점>_YYYYMMDD.xlsx)', 'the workbook name does not give the site (<site>_YYYYMMDD.xlsx)'),
        'BLANK_ROW': ('빈 행', 'a blank row (spaces only)'),
        'APPLICANT_UNIDENTIFIABLE': ('사업자등록번호도 상호·대표자명·연락처도 없어 신청자를 알 수 없음', 'neither a 10-digit BRN nor a name, representative or phone: the applicant cannot be identified'),
        'BRN_UNREADABLE': ('사업자등록번호가 10자리 숫자가 아니어서 사업자를 알 수 없음', 'the BRN is not 10 digits: the row refers to no business'),
        'COURSE_TYPE_UNKNOWN': ('과정 구분이 elearning / digital_univ가 아님', 'the course type is missing or not elearning / digital_univ'),
        'DATE_UNREADABLE': ('날짜를 읽을 수 없음 (YYYY-MM-DD 실재하는 날)', 'a date the row needs is missing or not a real YYYY-MM-DD day'),
        'ROUND_ID_UNREADABLE': ('평가 회차 번호가 YYYYMMDD-세부사업 형식이 아님', 'the round id is not YYYYMMDD-<programme> with a real day'),
        'REVIEWER_MISSING': ('심사위원 번호가 없음', 'no reviewer id'),
        'CRITERION_UNKNOWN': ('평가 항목이 product / online_readiness / growth가 아님', 'the criterion is not product / online_readiness / growth'),
        'SCORE_NOT_A_NUMBER': ('점수가 숫자가 아님', 'the score is missing or not a number'),
        'SCORE_OUT_OF_RANGE': ('점수가 0점 미만이거나 배점(40/30/30)을 넘음', 'the score is negative or above the criterion''s points (40/30/30) or max_score'),
    }) }}
{%- endmacro %}

{#- quarantine_holds' increment for one raw table: above what it screened, up to the bound of this build
    (ops.quarantine_screening; raw_rows_not_read). -#}
{% macro quarantine_screening_increment(table_name) -%}
    {%- set screening = source('ops', 'quarantine_screening') -%}
    {%- set of_table = "where raw_table = 'raw." ~ table_name ~ "'" -%}
    {{ return({
        'after': '(select coalesce(max(screened_through), 0) from ' ~ screening ~ ' ' ~ of_table ~ ')',
        'through': '(select coalesce(max(screening_through), 0) from ' ~ screening ~ ' ' ~ of_table ~ ')',
        'this_rows': "staged.raw_table = 'raw." ~ table_name ~ "'",
    }) }}
{%- endmacro %}

{#- quarantine_holds' pre-hook: the last raw_id of each raw table as its build starts, in its transaction.
    Rows landed later are screened by the next build. -#}
{% macro quarantine_screening_bounds() -%}
    insert into {{ source('ops', 'quarantine_screening') }} (raw_table, screening_through)
    {%- for source_name, table_name in quarantine_tables() %}
    select 'raw.{{ table_name }}', coalesce((select max(raw_id) from {{ source(source_name, table_name) }}), 0)
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    on conflict (raw_table) do update set screening_through = excluded.screening_through
{%- endmacro %}

{#- quarantine_holds' post-hook: a row a person released is staged now, no longer held. -#}
{% macro delete_released_holds() -%}
    delete from {{ this }} as held
    using {{ source('ops', 'quarantine_decisions') }} as decided
    where decided.raw_table = held.raw_table
        and decided.raw_id = held.raw_id
        and decided.decision = 'release'
{%- endmacro %}
