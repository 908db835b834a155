{#- The columns of int_applications_current in their order, with the type a channel that does not carry
    a column gets (null). The fold int_applications_current_folded stores them all but the round day
    (as_of_round_date), which the view adds; the channel columns come after the foundation columns,
    which keep their order. -#}
{% macro current_application_columns() -%}
    {{ return([
        ('raw_id', 'bigint'), ('load_id', 'text'), ('record_hash', 'text'),
        ('application_id', 'text'), ('program_code', 'text'), ('track_code', 'text'),
        ('status', 'text'), ('is_withdrawn', 'boolean'),
        ('submitted_at', 'timestamptz'), ('submitted_at_text', 'text'), ('updated_at', 'timestamptz'),
        ('brn', 'text'), ('brn_text', 'text'), ('brn_is_valid', 'boolean'), ('corporate_no', 'text'),
        ('business_name', 'text'), ('representative_name', 'text'), ('business_type', 'text'), ('opened_on', 'date'),
        ('ksic_code', 'text'), ('ksic_revision', 'integer'), ('employees', 'numeric'), ('annual_revenue_krw', 'numeric'),
        ('sido', 'text'), ('sigungu', 'text'), ('address', 'text'), ('phone', 'text'), ('email', 'text'),
        ('has_own_mall', 'boolean'), ('own_mall_url', 'text'), ('mail_order_registered', 'boolean'),
        ('mail_order_registered_on', 'date'), ('smartstore_url', 'text'), ('smartstore_opened_on', 'date'),
        ('product_name', 'text'), ('product_category', 'text'), ('is_imported', 'boolean'),
        ('is_large_company_product', 'boolean'), ('unit_price_krw', 'numeric'),
        ('documents', 'jsonb'), ('document_uploads', 'jsonb'), ('bonus_claims', 'jsonb'), ('program_answers', 'jsonb'),
        ('consent_privacy', 'boolean'), ('consent_third_party', 'boolean'),
        ('versions_as_of_round', 'integer'), ('as_of_round_date', 'date'),
        ('channel', 'text'), ('site_code', 'text'), ('o2o_platform', 'text'), ('submitted_at_is_date_only', 'boolean'),
    ]) }}
{%- endmacro %}

{#- What the current versions were read under (the fold's context_fingerprint), an md5 SQL expression:
    staged_rows_context of each channel's staging model and raw table. -#}
{% macro current_versions_context() -%}
    md5(
        {{ staged_rows_context('stg_portal__applications', 'portal', 'portal_applications') }}
        || {{ staged_rows_context('stg_sbiz24__o2o_applications', 'sbiz24', 'sbiz24_o2o_applications') }}
        || {{ staged_rows_context('stg_kakao__applications', 'kakao', 'kakao_applications') }}
    )
{%- endmacro %}

{#- The day of a file channel's version (stg_sbiz24__o2o_applications): the export day; a file name
    without a date falls back to the KST day it was landed. -#}
{% macro sbiz24_version_on(versions) -%}
    coalesce({{ versions }}.exported_on, cast({{ versions }}.version_received_at at time zone 'Asia/Seoul' as date))
{%- endmacro %}

{#- The day of a 소담스퀘어 version (stg_kakao__applications): the workbook's day, else the KST day it was
    landed. -#}
{% macro kakao_version_on(versions) -%}
    coalesce({{ versions }}.workbook_date, cast({{ versions }}.version_received_at at time zone 'Asia/Seoul' as date))
{%- endmacro %}

{#- The models that judge the current applications as a fold of int_applications_current_folded
    (int_application_documents_validated, int_applications_sized) judge again only the applications whose
    current version was written since they last read, and keep the others' rows. Each row stores its
    channel, how far it read (read_through_day, read_through_raw_id: the current versions' fold's largest
    read_through_raw_id of its channel) and what it was judged under (context_fingerprint). -#}

{#- How far a fold of the applications (the current versions' fold or one of the models above) has read:
    the last round day, each channel's last raw_id, and for each of the `lists` it also reads by number
    ((staging model, source, raw table); macro applications_to_judge_again) the last raw_id of that list
    (<raw table>_raw_id). The body of its `state` CTE; read off the fold's indexes on read_through_day
    and (channel, read_through_raw_id) (applications_fold_indexes). -#}
{% macro applications_fold_state(lists=[]) -%}
    select
        coalesce((select max(read_through_day) from {{ this }}), date '-infinity') as day,
        {%- for channel in ['portal', 'sbiz24', 'kakao'] %}
        coalesce(
            (select max(read_through_raw_id) from {{ this }} where channel = '{{ channel }}'), 0
        ) as {{ channel }}_raw_id{{ ',' if not loop.last or lists }}
        {%- endfor %}
        {%- for staging_model, source_name, table_name in lists %}
        coalesce((select max({{ table_name }}_read_through_raw_id) from {{ this }}), 0)
            as {{ table_name }}_raw_id{{ ',' if not loop.last }}
        {%- endfor %}
{%- endmacro %}

{#- The applications whose current version was written since `state` (by the current versions' fold's
    read_through indexes: the state's values are parameters of the scans, not a join). -#}
{% macro current_versions_written_since(state) -%}
    select current_versions.application_id
    from {{ ref('int_applications_current_folded') }} as current_versions
    where current_versions.read_through_day > (select day from {{ state }})
        {%- for channel in ['portal', 'sbiz24', 'kakao'] %}
        or (
            current_versions.channel = '{{ channel }}'
            and current_versions.read_through_raw_id > (select {{ channel }}_raw_id from {{ state }})
        )
        {%- endfor %}
{%- endmacro %}

{#- The applications a fold of the current versions judges again: those whose current version was
    written since `state`; those whose number (the fold's brn, indexed) has rows staged since in one of
    the `lists` it reads by number (each (staging model, source, raw table); the fold stores how far it
    read each as <raw table>_read_through_raw_id: lists_read_through); and, with `changes_on`, those whose
    judgement changes by the round day (the fold's changes_on, indexed). -#}
{% macro applications_to_judge_again(state, lists=[], changes_on=false) -%}
    {{ current_versions_written_since(state) }}
    {%- if lists %}
    union
    select application_id from {{ this }}
    where brn in (
        {%- for staging_model, source_name, table_name in lists %}
        select staged.brn from {{ ref(staging_model) }} as staged
        where staged.raw_id > (select {{ table_name }}_raw_id from {{ state }})
        {{- ' union all' if not loop.last }}
        {%- endfor %}
    )
    {%- endif %}
    {%- if changes_on %}
    union
    select application_id from {{ this }}
    where changes_on <= {{ round_date() }}
    {%- endif %}
{%- endmacro %}

{#- The columns that say how far a fold read each of its `lists` (applications_to_judge_again): the
    staging model's last raw_id, by its unique index. -#}
{% macro lists_read_through(lists) -%}
    {%- for staging_model, source_name, table_name in lists %}
    (select max(staged.raw_id) from {{ ref(staging_model) }} as staged)
        as {{ table_name }}_read_through_raw_id{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The indexes of a fold of the applications: its key, and how far each row read (applications_fold_state,
    current_versions_written_since). -#}
{% macro applications_fold_indexes() -%}
    {{ return([
        {'columns': ['application_id'], 'unique': True},
        {'columns': ['read_through_day']},
        {'columns': ['channel', 'read_through_raw_id']},
    ]) }}
{%- endmacro %}

{#- How far each channel's current versions were written when read (by the fold's index): channel,
    read_through_raw_id. -#}
{% macro current_versions_read() -%}
    select
        channels.channel,
        (
            select max(current_versions.read_through_raw_id)
            from {{ ref('int_applications_current_folded') }} as current_versions
            where current_versions.channel = channels.channel
        ) as read_through_raw_id
    from (values ('portal'), ('sbiz24'), ('kakao')) as channels (channel)
{%- endmacro %}

{#- What such a fold's rows were judged under, as an md5 literal: the model's code, the rows of the
    `seeds_in_force` in force on the round day and of the other `seeds`, what the other staging models it
    reads were read under (`staged`: (staging model, source, raw table) for staged_rows_context), and
    what the current versions were read under (their fold's context_fingerprint, the same on every row). Read as the model
    compiles, just before it runs (after the current versions' fold): as a literal, not an expression a
    scan would hash again for every row (the size tables' rows are 10 kB). While dbt only parses, and in
    a dbt unit test, ''. -#}
{% macro current_versions_fold_context(seeds_in_force=[], seeds=[], staged=[]) -%}
    {%- if not execute or model.resource_type == 'unit_test' -%}{{ return("''") }}{%- endif -%}
    {%- set found -%}
        select md5(
            '{{ local_md5(model.raw_code) }}'
            {%- for seed in seeds_in_force + seeds %}
            || coalesce((
                select string_agg(cast(row(r.*) as text), ';' order by cast(row(r.*) as text))
                from {{ ref(seed) }} as r
                {%- if seed in seeds_in_force %}
                where {{ in_force_on(round_date(), 'r') }}
                {%- endif %}
            ), '')
            {%- endfor %}
            {%- for staging_model, source_name, table_name in staged %}
            || {{ staged_rows_context(staging_model, source_name, table_name) }}
            {%- endfor %}
            || coalesce((select f.context_fingerprint from {{ ref('int_applications_current_folded') }} as f limit 1), '')
        )
    {%- endset -%}
    '{{ run_query(found).columns[0].values()[0] }}'
{%- endmacro %}

{#- A file channel's versions (sbiz24, kakao) of a day on or before the round day, each with its rank
    from the latest (version_rank 1 is the current one) and the number of them (versions_as_of_round).
    In an incremental build, only the applications in `changed`. -#}
{% macro file_versions_as_of_round(staging_model, version_on) -%}
    select
        stg.*,
        {{ version_on }} as version_on,
        row_number() over (partition by stg.application_id order by stg.version_no desc) as version_rank,
        count(*) over (partition by stg.application_id) as versions_as_of_round
    from {{ ref(staging_model) }} as stg
    where stg.application_id is not null
        and {{ version_on }} <= {{ round_date() }}
        {%- if is_incremental() %}
        and stg.application_id in (select changed.application_id from changed)
        {%- endif %}
{%- endmacro %}

{#- The lists that back a bonus claim (int_bonus_claims_verified), each (staging model, source, raw table):
    a row staged in one of them later makes the claims of its number judged again. -#}
{% macro bonus_evidence_lists() -%}
    {{ return([
        ['stg_edu__completions', 'edu', 'edu_completions'],
        ['stg_reference__onnuri_listings', 'reference', 'reference_onnuri_listings'],
        ['stg_reference__certifications', 'reference', 'reference_certifications'],
        ['stg_reference__mail_order_registry', 'reference', 'reference_mail_order_registry'],
    ]) }}
{%- endmacro %}
