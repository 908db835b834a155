{#-
    The rows of a raw table that staging may read: every load but those the landing gate refused and
    nobody accepted (ops.rejected_loads). Raw keeps refused loads (it is never changed); they reach the
    models once accepted (`panro accept-load`). Use as a relation: `from {{ accepted_rows('portal',
    'portal_applications') }} as landed`.

    In an incremental build (the row-by-row staging models, quarantine_holds) only the raw rows the
    model has not read yet are read: raw_rows_not_read, with `increment` saying how far the model got
    (default: the largest raw_id it holds).
-#}
{% macro accepted_rows(source_name, table_name, increment=none) -%}
    {%- set raw = source(source_name, table_name) -%}
    {%- set not_rejected -%}
        not exists (
            select 1
            from {{ source('ops', 'rejected_loads') }} as rejected
            where rejected.load_id = landed.load_id
        )
    {%- endset -%}
    (
    {#- `this` is none in a dbt unit test, which tests a full build -#}
    {%- if this is not none and is_incremental() %}
        {{ raw_rows_not_read(raw, table_name, not_rejected, increment or {}) }}
    {%- else %}
        select landed.*
        from {{ raw }} as landed
        where {{ not_rejected }}
        {%- if increment and increment.get('through') %}
            and landed.raw_id <= {{ increment['through'] }}
        {%- endif %}
    {%- endif %}
    )
{%- endmacro %}

{#-
    The raw rows an incremental model has not read yet, in two bounded parts:
    - rows landed since its last build: raw_id above `increment.after` (default: the largest raw_id
      of the model's rows, `increment.this_rows` saying which rows stand for this raw table), up to
      `increment.through` when given. Raw is append-only and each raw table has one writer at a time
      (its ingest DAG runs one at a time), so ids commit in order: a row below that id was there at
      the last build.
    - rows landed before it but held back then and let in since: a refused load a person accepted
      (ops.load_acceptances), a quarantined row a person released (ops.quarantine_decisions), when the
      model does not hold them. Those loads and rows are read from the two tables as the model is
      compiled, just before it runs, and written into its SQL: from subqueries the planner could not
      tell there were few or none, and planned a scan of the whole raw table and of the model against
      each other (28 s a day for the score lines at L). None: the part is left out.
    The other way, rows of a load refused after they were read leave in a post-hook
    (delete_rejected_loads). A change of such a model's SQL needs `dbt build --full-refresh`
    (docs/operations.md); the transformed gate's per-load reconciliation (raw = staged + quarantined)
    fails when the models and raw disagree.
-#}
{% macro raw_rows_not_read(raw, table_name, not_rejected, increment) -%}
    {%- set this_rows = increment.get('this_rows', 'true') -%}
    {%- set after -%}
        {{ increment.get('after') or '(select coalesce(max(staged.raw_id), 0) from ' ~ this ~ ' as staged)' }}
    {%- endset -%}
    {%- set let_in = rows_let_in_since(table_name) %}
        select landed.*
        from {{ raw }} as landed
        where landed.raw_id > {{ after }}
        {%- if increment.get('through') %}
            and landed.raw_id <= {{ increment['through'] }}
        {%- endif %}
            and {{ not_rejected }}
    {%- if let_in %}
        union all
        select landed.*
        from {{ raw }} as landed
        where landed.raw_id <= {{ after }}
            and ({{ let_in }})
            and not exists (
                select 1 from {{ this }} as staged where staged.raw_id = landed.raw_id and {{ this_rows }}
            )
            and {{ not_rejected }}
    {%- endif %}
{%- endmacro %}

{#- The condition on `landed` (a row of raw.<table_name>) for the rows let in after they were first
    held back: of a load a person accepted, or released from quarantine by a person; as literals read
    now, or none when there are none. While dbt only parses, the condition as a subquery. -#}
{% macro rows_let_in_since(table_name) -%}
    {%- set acceptances = source('ops', 'load_acceptances') -%}
    {%- set decisions = source('ops', 'quarantine_decisions') -%}
    {%- set released = "decided.raw_table = 'raw." ~ table_name ~ "' and decided.decision = 'release'" -%}
    {%- if not execute -%}
        {{ return('landed.load_id in (select load_id from ' ~ acceptances ~ ') or landed.raw_id in (select decided.raw_id from ' ~ decisions ~ ' as decided where ' ~ released ~ ')') }}
    {%- endif -%}
    {%- set found = run_query(
        "select (select string_agg(quote_literal(load_id), ', ' order by load_id) from " ~ acceptances ~ "),"
        ~ " (select string_agg(cast(decided.raw_id as text), ', ' order by decided.raw_id) from "
        ~ decisions ~ " as decided where " ~ released ~ ")"
    ).rows[0] -%}
    {%- set parts = [] -%}
    {%- if found[0] %}{% do parts.append('landed.load_id in (' ~ found[0] ~ ')') %}{% endif -%}
    {%- if found[1] %}{% do parts.append('landed.raw_id in (' ~ found[1] ~ ')') %}{% endif -%}
    {{ return(parts | join(' or ')) }}
{%- endmacro %}

{#- Post-hook of the incremental models over raw: rows of a load the landing gate refused after they
    were read (a gate rerun) leave, as a full build would leave them out. -#}
{% macro delete_rejected_loads() -%}
    delete from {{ this }}
    where load_id in (select load_id from {{ source('ops', 'rejected_loads') }})
{%- endmacro %}
