{#- A JSON field as trimmed text, '' -> null. path: comma-separated keys, e.g. 'business,brn'.
    Never errors: a missing key, or a scalar or array where an object was expected, gives null. -#}
{% macro json_text(column, path) -%}
    nullif(btrim({{ column }} #>> '{ {{- path -}} }'), '')
{%- endmacro %}

{#- A JSON field kept as jsonb (objects and arrays), JSON null -> SQL null. -#}
{% macro json_value(column, path) -%}
    nullif({{ column }} #> '{ {{- path -}} }', 'null'::jsonb)
{%- endmacro %}
