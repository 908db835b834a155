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

{#- Pre-hook of a fold that reads one staging model. It empties the table, so the build reads every
    staged row again, unless the rows it holds are still what a full build would give for the rows they
    read (start_over_unless_read_forward), and no staged row landed since is `late`: late_when, a SQL
    condition on `late` (a row staged after state.raw_id), `state` (day, raw_id: how far the table has
    read) and `staged` (the staging model). The rows landed since are found by the staging model's raw_id
    index: the rows of the day, not the history. -#}
{% macro start_over_unless_new_rows_follow(staging_model, source_name, table_name, late_when) -%}
    {{ start_over_unless_read_forward(
        staged_rows_context(staging_model, source_name, table_name),
        follows="not exists (select 1 from staged as late where late.raw_id > state.raw_id and (" ~ late_when ~ "))",
        staged=ref(staging_model),
    ) }}
{%- endmacro %}

{#- Pre-hook of a fold. It empties the table, so the build reads every staged row again, unless:
    - the round day is not before the last day read (a backfill judges what that earlier day knew);
    - the rows were read under the same `context` (an md5 SQL expression: staged_rows_context of each
      staging model read, so the same code and the same refused, accepted and released loads and rows);
    - `follows` holds: a SQL condition on `state` (day: the largest read_through_day held) and, when
      `staged` is given, on `staged` (that relation) and state.raw_id (the largest read_through_raw_id). -#}
{% macro start_over_unless_read_forward(context, follows='true', staged=none) -%}
    {%- set kept = false -%}
    {%- if execute and is_incremental() -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- if 'read_through_day' not in columns -%}
            {{ exceptions.raise_compiler_error(
                this ~ " was built before it was incremental (it has no read_through_day): run"
                ~ " `panro rebuild-staging` once (docs/operations.md)") }}
        {%- endif -%}
        {#- Every row holds the same context (a change of it starts over): one row says it. -#}
        {%- set check -%}
            with state as (
                select
                    (select max(read_through_day) from {{ this }}) as day,
                    {%- if staged is not none %}
                    (select max(read_through_raw_id) from {{ this }}) as raw_id,
                    {%- endif %}
                    (select context_fingerprint = {{ context }} from {{ this }} limit 1) as same_context
            )
            {%- if staged is not none %},

            staged as not materialized (select * from {{ staged }})
            {%- endif %}

            select coalesce(state.same_context and {{ round_date() }} >= state.day and ({{ follows }}), false)
            from state
        {%- endset -%}
        {%- set kept = run_query(check).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if kept or not (execute and is_incremental()) -%} select 1 {%- else -%} truncate {{ this }} {%- endif -%}
{%- endmacro %}

{#- Post-hook of every intermediate model. A table built whole is analyzed for the models that join it.
    An incremental one (the folds, the stored eligibility checks) changes a few rows a day, which
    autovacuum's own analyze follows: analyzing it every build read a sample of the whole table again
    (1.5 s a day for the current versions at 200,000 applications). It is analyzed here only until it
    has statistics (its first build with rows). A view has none of its own. -#}
{% macro analyze_unless_incremental() -%}
    {%- if model.config.materialized == 'view' -%}
        select 1
    {%- elif model.config.materialized == 'incremental' -%}
        do $$ begin
            if not exists (
                select 1 from pg_stats where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
            ) then
                execute 'analyze {{ this }}';
            end if;
        end $$
    {%- else -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
