-- One row per raw row that cannot be typed as a record of its source, with the first reason that holds
-- (macros/quarantine.sql: the rules staging filters by, so a row is either staged or here, never both
-- nor neither). Only accepted loads: a load the landing gate refused is held whole (ops.rejected_loads).
-- field names the offending field; value shows it only as far as needed (a BRN as its shape, dates and
-- codes cut to 40 characters); the record stays in raw, which this schema's readers are not given.
-- A row a person dismissed (ops.quarantine_decisions) stays listed with is_dismissed, and is no longer
-- reported by the transformed gate; a released row is staged, so it is not here.
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
        from {{ with_record_text(source_name, table_name) }} as landed
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

),

final as (

    select
        ---------- the raw row
        unioned.raw_table,
        unioned.source_name,
        unioned.raw_id,
        unioned.load_id,
        unioned.loaded_at,
        unioned.received_in,
        unioned.line_no,

        ---------- why
        unioned.reason_code,
        reasons.reason_ko,
        reasons.reason_en,
        unioned.field,
        unioned.value,
        reasons.is_releasable,

        ---------- what a person decided
        decided.decision is not distinct from 'dismiss' as is_dismissed,
        decided.decided_by,
        decided.reason as decision_reason,
        decided.decided_at

    from unioned
    left join (
        select distinct raw_table, reason_code, reason_ko, reason_en, is_releasable
        from {{ ref('quarantine_reasons') }}
    ) as reasons
        on reasons.reason_code = unioned.reason_code
        and reasons.raw_table = unioned.raw_table
    left join {{ source('ops', 'quarantine_decisions') }} as decided
        on decided.raw_table = unioned.raw_table
        and decided.raw_id = unioned.raw_id

)

select * from final
