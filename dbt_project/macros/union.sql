{#- One select list of a union of sources that carry different columns, in the order of `columns` (a
    list of (name, SQL type)): per column, its expression in `given`, else in `shared`, else the column
    itself when `carried` names it, else a null of its type, so every branch of the union lines up. -#}
{% macro select_union_columns(columns, carried, given, shared={}) -%}
    {%- for name, type in columns %}
        {% if name in given -%}
            {{ given[name] }} as {{ name }}
        {%- elif name in shared -%}
            {{ shared[name] }} as {{ name }}
        {%- elif name in carried -%}
            {{ name }}
        {%- else -%}
            cast(null as {{ type }}) as {{ name }}
        {%- endif %}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
