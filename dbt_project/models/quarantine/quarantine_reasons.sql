-- The catalogue of quarantine reasons (macros/quarantine.sql): one row per rule of each raw table (a
-- code may serve several fields of a table), in the order the rules are tried, with the reason's Korean
-- and English text and whether a person may release such a row as it is.
-- Generated from the same rules the staging filter and quarantined_rows use.
{%- set texts = quarantine_reason_texts() %}
{%- set rows = [] %}
{%- for source_name, table_name in quarantine_tables() %}
    {%- for rule in quarantine_rules(table_name) %}
        {%- if rule.code not in texts %}
            {{ exceptions.raise_compiler_error("quarantine reason " ~ rule.code ~ " has no text in quarantine_reason_texts()") }}
        {%- endif %}
        {%- do rows.append((rule.code, 'raw.' ~ table_name, loop.index, rule.field_name, rule.releasable)) %}
    {%- endfor %}
{%- endfor %}
with

reasons (reason_code, raw_table, rule_order, field, is_releasable, reason_ko, reason_en) as (

    values
    {%- for code, raw_table, rule_order, field, releasable in rows %}
        (
            '{{ code }}',
            '{{ raw_table }}',
            {{ rule_order }},
            '{{ field }}',
            {{ 'true' if releasable else 'false' }},
            {{ "'" ~ (texts[code][0] | replace("'", "''")) ~ "'" }},
            {{ "'" ~ (texts[code][1] | replace("'", "''")) ~ "'" }}
        ){{ "," if not loop.last }}
    {%- endfor %}

)

select
    reason_code,
    raw_table,
    cast(rule_order as integer) as rule_order,
    field,
    is_releasable,
    reason_ko,
    reason_en
from reasons
