-- One row per raw row of an accepted load that a quarantine rule holds back, with the first reason that
-- holds (macros/quarantine.sql: the rules staging filters by, so a row is either staged or here, never
-- both nor neither). field names the offending field; value shows it only as far as needed (a BRN as
-- its shape, dates and codes cut to 40 characters); the record stays in raw.
-- Incremental (raw is append-only): a build screens the raw rows above what it screened last time, up to
-- the last raw_id its pre-hook fixed (ops.quarantine_screening), and rows let in since (an accepted load,
-- macro raw_rows_not_read); a row a person released, or a load refused after it was screened, leaves in
-- the post-hook. quarantined_rows adds the reason texts and what a person decided.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['raw_table', 'raw_id'],
    on_schema_change='fail',
    indexes=[{'columns': ['raw_table', 'raw_id'], 'unique': True}],
    pre_hook=["{{ quarantine_screening_bounds() }}"],
    post_hook=[
        "{{ delete_rejected_loads() }}",
        "{{ delete_released_holds() }}",
        "update {{ source('ops', 'quarantine_screening') }} set screened_through = screening_through",
    ],
) }}
with

{% for source_name, table_name in quarantine_tables() %}
{{ table_name }} as (

    select
        'raw.{{ table_name }}' as raw_table,
        '{{ source_name }}' as source_name,
        reasoned.raw_id,
        reasoned.load_id,
        reasoned.loaded_at,
        {%- if table_name == 'portal_applications' %}
        reasoned.source_page as received_in,
        cast(null as integer) as line_no,
        {%- elif table_name == 'nts_status_answers' %}
        'asked on ' || reasoned.asked_on as received_in,
        cast(null as integer) as line_no,
        {%- else %}
        reasoned.source_file as received_in,
        reasoned.line_no,
        {%- endif %}
        reasoned.reason_code,
        {{ quarantine_case(table_name, 'field', 'reasoned') }} as field,
        {{ quarantine_case(table_name, 'value', 'reasoned') }} as value
    from (
        select landed.*, {{ quarantine_case(table_name, 'code', 'landed') }} as reason_code
        from {{ with_record_text(source_name, table_name, quarantine_screening_increment(table_name)) }} as landed
    ) as reasoned
    where reasoned.reason_code is not null

),
{% endfor %}

unioned as (

    {%- for source_name, table_name in quarantine_tables() %}
    select * from {{ table_name }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

)

select * from unioned
