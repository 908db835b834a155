{#- The intermediate models that fold in only the staged rows after those they have read
    (int_business_statuses_as_of_cutoff, int_committee_reviews_totalled; tag folds_staged_rows) keep their
    rows only while those rows are what a full build would give. Each row says how far it read
    (read_through_day: the round day; read_through_raw_id: the staging model's last raw_id) and under what
    (context_fingerprint). -#}

{#- What a fold's rows were read under, as an md5 literal: the model's code and that of the staging model
    it reads, and the loads of its raw table refused and accepted and the rows released from quarantine
    (which decide which rows staging holds). Read as the model compiles, just before it runs: these are a
    few rows of people's decisions, and the gates' verdicts on loads. While dbt only parses, and in a
    dbt unit test (where reading a source would need a fixture), ''. -#}
{% macro staged_rows_context(staging_model, source_name, table_name) -%}
    {%- if not execute or model.resource_type == 'unit_test' -%}{{ return("''") }}{%- endif -%}
    {%- set staged = graph.get("nodes", {}).get("model.panro." ~ staging_model, {}) -%}
    {%- set landed = source(source_name, table_name) -%}
    {%- set found -%}
        select
            coalesce((
                select string_agg(r.load_id, ',' order by r.load_id) from {{ source('ops', 'rejected_loads') }} as r
                where exists (select 1 from {{ landed }} as a where a.load_id = r.load_id)
            ), '')
            || ';' || coalesce((
                select string_agg(l.load_id, ',' order by l.load_id) from {{ source('ops', 'load_acceptances') }} as l
                where exists (select 1 from {{ landed }} as a where a.load_id = l.load_id)
            ), '')
            || ';' || coalesce((
                select string_agg(cast(d.raw_id as text), ',' order by d.raw_id)
                from {{ source('ops', 'quarantine_decisions') }} as d
                where d.raw_table = 'raw.{{ table_name }}' and d.decision = 'release'
            ), '')
    {%- endset -%}
    {%- set decisions = run_query(found).columns[0].values()[0] -%}
    '{{ local_md5(model.raw_code ~ staged.get("raw_code", "") ~ decisions) }}'
{%- endmacro %}

{#- Pre-hook of a fold. It empties the table, so the build reads every staged row again, unless the rows
    it holds are still what a full build would give for the rows they read:
    - the round day is not before the last day read (a backfill judges what that earlier day knew);
    - no staged row landed since is `late`: late_when, a SQL condition on `late` (a row staged after
      state.raw_id), `state` (day, raw_id: how far the table has read) and `staged` (the staging model);
    - the rows were read under the same code and the same refused, accepted and released loads and rows
      (staged_rows_context).
    The rows landed since are found by the staging model's raw_id index: the rows of the day, not the
    history. -#}
{% macro start_over_unless_new_rows_follow(staging_model, source_name, table_name, late_when) -%}
    {%- set follow = false -%}
    {%- if execute and is_incremental() -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- if 'read_through_day' not in columns -%}
            {{ exceptions.raise_compiler_error(
                this ~ " was built before it was incremental (it has no read_through_day): run"
                ~ " `panro rebuild-staging` once (docs/operations.md)") }}
        {%- endif -%}
        {%- set check -%}
            with state as (
                select
                    max(read_through_day) as day,
                    max(read_through_raw_id) as raw_id,
                    bool_and(context_fingerprint = {{ staged_rows_context(staging_model, source_name, table_name) }}) as same_context
                from {{ this }}
            ),

            staged as not materialized (select * from {{ ref(staging_model) }})

            select coalesce(
                state.same_context
                and {{ round_date() }} >= state.day
                and not exists (select 1 from staged as late where late.raw_id > state.raw_id and ({{ late_when }})),
                false
            )
            from state
        {%- endset -%}
        {%- set follow = run_query(check).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if follow or not (execute and is_incremental()) -%} select 1 {%- else -%} truncate {{ this }} {%- endif -%}
{%- endmacro %}
