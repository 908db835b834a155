{#-
    The rows of a raw table that staging may read: every load but those the landing gate refused and
    nobody accepted (ops.rejected_loads). Raw keeps refused loads (it is never changed); they reach the
    models once accepted (`panro accept-load`). Use as a relation: `from {{ accepted_rows('portal',
    'portal_applications') }} as landed`.
-#}
{% macro accepted_rows(source_name, table_name) -%}
    (
        select landed.*
        from {{ source(source_name, table_name) }} as landed
        where not exists (
            select 1
            from {{ source('ops', 'rejected_loads') }} as rejected
            where rejected.load_id = landed.load_id
        )
    )
{%- endmacro %}
