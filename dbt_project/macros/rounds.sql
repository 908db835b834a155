{#- A value that changes with every run: round_date, run_id. panro gives them in the environment,
    PANRO_ROUND_DATE and PANRO_RUN_ID (panro.dbt.run_dbt), not as --vars: dbt parses the whole project
    again whenever --vars differ (4 s a run), and only what read an environment variable when it
    changes. A var given (--vars by hand, a unit test's overrides) comes first. Read only when SQL is
    compiled: parsing does not need the value, so a new day parses no model again. -#}
{% macro run_var(name, default="") -%}
    {%- if not execute -%}{{ return(default) }}{%- endif -%}
    {{- return(var(name) or env_var("PANRO_" ~ (name | upper), "") or default) -}}
{%- endmacro %}

{#- The business day being processed (KST, run_var round_date), as a SQL date literal. It comes from
    outside, so it must be exactly YYYY-MM-DD before it goes into SQL (PostgreSQL then refuses a day
    that does not exist, such as 2024-02-30). -#}
{% macro round_date() -%}
    {%- set value = run_var("round_date") | string -%}
    {%- if execute and not modules.re.fullmatch("[0-9]{4}-[0-9]{2}-[0-9]{2}", value) -%}
        {{ exceptions.raise_compiler_error(
            "round_date must be a date YYYY-MM-DD (the environment's PANRO_ROUND_DATE, or --vars), got '"
            ~ value ~ "'") }}
    {%- endif -%}
    date '{{ value }}'
{%- endmacro %}

{#- The end of the round day in KST as timestamptz: round_date + 1 day at 00:00 +09:00 (exclusive). -#}
{% macro round_end_kst() -%}
    (cast({{ round_date() }} + 1 as timestamp) at time zone 'Asia/Seoul')
{%- endmacro %}

{#- The last, published tie-break of the allocation ranking: md5(allocation_seed || application_id). -#}
{% macro allocation_tiebreak(application_id) -%}
    md5({{ "'" ~ var('allocation_seed') | replace("'", "''") ~ "'" }} || ({{ application_id }}))
{%- endmacro %}

{#- Version label of the eligibility rule set stored with every verdict. Bump it when a rule changes. -#}
{% macro eligibility_rule_version() -%}
    'notice-2024.2'
{%- endmacro %}

{#- A row of a dated rule seed (valid_from, valid_to inclusive; valid_to empty = still in force) applies
    on `day` (a SQL date expression). `alias`: the relation's alias, when the query needs one. -#}
{% macro in_force_on(day, alias=none) -%}
    {%- set p = (alias ~ '.') if alias else '' -%}
    ({{ p }}valid_from <= {{ day }} and ({{ p }}valid_to is null or {{ p }}valid_to >= {{ day }}))
{%- endmacro %}

{#- A value as a SQL string literal (quotes doubled). -#}
{% macro string_literal(value) -%}
    {{ "'" ~ (value | string | replace("'", "''")) ~ "'" }}
{%- endmacro %}

{#- The places selections hold, from the decision ledger `ledger` (a relation): every `selected` event with
    its columns, held_from = its round day and held_until = the round day of the application's
    `withdrawn` event (null while still held). A place is held at the end of day D when
    held_from <= D < held_until. -#}
{% macro places_held(ledger) -%}
    select
        selections.*,
        selections.round_date as held_from,
        withdrawals.round_date as held_until
    from {{ ledger }} as selections
    left join {{ ledger }} as withdrawals
        on selections.application_id = withdrawals.application_id
        and withdrawals.decision = 'withdrawn'
    where selections.decision = 'selected'
{%- endmacro %}
