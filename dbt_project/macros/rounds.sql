{#- The business day being processed, var('round_date') (KST), as a SQL date. -#}
{% macro round_date() -%}
    cast('{{ var("round_date") }}' as date)
{%- endmacro %}

{#- The end of the round day in KST as timestamptz: round_date + 1 day at 00:00 +09:00 (exclusive). -#}
{% macro round_end_kst() -%}
    (cast(cast('{{ var("round_date") }}' as date) + 1 as timestamp) at time zone 'Asia/Seoul')
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

{#- A var as a SQL string literal (quotes doubled). -#}
{% macro var_literal(name) -%}
    {{ "'" ~ (var(name) | string | replace("'", "''")) ~ "'" }}
{%- endmacro %}
