{#-
    Safe casts: malformed input gives null, never an error, in pure SQL (no plpgsql).
    Each one checks the text (a regular expression, pg_input_is_valid) and only converts it in the
    THEN of a CASE, because PostgreSQL evaluates CASE branches in order while it may reorder AND
    operands (`'2024-02-30'::date` raises an error). Callers trim; the input is any text expression,
    evaluated once per mention, so a macro mentions it as few times as it can.
-#}

{#- Boolean SQL: whether integer expressions y, m, d name a real calendar day. -#}
{% macro calendar_day_is_valid(y, m, d) -%}
    (({{ m }}) between 1 and 12
        and ({{ d }}) between 1 and (
            case ({{ m }})
                when 2 then
                    case when (({{ y }}) % 4 = 0 and ({{ y }}) % 100 <> 0) or ({{ y }}) % 400 = 0
                        then 29 else 28 end
                when 4 then 30
                when 6 then 30
                when 9 then 30
                when 11 then 30
                else 31
            end
        ))
{%- endmacro %}

{#- 'YYYY-MM-DD' naming a real day -> date; anything else (2024-02-30, '2024/03/04 10:15') -> null.
    The shape by regex, the calendar by pg_input_is_valid (never an error; PostgreSQL 16+), which reads
    a four-digit year first as ISO under any DateStyle. `expr` appears three times: the hand-written
    calendar check repeated it a dozen times, and a date parsed out of JSON cost 29 s per 2 million
    score lines (docs/benchmark.md). -#}
{% macro try_cast_date(expr) -%}
    (case
        when ({{ expr }}) ~ '^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}$' and pg_input_is_valid({{ expr }}, 'date')
            then ({{ expr }})::date
    end)
{%- endmacro %}

{#-
    ISO-8601 date and time -> timestamptz: 'YYYY-MM-DD[T ]HH:MI[:SS[.fraction]][Z|+HH[:MI]]'.
    Without an offset the time is read as KST (Asia/Seoul), the time zone of every source.
    A date alone, an impossible day or time, or any other shape -> null.
    Only the `~` operator is used (regexp_match with capture groups is ~100x slower); the parts sit
    at fixed positions once the shape is known. The common API shape takes a cheaper path first.
-#}
{% macro try_cast_timestamptz(expr) -%}
    (case
        {# fast path for the shape the APIs send (seconds, KST offset or Z): the time fields are bounded by
           the regex and pg_input_is_valid checks the calendar day; any other text takes the full checks #}
        when ({{ expr }}) ~ '^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](Z|\+09:00)$'
            and pg_input_is_valid({{ expr }}, 'timestamptz')
            then ({{ expr }})::timestamptz
        when ({{ expr }}) ~ '^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$' then
            case
                when {{ calendar_day_is_valid(
                        "substr((" ~ expr ~ "), 1, 4)::int",
                        "substr((" ~ expr ~ "), 6, 2)::int",
                        "substr((" ~ expr ~ "), 9, 2)::int") }}
                    and substr(({{ expr }}), 12, 2)::int <= 23
                    and substr(({{ expr }}), 15, 2)::int <= 59
                    and ({{ expr }}) !~ '^.{16}:[6-9]'
                    and ({{ expr }}) !~ '[+-]([2-9][0-9]|1[6-9]):?([0-9]{2})?$'
                    and ({{ expr }}) !~ '[+-][0-9]{2}:?[6-9][0-9]$'
                then
                    case
                        when ({{ expr }}) ~ '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$'
                            then ({{ expr }})::timestamptz
                        else replace(({{ expr }}), 'T', ' ')::timestamp at time zone 'Asia/Seoul'
                    end
            end
    end)
{%- endmacro %}

{#- Plain decimal number ('3.5', '-12', '4.12e8') -> numeric; '412,000,000', 'abc', '' -> null. -#}
{% macro try_cast_numeric(expr) -%}
    (case
        when ({{ expr }}) ~ '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$'
            then ({{ expr }})::numeric
    end)
{%- endmacro %}

{#- An amount or a count (employees, revenue, price): a plain decimal number that is not negative ->
    numeric; a negative one, like any malformed one, -> null (eligibility then asks for a review). -#}
{% macro try_cast_amount(expr) -%}
    (case when {{ try_cast_numeric(expr) }} >= 0 then {{ try_cast_numeric(expr) }} end)
{%- endmacro %}

{#- Whole number of at most 9 digits -> integer; anything else -> null. -#}
{% macro try_cast_integer(expr) -%}
    (case when ({{ expr }}) ~ '^[+-]?[0-9]{1,9}$' then ({{ expr }})::integer end)
{%- endmacro %}

{#- true/false, t/f, Y/N, yes/no, 1/0 (any case, trimmed) -> boolean; anything else -> null. -#}
{% macro try_cast_boolean(expr) -%}
    (case lower(btrim({{ expr }}))
        when 'true' then true
        when 't' then true
        when 'y' then true
        when 'yes' then true
        when '1' then true
        when 'false' then false
        when 'f' then false
        when 'n' then false
        when 'no' then false
        when '0' then false
    end)
{%- endmacro %}
