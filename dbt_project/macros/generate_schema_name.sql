{#-
    Use the custom schema name as is (`staging`, `marts`, ...), without dbt's `<target schema>_` prefix:
    the layers are fixed schemas that BI roles and grants name directly.
    A node without a custom schema falls back to the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
