{#- What the rows of int_business_statuses_as_of_cutoff were read under, as an md5 literal: its code and
    that of stg_nts__status_answers, and the 국세청 loads refused and accepted and the answers released from
    quarantine (which decide which answers staging holds). Rows read under another are not kept
    (start_over_unless_new_answers_follow). Read as the model compiles, just before it runs: these are a
    few rows of people's decisions, and the gates' verdicts on loads. While dbt only parses, and in a
    dbt unit test (where reading a source would need a fixture), ''. -#}
{% macro status_answers_context() -%}
    {%- if not execute or model.resource_type == 'unit_test' -%}{{ return("''") }}{%- endif -%}
    {%- set staged = graph.get("nodes", {}).get("model.panro.stg_nts__status_answers", {}) -%}
    {%- set answers = source('nts', 'nts_status_answers') -%}
    {%- set found -%}
        select
            coalesce((
                select string_agg(r.load_id, ',' order by r.load_id) from {{ source('ops', 'rejected_loads') }} as r
                where exists (select 1 from {{ answers }} as a where a.load_id = r.load_id)
            ), '')
            || ';' || coalesce((
                select string_agg(l.load_id, ',' order by l.load_id) from {{ source('ops', 'load_acceptances') }} as l
                where exists (select 1 from {{ answers }} as a where a.load_id = l.load_id)
            ), '')
            || ';' || coalesce((
                select string_agg(cast(d.raw_id as text), ',' order by d.raw_id)
                from {{ source('ops', 'quarantine_decisions') }} as d
                where d.raw_table = 'raw.nts_status_answers' and d.decision = 'release'
            ), '')
    {%- endset -%}
    {%- set decisions = run_query(found).columns[0].values()[0] -%}
    '{{ local_md5(model.raw_code ~ staged.get("raw_code", "") ~ decisions) }}'
{%- endmacro %}

{#- Pre-hook of int_business_statuses_as_of_cutoff, which folds only the answers after those it has read
    into the rows it holds. It empties the table, so the build reads every answer again, unless those
    rows are still what a full build would give for the answers they read:
    - the round day is not before the last day read (a backfill judges what that earlier day knew);
    - no staged answer landed since for a day before the last day read (a late load);
    - the rows were read under the same code and the same refused, accepted and released loads and
      answers (status_answers_context).
    The late answers are found by the staging model's raw_id index: the rows landed since, not the
    history. -#}
{% macro start_over_unless_new_answers_follow() -%}
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
                    bool_and(context_fingerprint = {{ status_answers_context() }}) as same_context
                from {{ this }}
            )
            select coalesce(
                state.same_context
                and {{ round_date() }} >= state.day
                and not exists (
                    select 1 from {{ ref('stg_nts__status_answers') }} as late
                    where late.raw_id > state.raw_id and late.asked_on < state.day
                ),
                false
            )
            from state
        {%- endset -%}
        {%- set follow = run_query(check).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if follow or not (execute and is_incremental()) -%} select 1 {%- else -%} truncate {{ this }} {%- endif -%}
{%- endmacro %}
